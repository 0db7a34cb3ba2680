"""Chaos: the demo college sent at a steady rate (plus unchanged grade re-sends) while every process is
SIGKILLed and restarted, the broker and PostgreSQL are stopped and started, and Zoho answers 429/500/timeouts
and expires its tokens. Afterwards the system holds exactly what the generator expects, as in the end-to-end
test, and every acknowledged webhook is accounted for.

`make test` runs a reduced size (one kill of each process, one broker and one database restart, a short
fault window); `CHAOS_FULL=1` runs more load with several rounds."""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from ops.college.webhooks import Plan, PlannedRequest, plan
from tests.e2e.accounting import marks, unaccounted
from tests.e2e.load import send
from tests.e2e.state import diff, expected_state, observed_state, wait_for_expected
from tests.e2e.system import SERVICES, System

SEED = 7331


@dataclass(frozen=True)
class Size:
    students: int
    per_second: float  # steady request rate of the load
    resend_share: float  # share of the Moodle grades sent a second time, unchanged, under a new webhook-id
    rounds: int  # each round: a fault window, a kill of every process, a broker and a database restart
    fault_window_s: float
    settle_s: float  # how long the system may take to reach the expected state once the chaos is over


REDUCED = Size(students=20, per_second=8, resend_share=0.3, rounds=1, fault_window_s=8, settle_s=180)
FULL = Size(students=80, per_second=12, resend_share=0.5, rounds=3, fault_window_s=20, settle_s=420)
SIZE = FULL if os.environ.get("CHAOS_FULL") == "1" else REDUCED


def _with_grade_resends(college: Plan, share: float) -> list[PlannedRequest]:
    """The plan's requests and, shuffled in, unchanged re-sends of some Moodle grades (new webhook-ids)."""
    rng = random.Random(SEED)
    resends = []
    for req in college.requests:
        if req.kind == "grade_updated" and req.label == "new" and rng.random() < share:
            webhook_id = f"msg_chaos_{uuid.uuid4().hex}"
            body = {**json.loads(req.body), "event_id": webhook_id}
            resends.append(replace(req, body=json.dumps(body).encode(), label="resend", webhook_id=webhook_id))
    requests = [*college.requests, *resends]
    rng.shuffle(requests)
    return requests


def _chaos(system: System, size: Size, log: Callable[[str], None]) -> None:
    """The schedule: per round, Zoho faults with a token expiry while each process is killed in turn, then a
    broker outage and a database outage."""
    for _ in range(size.rounds):
        time.sleep(2)
        system.faults(rate_429=0.2, error_rate=0.1, timeout_rate=0.05)
        log("zoho faults on")
        pause = size.fault_window_s / len(SERVICES)
        for name in SERVICES:
            time.sleep(pause)
            system.kill(name)
            log(f"killed {name}")
            if name == "projector":
                system.faults(expire_tokens_now=True)
                log("zoho tokens expired")
        system.faults(rate_429=0, error_rate=0, timeout_rate=0)
        log("zoho faults off")
        system.infra.stop_broker()
        log("broker stopped")
        time.sleep(4)
        system.infra.start_broker()
        log("broker started")
        time.sleep(3)
        system.infra.stop_database()
        log("database stopped")
        time.sleep(4)
        system.infra.start_database()
        log("database started")


def test_chaos_loses_nothing_and_duplicates_nothing(system_factory: Callable[..., System]) -> None:
    system = system_factory()
    college = system.seed_zoho(plan(SEED, SIZE.students))
    expected = expected_state(college)
    requests = _with_grade_resends(college, SIZE.resend_share)
    since = marks(system.infra)

    events: list[str] = []
    failure: list[BaseException] = []
    started = time.monotonic()

    def log(what: str) -> None:
        events.append(f"{time.monotonic() - started:6.1f}s {what}")

    def run_chaos() -> None:
        try:
            _chaos(system, SIZE, log)
        except BaseException as exc:  # re-raised in the test's thread below
            failure.append(exc)

    chaos = threading.Thread(target=run_chaos)
    chaos.start()
    # Gives up well before pytest's timeout, so a sender that never gets through fails with the story below.
    report = asyncio.run(send(system.ingress_url, system.tenant, requests, SIZE.per_second, give_up_s=300))
    log("load sent")
    chaos.join()
    story = "\n".join([*events, f"503s {report.unavailable}, connection errors {report.connection_errors}",
                       f"restarts after a crash: {system.crashes()}", system.logs()])
    if failure:
        raise AssertionError(f"a step of the chaos failed: {failure[0]!r}\n{story}") from failure[0]

    assert not report.rejected, "\n".join([*(f"{r.path} {status} {text}" for r, status, text in report.rejected[:5]),
                                            story])
    assert len(report.acks) == len(requests), story
    remaining = wait_for_expected(system, expected, timeout=SIZE.settle_s)
    time.sleep(3)  # anything written twice would show up now
    remaining = diff(expected, observed_state(system))
    problems = unaccounted(system.infra, since, system.tenant.name, report.acks)
    # faust drops records fetched just before a restart's rebalance (streams/consumer.py): a stage that saw a jump
    # in its input's offsets (streams/batches.py logs each one) had that partition read again afterwards.
    skipped = _skipped_and_not_read_again((system.tmp / "streams.log").read_text(errors="replace"))
    assert remaining == [] and problems == [] and skipped == [], "\n".join([*remaining, *problems[:20], *skipped,
                                                                           story])


def _skipped_and_not_read_again(log: str) -> list[str]:
    pending: dict[tuple[str, int], str] = {}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        where = (entry.get("topic"), entry.get("partition"))
        if entry["message"] == "records skipped":
            pending.setdefault(where, line)
        elif entry["message"].startswith("reading a partition again from its committed offset"):
            pending.pop(where, None)
    return list(pending.values())
