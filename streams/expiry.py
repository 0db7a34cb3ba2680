"""Expiring waiting records on a tick: only the keys the stage's time-ordered index says are due."""

from __future__ import annotations

from collections.abc import Callable

from schemas.deadletter import UNRESOLVED_DEPENDENCY
from schemas.keys import tenant_of
from streams import waiting
from streams.app import WAITING
from streams.emit import dead
from streams.messages import unpack
from streams.state import State


async def expire(stage: str, pending: State, index: waiting.Index, partition: int,
                 why: Callable[[list[str]], str], now: int) -> None:
    """Dead-letter this partition's records that waited too long; drop released marks past their keep time.

    `now` is the tick's own send time (ms), not the clock when it is processed: a tick read again after a worker
    was down judges as it would have then, so it never drops a mark an input read again after it still needs
    (ticks and inputs share the partition, in order)."""
    for key in index.due(partition, now):
        items = pending.get(key, partition) or []
        keep = []
        for item in items:
            if waiting.is_released(item):
                if now - item["ra"] <= waiting.RELEASED_KEEP_MS:
                    keep.append(item)
                continue
            if now - item["at"] > index.expiry_ms:
                await dead(waiting.letter(unpack(item["v"]), UNRESOLVED_DEPENDENCY, item["m"], why(item["m"])))
            else:
                keep.append(item)
        if len(keep) != len(items):
            pending.set(key, keep or None, partition)
        index.update(key, tenant_of(key), partition, items, keep)
    WAITING.labels(stage, str(partition)).set(index.in_partition(partition))
