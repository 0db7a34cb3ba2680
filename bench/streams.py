"""Canonical events per second of the streams workers on a pre-filled raw topic.

    python -m bench.streams [--records 100000] [--workers 1,2] [--order shuffled,sorted] [--floors 2]
    make bench-streams ARGS="--records 1000000 --workers 1 --order sorted"   (shuffled at this size exceeds PENDING_CAP)

For each input order, on a freshly emptied stack of its own: fills raw.zoho with the Zoho records of the
synthetic college (ops/college: reference data, students, registrations, payments, enrollments and many
grades, with the webhooks' variants) for a tenant of its own, exactly as the ingress would store them,
either shuffled (most grades arrive before what they name, and wait) or sorted (reference data, then
students, registrations, payments, enrollments, grades: nothing waits). Then starts a fresh streams
generation with 1 and with 2 workers and times how long they take to turn every record into its canonical
events (from the workers' start, and from worker 0's first input record to the last output: the steady
rate, as the floors count from their first record), sampling
worker 0's RSS as it goes (peak, and its slope over the second half of the events: flat is ~0). Last, on the
same records, faust agents that do nothing but read them, or read and send each on
(bench/faust_floor.py): the ceiling for any faust processor on this machine; every rate is printed as a
ratio to the floors measured in the same run, and shuffled as a ratio to sorted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

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

# Sorted input: everything a record names comes before it (stable within a kind: student by student).
_RANK = {entity: rank for rank, entity in enumerate(
    ("teacher", "program", "unit", "class", "student", "registration", "payment", "enrollment", "grade"))}


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
    else:
        requests.sort(key=lambda r: _RANK[r.entity])
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


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) process `pid` has used so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of process `pid` in MB (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class FirstInput(threading.Thread):
    """When worker 0 read its first raw record, and its CPU seconds then: its /metrics polled until
    `streams_raw_records_total` moves. The floors' clocks start at their first record too; a worker's first output
    can come seconds after that (group joins, table recovery, a first batch that waits), and counting from it
    left that work out of the rate and the CPU (runs of the same code differed by 25 %)."""

    def __init__(self, web_port: int, pid: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{web_port}/metrics"
        self.pid = pid
        self.at: float | None = None
        self.cpu = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            try:
                with urllib.request.urlopen(self.url, timeout=1) as answer:
                    text = answer.read().decode()
            except OSError:
                continue
            if any(line.startswith("streams_raw_records_total{") and float(line.rsplit(" ", 1)[1]) > 0
                   for line in text.splitlines()):
                self.at, self.cpu = time.monotonic(), cpu_s(self.pid)
                return

    def stop(self) -> None:
        self._done.set()


@dataclass
class Run:
    seen: int = 0
    first: float = 0.0
    last: float = 0.0
    # when worker 0 read its first raw record, and its CPU seconds then (FirstInput)
    started: float | None = None
    cpu_started: float = 0.0
    # (canonical events counted so far, worker 0's RSS in MB), about once a second
    rss: list[tuple[int, float]] = field(default_factory=list)
    # worker 0's CPU seconds and the events counted when its first output came, and at the last one
    cpu_first: tuple[float, int] = (0.0, 0)
    cpu_last: tuple[float, int] = (0.0, 0)

    def steady_s(self) -> float:
        """From worker 0's first input record (else its first output) to the last output."""
        return max(self.last - (self.first if self.started is None else self.started), 1e-9)

    def cpu_ms_per_1000(self) -> float:
        """Worker 0's CPU milliseconds per 1,000 events from its first input record to the last output (else from
        its first output): what the code costs, whatever else the machine runs meanwhile (one worker: all of them)."""
        if self.started is not None:
            return 0.0 if self.seen <= 0 else (self.cpu_last[0] - self.cpu_started) / self.seen * 1e6
        events = self.cpu_last[1] - self.cpu_first[1]
        return 0.0 if events <= 0 else (self.cpu_last[0] - self.cpu_first[0]) / events * 1e6

    def peak_rss(self) -> float:
        return max((mb for _, mb in self.rss), default=0.0)

    def rss_slope(self) -> float:
        """MB per 100,000 events over the second half of the events (least squares): ~0 when flat."""
        half = [(n, mb) for n, mb in self.rss if n >= self.seen / 2]
        if len(half) < 2:
            return 0.0
        mx = sum(n for n, _ in half) / len(half)
        my = sum(mb for _, mb in half) / len(half)
        var = sum((n - mx) ** 2 for n, _ in half)
        return 0.0 if var == 0 else sum((n - mx) * (mb - my) for n, mb in half) / var * 100_000


