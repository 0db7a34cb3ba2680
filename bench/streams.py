"""Canonical events per second of the streams workers on a pre-filled raw topic.

    python -m bench.streams [--records 100000] [--workers 1,2] [--order shuffled,sorted]

Fills raw.zoho with the Zoho records of the synthetic college (ops/college: reference data,
students, registrations, payments, enrollments and many grades, with the webhooks' variants) for a
tenant of its own, exactly as the ingress would store them — shuffled (most grades arrive before
their class, student or registration and wait) or sorted (reference data first, then student by
student: nothing waits), each order on a freshly emptied stack — then starts a
fresh streams generation with 1 and with 2 workers and times how long they take to turn every
record into its canonical events (from the workers' start, and from
their first output to their last: the steady rate), sampling worker 0's resident memory every tenth of
the events. Then, on the same records, faust agents that do nothing
but read them, or read and send each on with each of the producers (bench/faust_floor.py): the ceiling for
any faust processor on this machine, printed with the streams workers' ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.harness import own_stack, port, service, stops_what_it_starts
from common.settings import Settings
from ops.college.model import Sizes, build
from ops.college.webhooks import PlannedRequest
from ops.college.webhooks import requests as webhook_requests
from schemas.bodies import decode_body
from schemas.keys import RawKey, zoho_delivery_id, zoho_record_id
from schemas.topics import CANONICAL_ENTITIES, RAW_ZOHO, canonical


def _requests(n: int, order: str) -> list[PlannedRequest]:
    """About `n` Zoho records of one college, every one of which resolves (all it names is sent too), in `order`.

    Grade-heavy, as a college's log is after a few terms: every student has six grades from earlier terms.
    """
    per_student = 1 + 1 + 1 + 2 + 6  # student, registration, about one payment, two enrollments, six grades
    college = build(42, Sizes(students=max(1, n // per_student), programs=10, units_per_program=8,
                              classes_per_student=2, earlier_grades_every=1, earlier_grades=6))
    requests = [r for r in webhook_requests(college) if r.source == "zoho"]
    if order == "shuffled":
        random.Random(42).shuffle(requests)
    return requests


def prefill(bootstrap: str, tenant: str, n: int, order: str) -> tuple[int, int]:
    """Put about `n` records on raw.zoho as the ingress stores them: (records, canonical events they make)."""
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 20,
                  "enable.idempotence": True, "compression.type": "lz4"})
    now = str(int(time.time() * 1000))
    requests = _requests(n, order)
    for req in requests:
        body = decode_body(req.body, req.content_type)
        headers: list[tuple[str, str | bytes | None]] = [
            ("source", b"zoho"), ("tenant", tenant.encode()), ("kind", req.kind.encode()),
            ("content-type", req.content_type.encode()), ("received-at", now.encode()),
            ("request-id", uuid.uuid4().hex.encode()),
        ]
        delivery = zoho_delivery_id(body)
        if delivery:
            headers.append(("delivery-id", delivery.encode()))
        key = RawKey(tenant, req.kind, zoho_record_id(body)).encode()
        while True:
            try:
                p.produce(RAW_ZOHO, key=key, value=req.body, headers=headers)
                break
            except BufferError:
                p.poll(0.05)
    p.flush(120)
    return len(requests), sum(r.records for r in requests)


def end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-offsets"})
    out = {}
    for entity in CANONICAL_ENTITIES:
        topic = canonical(entity)
        for part in c.list_topics(topic, timeout=10).topics[topic].partitions:
            out[(topic, part)] = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)[1]
    c.close()
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def count_outputs(bootstrap: str, start: dict[tuple[str, int], int], tenant: str, expected: int,
                  timeout: float, watched: int) -> tuple[int, float, float, list[float]]:
    """Count canonical events of `tenant` after `start`; return (count, time of the first one, of the last, the
    RSS in MB of process `watched` at each tenth of `expected`)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([TopicPartition(t, p, off) for (t, p), off in start.items()])
    prefix = f"{tenant}/".encode()
    # An event re-sent after a rebalance or restart has the same bytes (deterministic id and content): once.
    distinct: set[int] = set()
    seen, first, last = 0, 0.0, time.monotonic()
    rss: list[float] = []
    deadline = time.monotonic() + timeout
    while seen < expected and time.monotonic() < deadline:
        for msg in c.consume(1000, timeout=0.5):
            if msg.error() is None and (msg.key() or b"").startswith(prefix) and hash(msg.value()) not in distinct:
                distinct.add(hash(msg.value()))
                seen += 1
                last = time.monotonic()
                first = first or last
        while len(rss) < 10 and seen >= expected * (len(rss) + 1) // 10:
            rss.append(rss_mb(watched))
    c.close()
    return seen, first, last, rss


