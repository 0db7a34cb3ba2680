"""Rebuild every projection from offset 0 into a fresh schema, then swap it in atomically.

The live schema keeps answering queries (and the live projector keeps writing it) while the
new one fills. Worker processes split the partitions between them; when they have reached
the end offsets taken at the start, a last catch-up pass reads what arrived meanwhile, and
one transaction renames the live schema away and the new one into its place. The live
projector's next batch then finds offsets it did not write, and re-reads from them.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from common import log as log_reader
from projections.batch import BatchWriter
from projections.migrate import checked_schema, migrate
from projections.offsets import TopicPartitionKey, stored_offsets
from projections.projector import TOPICS, consumer_config

log = logging.getLogger(__name__)

REPLAY_BATCH = 20_000


def end_offsets(bootstrap: str, topics: tuple[str, ...] = TOPICS, attempts: int = 5) -> dict[TopicPartitionKey, int]:
    for attempt in range(attempts):
        try:
            return {(t, p): high for t in topics for p, (_, high) in log_reader.watermarks(bootstrap, t).items()}
        except log_reader.LogError:
            # A broker that just started or moved a leader answers again within seconds.
            if attempt == attempts - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def catch_up(bootstrap: str, dsn: str, schema: str, targets: dict[TopicPartitionKey, int],
             on_applied: Callable[[int], None] = lambda n: None, batch_size: int = REPLAY_BATCH) -> int:
    """Apply every record of `targets`' partitions from the stored offsets up to the target offsets."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        writer = BatchWriter(conn, schema, dead_letters=None)
        writer.positions = stored_offsets(conn, schema, targets)
        todo = {tp for tp, end in targets.items() if writer.positions[tp] < end}
        if not todo:
            return 0
        consumer = Consumer(consumer_config(bootstrap, f"mzsync-replay-{schema}"))
        applied = 0
        try:
            consumer.assign([TopicPartition(t, p, writer.positions[(t, p)]) for t, p in todo])
            while todo:
                msgs = [m for m in consumer.consume(batch_size, timeout=0.5) if m.error() is None]
                fresh = writer.fresh(msgs)
                if fresh:
                    result = writer.write(fresh)
                    if result.fenced:
                        raise RuntimeError(f"another process is writing {schema}; replay stopped")
                    applied += len(fresh)
                    on_applied(len(fresh))
                todo = {tp for tp in todo if writer.positions[tp] < targets[tp]}
        finally:
            consumer.close()
        return applied


def _worker(bootstrap: str, dsn: str, schema: str, targets: dict[TopicPartitionKey, int],
            counter: Any) -> None:
    def bump(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    catch_up(bootstrap, dsn, schema, targets, bump)


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} events/s")


def _parallel(bootstrap: str, dsn: str, schema: str, targets: dict[TopicPartitionKey, int], workers: int,
              show_progress: bool) -> None:
    # Largest partitions first, dealt round-robin, so the workers finish together.
    ordered = sorted(targets.items(), key=lambda kv: -kv[1])
    shares: list[dict[TopicPartitionKey, int]] = [dict(ordered[i::workers]) for i in range(workers)]
    ctx = mp.get_context("spawn")
    counter = ctx.Value("q", 0)
    procs = [ctx.Process(target=_worker, args=(bootstrap, dsn, schema, share, counter), daemon=True)
             for share in shares if share]
    for p in procs:
        p.start()
    total = sum(targets.values())
    with Progress(TextColumn("replay"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                  _Rate(), TimeRemainingColumn(), disable=not show_progress) as progress:
        task = progress.add_task("replay", total=total)
        while any(p.is_alive() for p in procs):
            progress.update(task, completed=min(counter.value, total))
            time.sleep(0.25)
        progress.update(task, completed=min(counter.value, total))
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"replay worker(s) failed with exit codes {failed}")


def swap(dsn: str, live: str, fresh: str, keep_old: bool) -> str | None:
    """Rename `fresh` to `live` in one transaction; the old live schema is dropped or kept renamed."""
    old = checked_schema(f"{live}_old_{datetime.now(UTC):%Y%m%d%H%M%S}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (live,)).fetchone()
            if exists:
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(live),
                                                                            sql.Identifier(old)))
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(fresh), sql.Identifier(live)))
        if exists and not keep_old and _drop(conn, old):
            return None
    return old if exists else None


def _drop(conn: psycopg.Connection[Any], schema: str, attempts: int = 5) -> bool:
    """Drop the swapped-out schema; False (it stays, renamed) if that keeps failing.

    A live projector's transaction that began before the swap still holds locks on the old tables, and the
    drop locks them one by one: PostgreSQL may abort the drop as the loser of a deadlock. The swap is done by
    then, so a schema left behind is only disk to reclaim, never a failed replay.
    """
    for attempt in range(1, attempts + 1):
        try:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            return True
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable) as exc:
            log.warning("dropping the old schema failed, trying again",
                        extra={"schema": schema, "attempt": attempt, "error": str(exc)})
            time.sleep(0.2 * attempt)
    log.warning("old schema kept: drop it later with DROP SCHEMA ... CASCADE", extra={"schema": schema})
    return False


def replay(bootstrap: str, dsn: str, live: str, workers: int = 2, keep_old: bool = False,
           swap_in: bool = True, show_progress: bool = True) -> str:
    """Build `live`'s replacement from offset 0; returns the name it was built under."""
    fresh = checked_schema(f"{live}_rebuild_{datetime.now(UTC):%Y%m%d%H%M%S}")
    migrate(dsn, fresh)
    started = time.perf_counter()
    _parallel(bootstrap, dsn, fresh, end_offsets(bootstrap), workers, show_progress)
    # What arrived while the workers ran; small, so one pass in this process.
    late = catch_up(bootstrap, dsn, fresh, end_offsets(bootstrap))
    log.info("replay caught up", extra={"schema": fresh, "late_events": late,
                                        "seconds": round(time.perf_counter() - started, 2)})
    if swap_in:
        old = swap(dsn, live, fresh, keep_old)
        log.info("replay swapped in", extra={"schema": live, "old_schema": old})
    return fresh
