"""Expiring waiting records on a tick: only the groups the stage's time-ordered index says are due."""

from __future__ import annotations

from collections.abc import Callable

from schemas.deadletter import UNRESOLVED_DEPENDENCY
from streams import waiting
from streams.app import WAITING
from streams.emit import dead
from streams.messages import unpack


async def expire(stage: str, pending: waiting.Waiting, partition: int, why: Callable[[list[str]], str],
                 now: int) -> None:
    """Dead-letter this partition's records that waited too long; drop released marks past their keep time.

    `now` is the tick's own send time (ms), not the clock when it is processed: a tick read again after a worker
    was down judges as it would have then, so it never drops a mark an input read again after it still needs
    (ticks and inputs share the partition, in order)."""
    for group in pending.due(partition, now):
        for key, item in pending.items(group, partition):
            if waiting.is_released(item):
                if now - item["ra"] > waiting.RELEASED_KEEP_MS:
                    pending.drop(group, partition, key)
            elif now - item["at"] > pending.expiry_ms:
                await dead(waiting.letter(unpack(item["v"]), UNRESOLVED_DEPENDENCY, item["m"], why(item["m"])))
                pending.drop(group, partition, key)
        pending.settle(group, partition)
    WAITING.labels(stage, str(partition)).set(pending.in_partition(partition))
