"""What a batch sends to the next stages: one message per stage topic and partition (see streams/messages.py)."""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import DefaultPartitioner

from streams.messages import Item, encode_batch

_partitioner = DefaultPartitioner()

# Records per stage message, and bytes: a message over MAX_MESSAGE_BYTES is split in two until it is within it
# (or holds one record), well under the record size Kafka takes, so that a few large records never make one
# message the producer refuses.
MAX_ITEMS_PER_MESSAGE = 200
MAX_MESSAGE_BYTES = 512 * 1024


@lru_cache(maxsize=65_536)
def partition_of(key: str, partitions: int) -> int:
    """The partition the Java client, aiokafka and librdkafka (murmur2) give `key`: where its stage state lives.
    Cached: aiokafka's murmur2 is pure Python, and the same students' keys come again and again."""
    every = list(range(partitions))
    return int(_partitioner(key.encode(), every, every))


class Outbox:
    """Items gathered while a batch is processed, sent when it ends (before its input offsets are acked)."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._items: dict[tuple[str, int], list[Item]] = {}

    def add(self, topic: str, item: Item, partition: int | None = None) -> None:
        where = (topic, partition_of(item.key, self.partitions) if partition is None else partition)
        self._items.setdefault(where, []).append(item)

    def take(self) -> list[tuple[str, int, bytes]]:
        """(topic, partition, message value) for everything gathered; the outbox is empty afterwards."""
        out: list[tuple[str, int, bytes]] = []
        for (topic, partition), items in self._items.items():
            for start in range(0, len(items), MAX_ITEMS_PER_MESSAGE):
                out.extend((topic, partition, value)
                           for value in _encoded(items[start:start + MAX_ITEMS_PER_MESSAGE]))
        self.clear()
        return out

    def clear(self) -> None:
        self._items.clear()


def _encoded(items: list[Item]) -> list[bytes]:
    value = encode_batch(items)
    if len(value) <= MAX_MESSAGE_BYTES or len(items) == 1:
        return [value]
    half = len(items) // 2
    return _encoded(items[:half]) + _encoded(items[half:])
