"""Expiring waiting records on a tick: only the groups the stage's time-ordered index says are due."""

from __future__ import annotations

from collections.abc import Callable

from schemas.deadletter import UNRESOLVED_DEPENDENCY
from streams import waiting
from streams.app import WAITING
from streams.emit import dead
from streams.messages import unpack

# What a waiting record (group, item, partition) lacks now: its stored list says what it lacked when it started
# waiting, and may be out of date.
Lacking = Callable[[str, waiting.Item, int], list[str]]


def as_stored(group: str, item: waiting.Item, partition: int) -> list[str]:
    return list(item["m"])


async def expire(stage: str, pending: waiting.Waiting, partition: int, why: Callable[[list[str]], str],
                 now: int, lacking: Lacking = as_stored) -> None:
    """Dead-letter this partition's records that waited too long.

    `now` is the tick's own send time (ms), not the clock when it is processed, so a tick read again after a
    worker was down judges as it would have then."""
    for group in pending.due(partition, now):
        for key, item in pending.items(group, partition):
            if now - item["at"] > pending.expiry_ms:
                missing = lacking(group, item, partition) or item["m"]
                await dead(waiting.letter(unpack(item["v"]), UNRESOLVED_DEPENDENCY, missing, why(missing)))
                pending.drop(group, partition, key)
        pending.settle(group, partition)
    WAITING.labels(stage, str(partition)).set(pending.in_partition(partition))