def count_outputs(bootstrap: str, start: dict[tuple[str, int], int], tenant: str, expected: int,
                  timeout: float, worker_pid: int) -> Run:
    """Count canonical events of `tenant` after `start`, sampling the worker's RSS as they come."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False})
    c.assign([TopicPartition(t, p, off) for (t, p), off in start.items()])
    prefix = f"{tenant}/".encode()
    # An event re-sent after a rebalance or restart has the same bytes (deterministic id and content): once.
    distinct: set[int] = set()
    run = Run(last=time.monotonic())
    deadline = time.monotonic() + timeout
    next_sample = 0.0
    while run.seen < expected and time.monotonic() < deadline:
        before = run.seen
        for msg in c.consume(1000, timeout=0.5):
            if msg.error() is None and (msg.key() or b"").startswith(prefix) and hash(msg.value()) not in distinct:
                distinct.add(hash(msg.value()))
                run.seen += 1
                run.last = time.monotonic()
                run.first = run.first or run.last
        if run.seen != before:
            run.cpu_last = (cpu_s(worker_pid), run.seen)
            if not before:
                run.cpu_first = run.cpu_last
        if time.monotonic() >= next_sample:
            run.rss.append((run.seen, rss_mb(worker_pid)))
            next_sample = time.monotonic() + 1.0
    run.rss.append((run.seen, rss_mb(worker_pid)))
    c.close()
    return run


def run(bootstrap: str, tenant: str, workers: int, expected: int, env: dict[str, str],
        timeout: float) -> tuple[float, Run]:
    """(seconds from the workers' start to the last output, what was counted)."""
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
        first_input = FirstInput(port(16100), procs[0].pid)
        first_input.start()
        undo.callback(first_input.stop)
        time.sleep(3)
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                raise RuntimeError(f"worker {i} exited: {(tmp / f'w{i}.log').read_text()[-2000:]}")
        counted = count_outputs(bootstrap, start, tenant, expected, timeout, procs[0].pid)
        counted.started, counted.cpu_started = first_input.at, first_input.cpu
    return counted.last - t0, counted


def faust_floor(bootstrap: str, expected: int, send: str | None, env: dict[str, str]) -> tuple[float, float]:
    """(records/s, CPU ms per 1,000 records) of a faust agent that only reads the pre-filled topic, or reads and
    sends each record on with `send` (aiokafka, librdkafka, publish: see bench/faust_floor.py)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    extra = {"FLOOR_TOPIC": RAW_ZOHO, "FLOOR_COUNT": str(expected), "FLOOR_RESULT": str(tmp / "result.json"),
             "FLOOR_SEND": send or "", "FLOOR_DATADIR": str(tmp / "data")}
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
    shutil.rmtree(tmp, ignore_errors=True)
    records = float(result["records"])
    return records / float(result["seconds"]), float(result["cpu_seconds"]) / records * 1e6


FLOORS = [("read only", None), ("read + publish (streams path)", "publish"),
          ("read + send, librdkafka", "librdkafka"), ("read + send, aiokafka", "aiokafka")]


Rates = dict[int, float]


class OrderResult(NamedTuple):
    steady: Rates  # events/s by workers, first input record to last output
    floors: dict[str, float]  # records/s by floor
    cpu: Rates  # worker 0's CPU ms per 1,000 events, by workers


def one_order(order: str, args: argparse.Namespace, settings: Settings) -> OrderResult:
    """Run every worker count on `order`'s records on a stack of its own."""
    with ExitStack() as undo:
        if settings.kafka_bootstrap_servers:
            bootstrap = settings.kafka_bootstrap_servers
        else:
            # A stack of its own, emptied first: the workers must read only this order's records.
            stack = own_stack(undo, ".stack-bench", kafka_port=23092, pg_port=23432,
                              partitions=settings.topic_partitions)
            bootstrap = stack.cfg.kafka_bootstrap
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        t0 = time.monotonic()
        records, n = prefill(bootstrap, tenant, args.records, order)
        print(f"\n{order}: pre-filled raw.zoho with {records:,} records ({n:,} events) for tenant {tenant} in "
              f"{time.monotonic() - t0:.1f}s")
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        print(f"{'workers':>7} | {'events':>8} {'seconds':>8} {'events/s':>9} | {'steady s':>8} {'events/s':>9}"
              f" {'per worker':>10} | {'RSS peak MB':>11} {'MB/100k, 2nd half':>17} | {'CPU ms/1k':>9}")
        steady: Rates = {}
        cpu: Rates = {}
        for workers in [int(w) for w in args.workers.split(",")]:
            elapsed, counted = run(bootstrap, tenant, workers, n, env, args.timeout)
            span = counted.steady_s()
            steady[workers] = counted.seen / span
            cpu[workers] = counted.cpu_ms_per_1000()
            print(f"{workers:>7} | {counted.seen:>8,} {elapsed:>8.1f} {counted.seen / elapsed:>9,.0f} | {span:>8.1f}"
                  f" {steady[workers]:>9,.0f} {steady[workers] / workers:>10,.0f} | {counted.peak_rss():>11.0f}"
                  f" {counted.rss_slope():>17.1f} | {cpu[workers]:>9.0f}"
                  + ("" if counted.seen == n else f"   INCOMPLETE: expected {n:,}"))
        print("(seconds: from the workers' start, with start-up and group join; steady: from worker 0's first input"
              " record to the last output; RSS and CPU (user + system, steady): worker 0)")
        # What faust alone costs per record here: the ceiling for any faust processor on this machine.
        measured = {label: faust_floor(bootstrap, records, send, env) for label, send in FLOORS[:args.floors]}
        for label, (rate, floor_cpu) in measured.items():
            ratios = "  ".join(f"{w} worker(s) / this: {r / rate:.3f}" for w, r in steady.items())
            print(f"faust floor, {label:<30}: {rate:>9,.0f} records/s   {ratios}   CPU ms/1k {floor_cpu:.0f}"
                  f" (1 worker's CPU / this: {cpu.get(1, 0.0) / floor_cpu:.2f})")
        return OrderResult(steady, {label: rate for label, (rate, _) in measured.items()}, cpu)


def _ratios(results: dict[str, OrderResult]) -> dict[str, float]:
    """The targets' ratios of one round: shuffled against sorted, and both against the sorted run's floor (the
    floor reads the same records, in whatever order)."""
    if "shuffled" not in results or "sorted" not in results:
        return {}
    shuffled, sorted_ = results["shuffled"].steady, results["sorted"].steady
    out = {f"shuffled / sorted ({w} worker(s), steady)": shuffled[w] / sorted_[w]
           for w in sorted(shuffled.keys() & sorted_.keys())}
    cpu_shuffled, cpu_sorted = results["shuffled"].cpu.get(1), results["sorted"].cpu.get(1)
    if cpu_shuffled and cpu_sorted:
        out["CPU per event, sorted / shuffled (1 worker)"] = cpu_sorted / cpu_shuffled
    floors = results["sorted"].floors
    label = FLOORS[1][0] if FLOORS[1][0] in floors else FLOORS[0][0]
    for order, steady in (("shuffled", shuffled), ("sorted", sorted_)):
        if 1 in steady:
            out[f"1 worker (steady) / faust floor {label} of the sorted run, {order}"] = steady[1] / floors[label]
    return out


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--order", default="shuffled,sorted", help="input orders, each on a freshly emptied stack")
    ap.add_argument("--floors", type=int, default=2, choices=range(1, len(FLOORS) + 1),
                    help="how many faust floors to measure: read only, + publish, + librdkafka send, + aiokafka send")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed for one worker count's run")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of every order, alternating, each order first in every other round; the ratios' "
                         "median and range are printed (single runs on a shared 2-core VM differ by up to ±25 %%)")
    args = ap.parse_args()
    settings = Settings()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    orders = args.order.split(",")
    ratios: dict[str, list[float]] = {}
    for n in range(args.repeat):
        ordered = orders if n % 2 == 0 else orders[::-1]
        if args.repeat > 1:
            print(f"\nround {n + 1} of {args.repeat}: {', '.join(ordered)}")
        results = {order: one_order(order, args, settings) for order in ordered}
        for label, value in _ratios(results).items():
            ratios.setdefault(label, []).append(value)
            print(f"{label}: {value:.3f}")
    if args.repeat > 1:
        print(f"\nover {args.repeat} rounds (median, lowest – highest):")
        for label, values in ratios.items():
            print(f"  {label}: {statistics.median(values):.3f}  ({min(values):.3f} – {max(values):.3f})")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
