"""Events/s of a full projection replay, next to a plain COPY of the same rows, in one run.

    python -m bench.replay [--events 1000000] [--workers 2]

Fills the canonical topics with the synthetic college as canonical events (ops/college/events.py:
students, registrations with schedules, payments, enrollments, Moodle users, grades with attempts
and learning outcomes, late older versions, duplicates, deletes), replays every canonical topic
from offset 0 into a fresh schema (`python -m projections replay`, without the swap), then
COPYs the rows that replay produced into another fresh schema with the same tables and
indexes. COPY is the floor for putting those rows into PostgreSQL; the replay also reads
Kafka, decodes Avro, resolves newer-wins and keeps offsets transactional.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
from psycopg import sql

from bench.harness import own_stack, stops_what_it_starts
from common.settings import Settings
from ops.college.events import Message, events, produce, replay_sizes
from ops.college.model import build
from projections.migrate import migrate
from projections.replay import end_offsets, replay
from projections.tables import PROJECTION_TABLES


def college_events(tenant: str, wanted: int) -> Iterator[Message]:
    """About `wanted` events: a small college of the same shape measures the events per student."""
    sample = 500
    per_student = sum(1 for _ in events(tenant, build(1, replay_sizes(sample)))) / sample
    return events(tenant, build(7, replay_sizes(int(wanted / per_student) + 1)))


def copy_same_rows(dsn: str, source: str, target: str) -> tuple[int, float]:
    """Rows copied and seconds spent in COPY … FROM (the dump to disk before it is not timed)."""
    migrate(dsn, target)
    rows, elapsed = 0, 0.0
    with psycopg.connect(dsn) as conn, tempfile.TemporaryDirectory() as tmp:
        for table in PROJECTION_TABLES:
            path = os.path.join(tmp, table)
            with open(path, "wb") as fh, conn.cursor().copy(
                    sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(source, table))) as cp:
                for chunk in cp:
                    fh.write(chunk)
            conn.commit()
            started = time.perf_counter()
            with open(path, "rb") as fh, conn.cursor().copy(
                    sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(target, table))) as cp:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
            conn.commit()
            elapsed += time.perf_counter() - started
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(target, table))).fetchone()
            rows += int(count[0]) if count else 0
    return rows, elapsed


@stops_what_it_starts
def main(undo: ExitStack) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    settings = Settings()
    if settings.kafka_bootstrap_servers and settings.database_url:
        bootstrap, dsn = settings.kafka_bootstrap_servers, settings.database_url
    else:
        # A stack of its own, emptied first: the replay must read only the benchmark's events.
        stack = own_stack(undo, ".stack-bench", kafka_port=23092, pg_port=23432, partitions=settings.topic_partitions)
        bootstrap, dsn = stack.cfg.kafka_bootstrap, stack.cfg.database_url
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    produced = produce(bootstrap, college_events(tenant, args.events))
    in_log = sum(end_offsets(bootstrap).values())
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"produced {produced:,} canonical events for {tenant} in {time.monotonic() - started:.0f}s;"
          f" {in_log:,} records in the projector's topics")
    live = f"bench_{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    built = replay(bootstrap, dsn, live, workers=args.workers, swap_in=False, show_progress=True)
    replay_s = time.perf_counter() - started
    rows, copy_s = copy_same_rows(dsn, built, f"{live}_copy")
    print(f"replay  : {in_log:>10,} events {replay_s:>7.1f}s {in_log / replay_s:>9,.0f} events/s"
          f"  ({args.workers} workers, migrations and catch-up included)")
    print(f"COPY    : {rows:>10,} rows   {copy_s:>7.1f}s {rows / copy_s:>9,.0f} rows/s  (same rows, same indexes)")
    print(f"replay / COPY time ratio: {copy_s / replay_s:.2f}  (target ≥ 0.3); target ≥ 30,000 events/s")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in (built, f"{live}_copy"):
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
