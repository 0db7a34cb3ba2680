"""Records per second and Zoho calls per 100 changed records of the Zoho sink, against the Zoho emulator.

    python -m bench.zoho_sink [--grades 5000] [--students 1000]

Puts `--grades` joined Moodle grades (2 learning outcomes each) on canonical.grade for a tenant of its own,
starts the sink and times four rounds: every grade new (inserts), the same events again (unchanged), a
re-grade of every record (attempt 2: one LO changed, one no longer assessed, one newly assessed), and a second
re-grade (attempt 3: the same LO codes, new scores). Each round reports records/s, and the emulator's call log
gives the Zoho calls it took per 100 records. Uses KAFKA_BOOTSTRAP_SERVERS + DATABASE_URL
when both are set, else an embedded stack of its own in .stack-bench-zoho-sink/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from bench.harness import own_stack, service, stops_what_it_starts
from common.kafka_admin import ensure_topics
from common.settings import Settings
from ops.college.events import ATTEMPT, Message, event
from schemas.topics import contract_topics
from stack.process import free_port

ORG: dict[str, Any] = {"tenant": "bench", "client_id": "1000.BENCH", "client_secret": "bench-secret",
       "refresh_token": "1000.bench-refresh", "daily_credits": 10_000_000}


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path, health: str) -> Iterator[subprocess.Popen[bytes]]:
    with ExitStack() as undo:
        proc = service(undo, args, env, log)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{args[0]} did not start; see {log}") from None
            time.sleep(0.2)
        yield proc


def _seed(emu: str, module: str, records: list[dict[str, Any]], key: str) -> list[str]:
    token = httpx.post(f"{emu}/oauth/v2/token", params={
        "grant_type": "refresh_token", "client_id": ORG["client_id"], "client_secret": ORG["client_secret"],
        "refresh_token": ORG["refresh_token"]}).json()["access_token"]
    ids: list[str] = []
    for start in range(0, len(records), 100):
        resp = httpx.post(f"{emu}/crm/v8/{module}/upsert", headers={"Authorization": f"Zoho-oauthtoken {token}"},
                          json={"data": records[start:start + 100], "trigger": [], "duplicate_check_fields": [key]})
        ids += [item["details"]["id"] for item in resp.json()["data"]]
    return ids


def _grade(tenant: str, i: int, student: str, cls: str, attempt: int) -> Message:
    """Attempt `attempt` of grade `i`: attempt 2 changes P1, no longer assesses P2 and newly assesses M1; attempt 3
    keeps the codes with new scores."""
    at = 1_760_000_000_000 + attempt * 1000
    codes = ["P1", "P2"] if attempt == 1 else ["P1", "M1"]
    return event(tenant, "grade", f"{i}_1", attempt * ATTEMPT + at, {
        "composite_key": f"{i}_1", "student_id": student, "class_id": cls, "unit_name": "Unit 1",
        "letter": "PMD"[attempt - 1], "grade_status": "Released", "attempt_number": attempt,
        "graded_at": datetime.fromtimestamp(at / 1000, tz=UTC), "feedback": f"attempt {attempt}",
        "grader_role": "teacher", "grader_name": "T",
        "learning_outcomes": [{"code": c, "description": f"criterion {c}", "score": float(attempt)} for c in codes],
    }, origin="moodle")


def _outcomes(metrics_url: str) -> float:
    total = 0.0
    for line in httpx.get(metrics_url).text.splitlines():
        if line.startswith("zoho_sink_outcomes_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _round(name: str, bootstrap: str, values: list[Message], emu: str, metrics_url: str,
           changed: int) -> dict[str, Any]:
    calls_before = len(httpx.get(f"{emu}/__emulator/calls", params={"tenant": ORG["tenant"]}).json()["calls"])
    done_before = _outcomes(metrics_url)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    started = time.monotonic()
    for topic, key, value in values:
        producer.produce(topic, value, key)
        producer.poll(0)
    producer.flush(60)
    while _outcomes(metrics_url) < done_before + len(values):
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    calls = httpx.get(f"{emu}/__emulator/calls", params={"tenant": ORG["tenant"]}).json()["calls"][calls_before:]
    writes = sum(1 for c in calls if c["method"] in ("POST", "PUT"))
    per100 = 100 * len(calls) / changed if changed else float(len(calls))
    return {"round": name, "records": len(values), "seconds": elapsed, "per_s": len(values) / elapsed,
            "calls": len(calls), "writes": writes, "calls_per_100_changed": per100}


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grades", type=int, default=5000)
    ap.add_argument("--students", type=int, default=1000)
    args = ap.parse_args()
    settings = Settings()
    if settings.kafka_bootstrap_servers and settings.database_url:
        bootstrap, dsn = settings.kafka_bootstrap_servers, settings.database_url
    else:
        stack = own_stack(undo, ".stack-bench-zoho-sink", kafka_port=23192, pg_port=23532)
        bootstrap, dsn = stack.cfg.kafka_bootstrap, stack.cfg.database_url
    ensure_topics(bootstrap, contract_topics(4))
    work = Path(tempfile.mkdtemp(prefix="bench-zoho-sink-"))
    tenant = str(ORG["tenant"])
    emu_port, metrics_port = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    (work / "emulator.json").write_text(json.dumps({"orgs": [ORG], "call_log_size": 100_000}))
    with _process(["stack.zoho_emulator", "--port", str(emu_port), "--config", str(work / "emulator.json")], {},
                  work / "emulator.log", f"{emu}/healthz"):
        students = _seed(emu, "BTEC_Students", [{"Academic_Email": f"s{i}@bench.test"}
                                                for i in range(args.students)], "Academic_Email")
        (cls,) = _seed(emu, "BTEC_Classes", [{"Class_Name": "Bench class"}], "Class_Name")
        first, second, third = ([_grade(tenant, i, students[i % len(students)], cls, attempt)
                                 for i in range(args.grades)] for attempt in (1, 2, 3))
        accounts = {"accounts": [{"tenant": tenant, "accounts_url": emu, "api_domain": emu,
                                  "client_id": ORG["client_id"], "client_secret": ORG["client_secret"],
                                  "refresh_token": ORG["refresh_token"]}]}
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": dsn, "ZOHO_ACCOUNTS_JSON": json.dumps(accounts),
               "SINK_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}", "SINK_METRICS_PORT": str(metrics_port),
               "LOG_LEVEL": "WARNING"}
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        with _process(["sinks.zoho"], env, work / "sink.log", metrics_url):
            rounds = [_round("new", bootstrap, first, emu, metrics_url, args.grades),
                      _round("unchanged", bootstrap, first, emu, metrics_url, 0),
                      _round("re-graded", bootstrap, second, emu, metrics_url, args.grades),
                      _round("again", bootstrap, third, emu, metrics_url, args.grades)]
    print(f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{args.grades} grades for {args.students} students")
    print(f"{'round':<10} {'records':>8} {'seconds':>8} {'records/s':>10} {'calls':>6} {'writes':>7} "
          f"{'calls/100 changed':>18}")
    for r in rounds:
        per100 = f"{r['calls_per_100_changed']:.2f}" if r["round"] != "unchanged" else f"{r['calls']} in all"
        print(f"{r['round']:<10} {r['records']:>8} {r['seconds']:>8.2f} {r['per_s']:>10,.0f} {r['calls']:>6} "
              f"{r['writes']:>7} {per100:>18}")


if __name__ == "__main__":
    main()
