"""Webhook → projection-row latency of the whole pipeline at fixed rates.

    python -m bench.e2e [--rate 500] [--seconds 60] [--warmup-seconds 60] [--steps 50,100,...,1000,1200,1500,2000,3000]

Runs its own emptied embedded stack (`.stack-bench-e2e/`) with the ingress, one streams worker and
the projector as processes (all stopped however the run ends; BENCH_PORT_OFFSET moves their ports),
then sends Zoho student webhooks (the synthetic college's body, ops/college) over HTTP at a fixed rate
and measures, for each, the time from when its request was due to leave until its row is in
`projections.student` (polled every 50 ms; a fixed pool of senders, each on one keep-alive HTTP/1.1
connection, so a late request still counts from its due time).
After a warm-up at the fixed rate (`--warmup-seconds`, not counted), prints p50/p95/p99 at that rate,
then steps up through rates, stopping at the first whose p99 is not under one second (each later step
would start behind its backlog), and prints the highest that was.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from bench.harness import own_stack, port, service, stops_what_it_starts
from common.tenants import ensure_tenants_file
from ops.college.model import Ids
from ops.college.webhooks import notification, student

# Concurrent requests in flight at most; enough for 1,000/s at the ingress's latency, few enough for one process.
SENDERS = 64
# Unseen rows asked for per poll, oldest first: beyond a backlog this size latency is past seconds anyway.
POLL_WINDOW = 2000


@dataclass
class Result:
    latencies: list[float]
    rejected: int
    # How late the 99th-percentile request left its schedule (the generator or the ingress behind).
    late_p99_s: float


async def _wait_http(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


class Connection:
    """One keep-alive HTTP/1.1 connection to the ingress, written and read by hand: tens of microseconds of
    Python per request where httpx takes about a millisecond, which on two cores the generator would take from
    the services it measures."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, target: bytes, tenant: str, body: bytes) -> int:
        """POST `body` (JSON) to `target`; the response's status (its body is read and dropped)."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-Tenant-ID: %s\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (target, self.host.encode(), tenant.encode(), len(body), body))
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, close = 0, False
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def run_rate(ingress: str, token: str, dsn: str, rate: int, seconds: int, tenant: str, ids: Ids) -> Result:
    """Latencies (s) of `rate` webhooks/s for `seconds`, each from the moment its request was due to leave.

    A fixed pool of senders works through the schedule; a request that leaves late (the senders or the ingress
    fell behind) still counts from when it was due, so a slow generator cannot hide latency (no coordinated
    omission). Rows not seen within 30 s after the end count as 30 s.
    """
    due: dict[str, float] = {}
    unseen: dict[str, None] = {}  # in send order: the poll asks for the oldest ones
    seen: dict[str, float] = {}
    late: list[float] = []
    rejected = 0
    drain_until: list[float] = []

    def draining_done() -> bool:
        return bool(drain_until) and (not unseen or time.monotonic() > drain_until[0])

    async def poll() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            while not draining_done():
                window = list(itertools.islice(unseen, POLL_WINDOW))
                if window:
                    cur = await conn.execute(
                        "SELECT id FROM projections.student WHERE tenant = %s AND id = ANY(%s)", (tenant, window))
                    now = time.monotonic()
                    for (row_id,) in await cur.fetchall():
                        seen[row_id] = now
                        unseen.pop(row_id, None)
                await asyncio.sleep(0.05)

    total = rate * seconds
    next_index = itertools.count()
    start = time.monotonic() + 0.5

    host, _, port_text = ingress.removeprefix("http://").partition(":")
    target = f"/webhooks/zoho/BTEC_Students?token={token}".encode()

    async def sender() -> None:
        nonlocal rejected
        conn = Connection(host, int(port_text))
        try:
            while (i := next(next_index)) < total:
                at = start + i / rate
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    late.append(-delay)
                sid = ids.zoho()
                body = json.dumps(notification("BTEC_Students", student(sid, f"s{sid}@bench.example"),
                                               ids.zoho())).encode()
                due[sid] = at
                unseen[sid] = None
                status = None
                for _ in range(3):
                    # A keep-alive connection the server closed just then: sent again, as Zoho retries a webhook.
                    try:
                        status = await conn.post(target, tenant, body)
                        break
                    except (OSError, asyncio.IncompleteReadError, ValueError):
                        conn.close()
                        await asyncio.sleep(0.05)
                if status != 202:
                    rejected += 1
                    due.pop(sid, None)
                    unseen.pop(sid, None)
        finally:
            conn.close()

    poller = asyncio.create_task(poll())
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    drain_until.append(time.monotonic() + 30)
    await poller
    latencies = [min(seen.get(k, t0 + 30), t0 + 30) - t0 for k, t0 in due.items()]
    return Result(latencies, rejected, _pct(late, 99) if len(late) > 1 else 0.0)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--steps", default="50,100,150,200,300,400,600,800,1000,1200,1500,2000,3000")
    ap.add_argument("--step-seconds", type=int, default=20)
    ap.add_argument("--warmup-seconds", type=int, default=60,
                    help="sent at --rate first and not counted: a freshly started stack (the broker's JVM still "
                         "compiling, connections, caches) is not the steady state measured; 10 s of warm-up left "
                         "the first measured minute at p99 ~0.5 s against ~0.2 s after 60 s")
    args = ap.parse_args()
    stack = own_stack(undo, ".stack-bench-e2e", kafka_port=24092, pg_port=24432)
    cfg = stack.cfg
    tenants_file = cfg.root / "tenants.json"
    token = ensure_tenants_file(tenants_file, "default").tenants["default"].zoho_webhook_token
    tmp = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    ingress_port, streams_port, projector_port = port(18100), port(16300), port(16301)
    env = {"KAFKA_BOOTSTRAP_SERVERS": cfg.kafka_bootstrap, "DATABASE_URL": cfg.database_url,
           "TENANTS_FILE": str(tenants_file), "LOG_LEVEL": "WARNING", "LOG_REQUESTS": "false",
           "INGRESS_PORT": str(ingress_port), "STREAMS_DATADIR": str(tmp / "streams"),
           "STREAMS_WEB_PORT": str(streams_port), "PROJECTOR_METRICS_PORT": str(projector_port)}
    service(undo, ["producers"], env, tmp / "ingress.log", binds=(ingress_port,))
    service(undo, ["streams", "worker", "-l", "warn"], env, tmp / "streams.log", binds=(streams_port,))
    service(undo, ["projections", "run"], env, tmp / "projector.log", binds=(projector_port,))
    ingress = f"http://127.0.0.1:{ingress_port}"
    asyncio.run(_wait_http(f"{ingress}/readyz"))
    asyncio.run(_wait_http(f"http://127.0.0.1:{streams_port}/metrics"))
    time.sleep(10)  # group joins
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python {platform.python_version()}; "
          f"logs in {tmp}")
    rows = []
    ids = Ids(seed=1)  # the stack was emptied: any ids will do, each student once
    if args.warmup_seconds:
        warm = asyncio.run(run_rate(ingress, token, cfg.database_url, args.rate, args.warmup_seconds, "default", ids))
        warm_p99 = _pct(warm.latencies, 99) * 1000
        print(f"warm-up {args.rate:>5} webhooks/s for {args.warmup_seconds:>3}s: p99 {warm_p99:.0f} ms (not counted)")
        time.sleep(5)
    plan = [(args.rate, args.seconds)] + [(int(r), args.step_seconds) for r in args.steps.split(",")]
    for rate, seconds in plan:
        result = asyncio.run(run_rate(ingress, token, cfg.database_url, rate, seconds, "default", ids))
        lat = result.latencies
        p50, p95, p99 = (_pct(lat, q) for q in (50, 95, 99))
        rows.append((rate, p99))
        stepping = len(rows) > 1
        print(f"{rate:>5} webhooks/s for {seconds:>3}s: n={len(lat):>6}  p50 {p50 * 1000:8.0f} ms  "
              f"p95 {p95 * 1000:8.0f} ms  p99 {p99 * 1000:8.0f} ms  (sent late p99 "
              f"{result.late_p99_s * 1000:.0f} ms, rejected {result.rejected})")
        if stepping and p99 >= 1.0:
            # Every later step would start behind this one's backlog: nothing more to learn.
            print("(steps stopped here)")
            break
        time.sleep(5)
    ok = [r for r, p99 in rows if p99 < 1.0]
    print(f"highest rate tried with p99 < 1 s: {max(ok) if ok else 'none'} webhooks/s; "
          f"target: p99 < 500 ms at {args.rate}/s")

if __name__ == "__main__":
    main()
