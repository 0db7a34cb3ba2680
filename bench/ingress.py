"""Ingress throughput and latency against the raw producer and a no-op endpoint, in one run.

    python -m bench.ingress [--duration 15] [--concurrency 10,50,100] [--workers 1,2]

Starts an emptied embedded stack of its own in `.stack-bench-ingress/` (or uses
KAFKA_BOOTSTRAP_SERVERS), an ingress (port 18001, 18002, … by workers; BENCH_PORT_OFFSET moves them)
with the no-op route enabled, and drives both with `wrk` on 127.0.0.1. The raw
confluent-kafka producer is measured in this process with the ingress's own settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka import Producer

from bench.harness import own_stack, port, service, stops_what_it_starts
from common.settings import Settings
from common.tenants import ensure_tenants_file

BODY = json.dumps(
    {
        "notification_id": "4876876000001203045",
        "module": "BTEC_Grades",
        "operation": "update",
        "record_id": "4876876000000900777",
        "data": {
            "id": "4876876000000900777",
            "Student": {"id": "4876876000000412002", "name": "Omar Nasser"},
            "Class": {"id": "4876876000000600001", "name": "IT-L3-2026A"},
            "Grade": "Merit",
            "Attempt_Number": 1,
            "Feedback": "Good analysis of network topologies.",
        },
    }
).encode()

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, concurrency: int, duration: int) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT.format(body=json.dumps(BODY.decode())))
        script = fh.name
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{duration}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script)
    if "Requests/sec" not in out or "99%" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(rps, p50, p99, int(bad.group(1)) if bad else 0)


def raw_producer_rate(bootstrap: str, n: int = 200_000) -> float:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "partitioner": "murmur2_random", "linger.ms": 2, "compression.type": "lz4"})
    t0 = time.perf_counter()
    for i in range(n):
        while True:
            try:
                p.produce("bench.raw", key=f"default/BTEC_Grades/{i}".encode(), value=BODY)
                break
            except BufferError:
                p.poll(0.01)
        if i % 1000 == 0:
            p.poll(0)
    p.flush(60)
    return n / (time.perf_counter() - t0)


def start_ingress(undo: ExitStack, env: dict[str, str], port: int, workers: int, log: Path) -> None:
    service(undo, ["producers"], {**env, "INGRESS_PORT": str(port), "INGRESS_WORKERS": str(workers)}, log,
            binds=(port,))
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"ingress did not start; see {log}")


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--concurrency", default="10,50,100")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    settings = Settings()
    if settings.kafka_bootstrap_servers:
        bootstrap, dsn = settings.kafka_bootstrap_servers, settings.database_dsn()
        tenants_file = settings.resolved_tenants_file()
    else:
        stack = own_stack(undo, ".stack-bench-ingress", kafka_port=23292, pg_port=23632,
                          partitions=settings.topic_partitions)
        bootstrap, dsn = stack.cfg.kafka_bootstrap, stack.cfg.database_url
        tenants_file = stack.cfg.root / "tenants.json"
    from common.kafka_admin import TopicSpec, ensure_topics

    ensure_topics(bootstrap, [TopicSpec("bench.raw", settings.topic_partitions, {"retention.ms": "600000"})])
    tenants = ensure_tenants_file(tenants_file, settings.default_tenant)
    token = tenants.tenants[settings.default_tenant].zoho_webhook_token
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": dsn, "TENANTS_FILE": str(tenants_file),
           "INGRESS_ENABLE_NOOP": "1", "LOG_REQUESTS": "false", "LOG_LEVEL": "WARNING"}
    log = Path(tempfile.gettempdir()) / "bench-ingress.log"

    print(f"machine: {platform.node()} {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"body: {len(BODY)} bytes, duration {args.duration}s per point, wrk 1 thread on 127.0.0.1\n")
    producer_rate = raw_producer_rate(bootstrap)
    print(f"raw confluent-kafka producer (acks=all, idempotent): {producer_rate:,.0f} msg/s\n")
    print(f"{'workers':>7} {'conc':>5} | {'ingress req/s':>13} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} | "
          f"{'no-op req/s':>11} {'p99 ms':>7} | {'vs producer':>11} {'vs no-op':>8}")
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        ingress_port = port(18000 + workers)
        with ExitStack() as ingress_undo:
            start_ingress(ingress_undo, env, ingress_port, workers, log)
            base = f"http://127.0.0.1:{ingress_port}"
            run_wrk(f"{base}/webhooks/zoho/BTEC_Grades?token={token}", 10, 3)  # warm-up
            for conc in [int(c) for c in args.concurrency.split(",")]:
                ingress = run_wrk(f"{base}/webhooks/zoho/BTEC_Grades?token={token}", conc, args.duration)
                noop = run_wrk(f"{base}/_noop", conc, args.duration)
                rows.append((workers, conc, ingress, noop))
                print(f"{workers:>7} {conc:>5} | {ingress.rps:>13,.0f} {ingress.p50_ms:>7.2f} {ingress.p99_ms:>7.2f} "
                      f"{ingress.non_2xx:>7} | {noop.rps:>11,.0f} {noop.p99_ms:>7.2f} | "
                      f"{ingress.rps / producer_rate:>11.3f} {ingress.rps / noop.rps:>8.2f}")
    best = max(rows, key=lambda r: r[2].rps if r[1] == 100 else 0)
    print(f"\nat 100 clients, best: {best[2].rps:,.0f} accepted webhooks/s, p99 {best[2].p99_ms:.1f} ms "
          f"({best[0]} worker(s)); target ≥ 5,000/s and p99 < 25 ms")


if __name__ == "__main__":
    main()
