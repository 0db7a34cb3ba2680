"""Canonical events per second of the streams workers on a pre-filled raw topic.

    python -m bench.streams [--records 100000] [--workers 1,2]

Fills raw.zoho with a college's worth of mixed records (reference data, students,
registrations, grades in shuffled order) for a tenant of its own, exactly as the ingress
would store them, then starts a fresh streams generation with 1 and with 2 workers and
times how long they take to turn every record into its canonical event (from the workers' start, and from
their first output to their last: the steady rate). Then, on the same records, faust agents that do nothing
but read them, or read and send each on with each of the producers (bench/faust_floor.py): the ceiling for
any faust processor on this machine, printed with the streams workers' ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from common.settings import PROJECT_ROOT, Settings
from schemas.topics import CANONICAL_ENTITIES, RAW_ZOHO, canonical
from stack.config import StackConfig
from stack.embedded import EmbeddedStack


def _records(n: int, rng: random.Random, order: str) -> list[tuple[str, str, dict[str, object]]]:
    """(module, record id, record) for a college whose every grade resolves, shuffled or sorted (reference data,
    students, registrations, grades: nothing waits)."""
    ids = iter(range(10**18 + rng.randrange(10**15) * 1000, 10**19))
    programs = [str(next(ids)) for _ in range(10)]
    units = [(str(next(ids)), rng.choice(programs)) for _ in range(40)]
    classes = [(str(next(ids)), u, p) for u, p in (rng.choice(units) for _ in range(80))]
    out: list[tuple[str, str, dict[str, object]]] = []
    out += [("Products", p, {"id": p, "Product_Name": f"Program {p[-4:]}", "Status": "Active"}) for p in programs]
    out += [("BTEC", u, {"id": u, "Name": f"Unit {u[-4:]}", "Program": {"id": p}}) for u, p in units]
    out += [("BTEC_Classes", c, {"id": c, "Class_Name": f"C{c[-4:]}", "Unit": {"id": u}, "BTEC_Program": {"id": p}})
            for c, u, p in classes]
    students = max(1, (n - len(out)) // 5)
    grades = n - len(out) - 2 * students
    people = []
    for i in range(students):
        sid, rid = str(next(ids)), str(next(ids))
        cls = rng.choice(classes)
        people.append((sid, cls))
        out.append(("BTEC_Students", sid, {"id": sid, "Name": f"STU-{i}", "First_Name": "Lina", "Last_Name": "Haddad",
                                           "Academic_Email": f"s{sid}@bench.example", "Status": "Active"}))
        out.append(("BTEC_Registrations", rid, {"id": rid, "Student_ID": {"id": sid}, "Program": {"id": cls[2]},
                                                "Registration_Status": "Active"}))
    for _ in range(grades):
        gid = str(next(ids))
        sid, cls = rng.choice(people)
        out.append(("BTEC_Grades", gid, {"id": gid, "Student": {"id": sid}, "Class": {"id": cls[0]},
                                         "Grade": rng.choice(["Distinction", "Merit", "Pass", "Refer"]),
                                         "Attempt_Number": 1}))
    if order == "shuffled":
        rng.shuffle(out)
    else:
        rank = {"Products": 0, "BTEC": 1, "BTEC_Classes": 2, "BTEC_Students": 3, "BTEC_Registrations": 4,
                "BTEC_Grades": 5}
        out.sort(key=lambda r: rank[r[0]])
    return out


def prefill(bootstrap: str, tenant: str, n: int, order: str) -> int:
    rng = random.Random(42)
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 20,
                  "enable.idempotence": True, "compression.type": "lz4"})
    now = str(int(time.time() * 1000))
    records = _records(n, rng, order)
    for module, rid, data in records:
        body = json.dumps({"module": module, "operation": "insert", "record_id": rid, "data": data}).encode()
        headers: list[tuple[str, str | bytes | None]] = [
            ("source", b"zoho"), ("tenant", tenant.encode()), ("kind", module.encode()),
            ("content-type", b"application/json"), ("received-at", now.encode()),
            ("request-id", uuid.uuid4().hex.encode()),
        ]
        while True:
            try:
                p.produce(RAW_ZOHO, key=f"{tenant}/{module}/{rid}".encode(), value=body, headers=headers)
                break
            except BufferError:
                p.poll(0.05)
    p.flush(120)
    return len(records)


def end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-offsets"})
    out = {}
    for entity in CANONICAL_ENTITIES:
        topic = canonical(entity)
        for part in c.list_topics(topic, timeout=10).topics[topic].partitions:
            out[(topic, part)] = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)[1]
    c.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident set size of a process now (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def count_outputs(bootstrap: str, start: dict[tuple[str, int], int], tenant: str, expected: int,
                  timeout: float, on_progress: Callable[[int], None] | None = None) -> tuple[int, float, float]:
    """Count canonical events of `tenant` after `start`; return (count, time of the first one, of the last)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([TopicPartition(t, p, off) for (t, p), off in start.items()])
    prefix = f"{tenant}/".encode()
    # An event re-sent after a rebalance or restart has the same bytes (deterministic id and content): once.
    distinct: set[int] = set()
    seen, first, last = 0, 0.0, time.monotonic()
    deadline = time.monotonic() + timeout
    while seen < expected and time.monotonic() < deadline:
        for msg in c.consume(1000, timeout=0.5):
            if msg.error() is None and (msg.key() or b"").startswith(prefix) and hash(msg.value()) not in distinct:
                distinct.add(hash(msg.value()))
                seen += 1
                last = time.monotonic()
                first = first or last
        if on_progress is not None:
            on_progress(seen)
    c.close()
    return seen, first, last