def run(bootstrap: str, tenant: str, workers: int, expected: int,
        env: dict[str, str]) -> tuple[float, float, int, list[float]]:
    """(seconds from the workers' start to the last output, from the first output to the last, outputs, worker 0's
    RSS at each tenth of the outputs)."""
    app_id = f"mzsync-bench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    start = end_offsets(bootstrap)
    with ExitStack() as undo:
        t0 = time.monotonic()
        procs = [service(undo, ["streams", "worker", "-l", "warn"],
                         {**env, "STREAMS_APP_ID": app_id, "STREAMS_DATADIR": str(tmp / f"w{i}"),
                          "STREAMS_WEB_PORT": str(port(16100 + i)), "LOG_LEVEL": "WARNING"},
                         tmp / f"w{i}.log", binds=(port(16100 + i),))
                 for i in range(workers)]
        time.sleep(3)
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                raise RuntimeError(f"worker {i} exited: {(tmp / f'w{i}.log').read_text()[-2000:]}")
        seen, first, last, rss = count_outputs(bootstrap, start, tenant, expected, timeout=3600,
                                               watched=procs[0].pid)
    return last - t0, last - first, seen, rss


def faust_floor(bootstrap: str, expected: int, send: str | None, env: dict[str, str]) -> float:
    """Records/s of a faust agent that only reads the pre-filled topic, or reads and sends each record on with
    `send` (aiokafka, librdkafka, publish: see bench/faust_floor.py)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    extra = {"FLOOR_TOPIC": RAW_ZOHO, "FLOOR_COUNT": str(expected), "FLOOR_RESULT": str(tmp / "result.json"),
             "FLOOR_SEND": send or ""}
    if send:
        out = f"bench-floor-out-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the topic exists
        admin.create_topics([NewTopic(out, 4, 1)])[out].result(30)
        extra["FLOOR_FORWARD_TO"] = out
    with ExitStack() as undo:
        web = port(16199)
        proc = service(undo, ["bench.faust_floor", "worker", "-l", "warn", "--web-port", str(web)], {**env, **extra},
                       tmp / "floor.log", binds=(web,))
        proc.wait(600)
    result = json.loads((tmp / "result.json").read_text())
    return float(result["records"]) / float(result["seconds"])


def _rss_line(rss: list[float]) -> str:
    if len(rss) < 10:
        return f"RSS {', '.join(f'{r:.0f}' for r in rss)} MB (incomplete)"
    return (f"RSS peak {max(rss):.0f} MB, at 50% {rss[4]:.0f} MB, at 100% {rss[9]:.0f} MB "
            f"(second half {rss[9] - rss[4]:+.0f} MB)")


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--order", default="shuffled,sorted", help="input orders, each on a freshly emptied stack")
    args = ap.parse_args()
    settings = Settings()
    orders = args.order.split(",")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    steady: dict[str, float] = {}
    bootstrap, records = "", 0
    for order in orders:
        with ExitStack() as per_order:
            if settings.kafka_bootstrap_servers:
                bootstrap = settings.kafka_bootstrap_servers
            else:
                # A stack of its own, emptied first: the workers must read only this order's records.
                stack = own_stack(per_order if order != orders[-1] else undo, ".stack-bench", kafka_port=39092,
                                  pg_port=35432, partitions=settings.topic_partitions)
                bootstrap = stack.cfg.kafka_bootstrap
            tenant = f"bench-{uuid.uuid4().hex[:6]}"
            t0 = time.monotonic()
            records, n = prefill(bootstrap, tenant, args.records, order)
            print(f"\n{order}: pre-filled raw.zoho with {records:,} records ({n:,} events) for tenant {tenant} in "
                  f"{time.monotonic() - t0:.1f}s")
            env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
            print(f"{'workers':>7} | {'events':>8} {'seconds':>8} {'events/s':>9} | {'steady s':>8} {'events/s':>9}"
                  f" {'per worker':>10}")
            for workers in [int(w) for w in args.workers.split(",")]:
                elapsed, took, seen, rss = run(bootstrap, tenant, workers, n, env)
                if workers == 1:
                    steady[order] = seen / took
                print(f"{workers:>7} | {seen:>8,} {elapsed:>8.1f} {seen / elapsed:>9,.0f} | {took:>8.1f}"
                      f" {seen / took:>9,.0f} {seen / took / workers:>10,.0f}   worker 0: {_rss_line(rss)}"
                      + ("" if seen == n else f"   INCOMPLETE: expected {n:,}"))
    print("(seconds: from the workers' start, with start-up and group join; steady: first output to last)")
    if "shuffled" in steady and "sorted" in steady:
        print(f"shuffled / sorted (1 worker, steady): {steady['shuffled'] / steady['sorted']:.3f}")
    # What faust alone costs per record here (on the last order's records): the ceiling for any faust processor.
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    floors = [("read only", None), ("read + send, aiokafka", "aiokafka"), ("read + send, librdkafka", "librdkafka"),
              ("read + publish (streams path)", "publish")]
    rates = {label: faust_floor(bootstrap, records, send, env) for label, send in floors}
    for label, rate in rates.items():
        ratios = ", ".join(f"{order} / this {r / rate:.3f}" for order, r in steady.items())
        print(f"faust floor, {label:<30}: {rate:>9,.0f} records/s   1 worker steady: {ratios}")


if __name__ == "__main__":
    main()
