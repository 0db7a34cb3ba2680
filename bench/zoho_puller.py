"""A full pull of a large Zoho org into raw.zoho, and an incremental pull when nothing changed.

    python -m bench.zoho_puller [--records 100000]

Seeds `--records` BTEC_Students (changes spread over a month) into the Zoho emulator through its admin API
(no webhook, no credit), starts the puller for a tenant of its own and times its first run (the full load):
API calls, credits, seconds and records/s appended to raw.zoho. Then asks for a pull with nothing changed and
counts its calls. Uses an embedded stack of its own in .stack-bench-zoho-puller/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.harness import own_stack, service, stops_what_it_starts
from common.kafka import producer_config
from common.log import watermarks
from schemas.codec import encode
from schemas.keys import OutcomeKey
from schemas.topics import COMMANDS_ZOHO, RAW_ZOHO
from stack.process import free_port

ORG: dict[str, Any] = {"tenant": "bench-pull", "client_id": "1000.BENCHPULL", "client_secret": "bench-pull-secret",
                       "refresh_token": "1000.bench-pull-refresh", "daily_credits": 1_000_000}
SEED_BATCH = 5000


def _wait(url: str, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def _seed(emu: str, n: int) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30).total_seconds() / max(n, 1)
    for first in range(0, n, SEED_BATCH):
        records = [{"Academic_Email": f"student{i}@bench.example", "First_Name": f"First{i}",
                    "Last_Name": f"Last{i}", "Status": "Active"} for i in range(first, min(n, first + SEED_BATCH))]
        body = {"data": records, "created_start": start.isoformat(), "modified_step_s": step,
                "modified_start": (start + timedelta(seconds=first * step)).isoformat()}
        resp = httpx.post(f"{emu}/__emulator/records/BTEC_Students", params={"tenant": ORG["tenant"]}, json=body,
                          timeout=120)
        resp.raise_for_status()


def _runs(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        try:
            cur = conn.execute("SELECT status, records, calls, started_at, finished_at FROM zoho_pull_run"
                               " WHERE tenant = %s ORDER BY requested_at", (ORG["tenant"],))
        except psycopg.errors.UndefinedTable:
            return []
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _wait_runs(dsn: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [r for r in _runs(dsn) if r["status"] in ("done", "failed", "paused")]
        if len(done) >= count:
            return done
        time.sleep(0.5)
    raise RuntimeError(f"the puller did not finish {count} runs in {timeout:.0f}s")


def _credits(emu: str) -> int:
    return int(httpx.get(f"{emu}/__emulator/credits", params={"tenant": ORG["tenant"]}, timeout=10).json()["used"])


def _raw_end(bootstrap: str) -> int:
    return sum(high for _, high in watermarks(bootstrap, RAW_ZOHO).values())


def _ask_pull(bootstrap: str) -> None:
    from confluent_kafka import Producer

    record = {"command_id": uuid.uuid4().hex, "command": "pull", "tenant": ORG["tenant"], "module": None,
              "full": False, "reason": "benchmark", "requested_at": int(time.time() * 1000)}
    producer = Producer(producer_config(bootstrap))
    producer.produce(COMMANDS_ZOHO, encode("command.zoho", record), OutcomeKey(ORG["tenant"], "pull", "*").encode())
    if producer.flush(30):
        raise RuntimeError("the pull command was not stored")


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    stack = own_stack(undo, ".stack-bench-zoho-puller", kafka_port=23392, pg_port=23732)
    bootstrap, dsn = stack.cfg.kafka_bootstrap, stack.cfg.database_url
    work = Path(tempfile.mkdtemp(prefix="bench-zoho-puller-"))
    emu_port, metrics_port = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    (work / "emulator.json").write_text(json.dumps({"orgs": [ORG], "call_log_size": 10_000}))
    service(undo, ["stack.zoho_emulator", "--port", str(emu_port), "--config", str(work / "emulator.json")], {},
            work / "emulator.log")
    _wait(f"{emu}/healthz", "the Zoho emulator")
    began = time.monotonic()
    _seed(emu, args.records)
    print(f"seeded {args.records:,} records in {time.monotonic() - began:.1f}s", flush=True)
    account = {"tenant": ORG["tenant"], "accounts_url": emu, "api_domain": emu, "client_id": ORG["client_id"],
               "client_secret": ORG["client_secret"], "refresh_token": ORG["refresh_token"],
               "daily_credits": ORG["daily_credits"], "write_reserve": 0,
               "pull": {"modules": ["BTEC_Students"], "interval_s": 86400}}
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": dsn, "TENANTS_FILE": str(stack.cfg.root /
           "tenants.json"), "ZOHO_ACCOUNTS_JSON": json.dumps({"accounts": [account]}),
           "PULLER_METRICS_PORT": str(metrics_port), "PULLER_TICK_S": "0.2", "LOG_LEVEL": "WARNING"}
    raw_before, credits_before = _raw_end(bootstrap), _credits(emu)
    started = time.monotonic()
    service(undo, ["pullers.zoho"], env, work / "puller.log")
    (full,) = _wait_runs(dsn, 1, timeout=3600)
    seconds = time.monotonic() - started
    appended = _raw_end(bootstrap) - raw_before
    full_credits = _credits(emu) - credits_before
    credits_before = _credits(emu)
    _ask_pull(bootstrap)
    runs = _wait_runs(dsn, 2, timeout=600)
    again = runs[1]
    again_credits = _credits(emu) - credits_before
    print(f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{args.records:,} BTEC_Students in the emulator")
    print(f"{'pull':<12} {'status':<7} {'records':>9} {'calls':>6} {'credits':>8} {'seconds':>8} {'records/s':>10}")
    print(f"{'full':<12} {full['status']:<7} {appended:>9,} {full['calls']:>6} {full_credits:>8} {seconds:>8.1f} "
          f"{appended / seconds:>10,.0f}")
    print(f"{'incremental':<12} {again['status']:<7} {again['records']:>9,} {again['calls']:>6} {again_credits:>8}")
    print(f"calls per 1,000 records (full): {1000 * full['calls'] / max(args.records, 1):.2f}; "
          f"calls when nothing changed: {again['calls']} (+1 metadata read per module)")


if __name__ == "__main__":
    main()
