"""faust's consumer with two offset shortcuts turned off, so that no input is committed unread.

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
nothing fetches it again): the partition is then read again from its committed offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from faust.types import TP
from prometheus_client import Counter

log = logging.getLogger(__name__)

REREADS = Counter("streams_partition_rereads_total", "Partitions read again from their committed offset because "
                  "the first record after it was skipped", ["topic"])
# Seeks in flight, kept referenced until they finish.
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
    """Turn off both shortcuts on a faust consumer (before it starts)."""
    consumer._read_offset = _Forgotten()
    faust_new_offset: Callable[[TP], int | None] = consumer._new_offset
    held: dict[TP, tuple[int, float]] = {}

    def new_offset(tp: TP) -> int | None:
        acked, committed = consumer._acked[tp], consumer._committed_offset[tp]
        if not (acked and committed is not None and min(acked) > committed):
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
            seek = asyncio.ensure_future(consumer.seek(tp, committed))
            _rereads.add(seek)
            seek.add_done_callback(_rereads.discard)
        return None

    consumer._new_offset = new_offset
