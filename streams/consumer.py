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
one). Here the head must be acknowledged before anything after it is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from faust.types import TP

log = logging.getLogger(__name__)


class _Forgotten(dict[TP, int | None]):
    """faust's `_read_offset`: the drain loop reads it as "nothing read yet" for every partition, so it neither
    drops a record fetched again nor records a gap."""

    def __getitem__(self, tp: TP) -> int | None:
        return None


def harden(consumer: Any) -> None:
    """Turn off both shortcuts on a faust consumer (before it starts)."""
    consumer._read_offset = _Forgotten()
    faust_new_offset: Callable[[TP], int | None] = consumer._new_offset
    held: dict[TP, int] = {}

    def new_offset(tp: TP) -> int | None:
        acked, committed = consumer._acked[tp], consumer._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed:
            if held.get(tp) != committed:
                held[tp] = committed
                log.warning("commit held back: a record not processed yet comes first",
                            extra={"topic": tp.topic, "partition": tp.partition, "offset": committed})
            return None
        return faust_new_offset(tp)

    consumer._new_offset = new_offset
