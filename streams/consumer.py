"""faust's consumer and stream with their offset shortcuts turned off, so that no input is committed unread.

faust-streaming 0.15.3 remembers, per partition, the last offset it handed to a stream, drops any record fetched
again below it, and takes a jump above it for a gap whose offsets it later commits as if read. Both assume the
fetcher never races the seek to the committed offsets that ends a rebalance, and it does: a batch fetched just
before the seek goes on being handed out after it and moves that offset back up, so the records the seek asked
to read again are dropped (tests/e2e/test_chaos.py, with logging: twenty raw records dropped at once after a
worker restart and a broker restart). A record dropped there that a stream had not processed before is lost
without an error, and a run of that test lost the items of one stage message in just that situation. Here
nothing is remembered: a record fetched again is handed out again, processed twice at worst, which every stage
tolerates (at-least-once, outputs idempotent by event id).

The second shortcut: faust commits past one unacknowledged record at the head of a partition (its check allows a
difference of one between the committed offset, which is the next offset to read, and the lowest acknowledged
one). Here the head must be acknowledged before anything after it is committed. A head still unprocessed a few
seconds later was skipped for good (a stream drops a record fetched in the generation before a rebalance, and
nothing fetches it again): the partition is then read again from its committed offset. A partition its group
never committed has no committed offset in faust, and faust's first commit there took whatever run of records
had been processed first; here it is the log's start, where a new group begins reading.

And a third: faust's `Stream.take_events` acknowledges a batch in a `finally`, so a batch whose processing raised
(the agent is restarted) or was cancelled (the worker stopped) counted as processed, and the next commit went
past it. `Stream` below acknowledges a batch only once its body has run; an unacknowledged batch holds its
partitions' commits back until they are read again, as above.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import faust
from faust.types import TP, EventT
from mode import Seconds
from prometheus_client import Counter

log = logging.getLogger(__name__)

REREADS = Counter("streams_partition_rereads_total", "Partitions read again from their committed offset because "
                  "the first record after it was skipped", ["topic"])
# Rereads in flight, kept referenced until they finish.
_rereads: set[asyncio.Future[None]] = set()


class _Forgotten(dict[TP, int | None]):
    """faust's `_read_offset`: the drain loop reads it as "nothing read yet" for every partition, so it neither
    drops a record fetched again nor records a gap."""

    def __getitem__(self, tp: TP) -> int | None:
        return None


# How long a partition's first unprocessed record may trail the ones after it before the partition is read again
# from there: within one partition records are acknowledged in order, so a trailing head was skipped.
REREAD_AFTER_S = 3.0


def harden(consumer: Any) -> None:
    """Turn off the shortcuts on a faust consumer (before it starts)."""
    consumer._read_offset = _Forgotten()
    faust_new_offset: Callable[[TP], int | None] = consumer._new_offset
    faust_perform_seek: Callable[[], Awaitable[None]] = consumer.perform_seek
    held: dict[TP, tuple[int, float]] = {}

    async def perform_seek() -> None:
        """faust's seek to the committed offsets; a partition its group never committed is read from the log's
        start (`consumer_auto_offset_reset`), which is then the offset nothing may be committed past unread.
        faust leaves it unknown, and its first commit there would take whatever run of records came first."""
        await faust_perform_seek()
        changelogs = consumer.app.tables.changelog_topics
        fresh = [tp for tp in consumer.assignment()
                 if tp.topic not in changelogs and consumer._committed_offset[tp] is None]
        if fresh:
            for tp, offset in (await consumer.earliest_offsets(*fresh)).items():
                consumer._committed_offset[tp] = offset

    async def read_again(tp: TP, committed: int) -> None:
        start = (await consumer.earliest_offsets(tp)).get(tp, 0)
        if start > committed:
            # The log's retention dropped what was not read: nothing below its start can be read again.
            log.warning("records expired unread", extra={"topic": tp.topic, "partition": tp.partition,
                                                        "committed": committed, "log_start": start})
            consumer._committed_offset[tp] = start
            return
        await consumer.seek(tp, committed)

    def new_offset(tp: TP) -> int | None:
        acked, committed = consumer._acked[tp], consumer._committed_offset[tp]
        # A partition revoked by a rebalance keeps faust's acks, but its commit is discarded and another worker
        # reads it now: nothing to hold back or read again here.
        if not (acked and committed is not None and min(acked) > committed) or tp not in consumer.assignment():
            held.pop(tp, None)
            return faust_new_offset(tp)
        since = held.get(tp)
        now = time.monotonic()
        if since is None or since[0] != committed:
            held[tp] = (committed, now)
            log.warning("commit held back: a record not processed yet comes first",
                        extra={"topic": tp.topic, "partition": tp.partition, "offset": committed})
        elif now - since[1] > REREAD_AFTER_S:
            held[tp] = (committed, now)
            log.warning("reading a partition again from its committed offset: a record was skipped",
                        extra={"topic": tp.topic, "partition": tp.partition, "offset": committed})
            REREADS.labels(tp.topic).inc()
            reread = asyncio.ensure_future(read_again(tp, committed))
            _rereads.add(reread)
            reread.add_done_callback(_reread_done)
        return None

    consumer._new_offset = new_offset
    consumer.perform_seek = perform_seek


def _reread_done(reread: asyncio.Future[None]) -> None:
    _rereads.discard(reread)
    if not reread.cancelled() and reread.exception() is not None:
        # Revoked meanwhile: the worker that owns the partition now reads it from the committed offset.
        log.warning("reading a partition again failed", extra={"error": repr(reread.exception())})


class Stream(faust.Stream):
    """faust's stream, with batches (`take_events`) acknowledged only once their body has run."""

    _failed_batch = False

    async def take_events(self, max_: int, within: Seconds) -> AsyncGenerator[Sequence[EventT], None]:
        batches = super().take_events(max_, within)
        try:
            async for events in batches:
                try:
                    yield events
                except BaseException:
                    # faust's generator acknowledges the batch as it closes: not this one.
                    self._failed_batch = True
                    raise
        finally:
            try:
                await batches.aclose()
            finally:
                self._failed_batch = False

    async def ack(self, event: EventT) -> bool:
        if self._failed_batch:
            # Not acknowledged, nor awaited by a rebalance (faust waits for every message it handed out).
            consumer: Any = self.app.consumer
            consumer._unacked_messages.discard(event.message)
            return False
        return await super().ack(event)