def run(bootstrap: str, tenant: str, workers: int, expected: int,
        env: dict[str, str]) -> tuple[float, float, int, list[tuple[int, float]]]:
    """(seconds from the workers' start to the last output, from the first output to the last, outputs,
    the first worker's RSS in MB by outputs seen, sampled every 10% of the records)."""
    app_id = f"mzsync-bench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    start = end_offsets(bootstrap)
    procs = []
    t0 = time.monotonic()
    for i in range(workers):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "-l", "warn"],
            env={**os.environ, **env, "STREAMS_APP_ID": app_id, "STREAMS_DATADIR": str(tmp / f"w{i}"),
                 "STREAMS_WEB_PORT": str(free_port()), "LOG_LEVEL": "WARNING"},
            stdout=(tmp / f"w{i}.log").open("wb"), stderr=subprocess.STDOUT, cwd=PROJECT_ROOT))
    try:
        time.sleep(3)
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                raise RuntimeError(f"worker {i} exited: {(tmp / f'w{i}.log').read_text()[-2000:]}")
        rss: list[tuple[int, float]] = []

        def sample(seen: int) -> None:
            if seen >= (len(rss) + 1) * expected // 10 and procs[0].poll() is None:
                rss.append((seen, rss_mb(procs[0].pid)))

        seen, first, last = count_outputs(bootstrap, start, tenant, expected, timeout=3600, on_progress=sample)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
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
    proc = subprocess.Popen([sys.executable, "-m", "bench.faust_floor", "worker", "-l", "warn",
                             "--web-port", str(free_port())],
                            env={**os.environ, **env, **extra}, stdout=(tmp / "floor.log").open("wb"),
                            stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    try:
        proc.wait(600)
    finally:
        proc.kill()
    result = json.loads((tmp / "result.json").read_text())
    return float(result["records"]) / float(result["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--order", default="shuffled,sorted",
                    help="input orders to run, comma-separated: shuffled, sorted (each on a freshly emptied stack)")
    ap.add_argument("--floors", default="read,publish",
                    help="faust floors to measure, comma-separated: read, aiokafka, librdkafka, publish ('' for none)")
    args = ap.parse_args()
    # A stack of its own, emptied before each order: the workers must read only the benchmark's records.
    # STACK_DIR and STACK_*_PORT move it (the machine may run other stacks); defaults .stack-bench, 39092.
    settings = Settings()
    cfg = StackConfig.from_env(PROJECT_ROOT / ".stack-bench")
    if "STACK_KAFKA_PORT" not in os.environ:
        cfg = StackConfig(root=cfg.root, kafka_port=39092, controller_port=39093, pg_port=35432)
    stack = EmbeddedStack(cfg, partitions=settings.topic_partitions)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    try:
        _bench(stack, args)
    finally:
        stack.stop()


def _bench(stack: EmbeddedStack, args: argparse.Namespace) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    first_rate: dict[str, float] = {}
    n = 0
    for order in [o for o in args.order.split(",") if o]:
        stack.reset()
        stack.start()
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        t0 = time.monotonic()
        n = prefill(bootstrap, tenant, args.records, order)
        print(f"pre-filled raw.zoho with {n:,} {order} records for tenant {tenant} in {time.monotonic() - t0:.1f}s")
        print(f"{'workers':>7} | {'events':>8} {'seconds':>8} {'events/s':>9} | {'steady s':>8} {'events/s':>9}"
              f" {'per worker':>10} {'RSS MB':>10}")
        for workers in [int(w) for w in args.workers.split(",")]:
            elapsed, steady, seen, rss = run(bootstrap, tenant, workers, n, env)
            if workers == 1:
                first_rate[order] = seen / steady
            print(f"{workers:>7} | {seen:>8,} {elapsed:>8.1f} {seen / elapsed:>9,.0f} | {steady:>8.1f}"
                  f" {seen / steady:>9,.0f} {seen / steady / workers:>10,.0f} {max(r for _, r in rss):>10.0f}"
                  + ("" if seen == n else f"   INCOMPLETE: expected {n:,}"))
            print("        RSS of worker 0 (MB) by events out: "
                  + ", ".join(f"{count:,}: {mb:.0f}" for count, mb in rss))
    print("(seconds: from the workers' start, with start-up and group join; steady: first output to last)")
    if "shuffled" in first_rate and "sorted" in first_rate:
        print(f"shuffled / sorted (1 worker, steady): {first_rate['shuffled'] / first_rate['sorted']:.3f}")
    # What faust alone costs per record here: the ceiling for any faust processor on this machine, on the last
    # order's records (the only ones on the stack).
    labels = {"read": ("read only", None), "aiokafka": ("read + send, aiokafka", "aiokafka"),
              "librdkafka": ("read + send, librdkafka", "librdkafka"),
              "publish": ("read + publish (streams path)", "publish")}
    for name in [f for f in args.floors.split(",") if f]:
        label, send = labels[name]
        rate = faust_floor(bootstrap, n, send, env)
        ratios = "".join(f"   streams {o} (1 worker, steady) / this: {r / rate:.3f}" for o, r in first_rate.items())
        print(f"faust floor, {label:<30}: {rate:>9,.0f} records/s{ratios}")


if __name__ == "__main__":
    main()
