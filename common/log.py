"""Reading the log: end offsets, whole topics, one record, the tail of a topic, a record searched for.

The one reader used by the operator's tools, the sinks, tests and benchmarks. Readers assign
partitions explicitly and never commit, so they leave no consumer group behind on the cluster
(and never show up in `status`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Consumer, KafkaException, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp_ms: int

    @property
    def position(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("utf-8", "replace")


_MURMUR2 = DefaultPartitioner()


class LogError(RuntimeError):
    """The broker could not be reached or a topic does not exist."""


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        # Never used to commit: a unique id keeps readers from ever sharing state.
        "group.id": f"mzsync-ops-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "socket.timeout.ms": 10_000,
    })


def partitions(consumer: Consumer, topic: str, timeout: float = 10.0) -> list[int]:
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    except KafkaException as exc:
        raise LogError(f"broker unreachable: {exc}") from exc
    if meta is None or meta.error is not None or not meta.partitions:
        raise LogError(f"topic {topic} does not exist")
    return sorted(meta.partitions)


def watermarks(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    """(low, high) offsets per partition."""
    c = _consumer(bootstrap)
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions(c, topic)}
    except KafkaException as exc:
        raise LogError(f"cannot read offsets of {topic}: {exc}") from exc
    finally:
        c.close()


def scan(bootstrap: str, topic: str, start: dict[int, int] | None = None, stop: dict[int, int] | None = None,
         only: set[int] | None = None, idle_timeout: float = 30.0) -> Iterator[Record]:
    """Records of every partition (or the `only` ones) from `start` (default: the partition's
    beginning) up to `stop` (default: the end offsets now), interleaved as the broker hands them
    out. Gives up when no record has come for `idle_timeout` seconds, however long the read takes."""
    marks = watermarks(bootstrap, topic)
    todo = {}
    for p, (low, high) in marks.items():
        if only is not None and p not in only:
            continue
        begin = max(low, (start or {}).get(p, low))
        end = min(high, (stop or {}).get(p, high))
        if end > begin:
            todo[p] = (begin, end)
    if not todo:
        return
    c = _consumer(bootstrap)
    try:
        c.incremental_assign([TopicPartition(topic, p, begin) for p, (begin, _) in todo.items()])
        remaining = {p: end for p, (_, end) in todo.items()}
        deadline = time.monotonic() + idle_timeout
        while remaining:
            if time.monotonic() > deadline:
                raise LogError(f"reading {topic} stalled with partitions {sorted(remaining)} unfinished")
            for msg in c.consume(1000, timeout=0.5):
                deadline = time.monotonic() + idle_timeout
                if msg.error() is not None:
                    continue
                part, off = msg.partition(), msg.offset()
                if part is None or off is None or part not in remaining or off >= remaining[part]:
                    continue
                yield _record(msg)
                if off + 1 >= remaining[part]:
                    del remaining[part]
                    c.incremental_unassign([TopicPartition(topic, part)])
    finally:
        c.close()


def read_at(bootstrap: str, topic: str, partition: int, offset: int) -> Record:
    for record in scan(bootstrap, topic, {partition: offset}, {partition: offset + 1}, {partition}, idle_timeout=20):
        return record
    raise LogError(f"no record at {topic}:{partition}:{offset} (deleted by retention, or not written yet)")


def tail(bootstrap: str, topic: str, n: int) -> list[Record]:
    """The last `n` records of each partition, newest last by broker timestamp."""
    marks = watermarks(bootstrap, topic)
    start = {p: max(low, high - n) for p, (low, high) in marks.items()}
    records = sorted(scan(bootstrap, topic, start), key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    return records[-n:] if n else []


def partition_for(key: bytes, count: int) -> int:
    """The partition a keyed record goes to with Java's murmur2 partitioner (faust, the ingress, the streams)."""
    every = list(range(count))
    return int(_MURMUR2(key, every, every))


def find_newest(bootstrap: str, topic: str, partition: int, match: Callable[[Record], bool],
                limit: int = 200_000, window: int = 5_000) -> Record | None:
    """The newest record of one partition that `match`es, searched backwards window by window over at most
    the last `limit` records."""
    marks = watermarks(bootstrap, topic)
    if partition not in marks:
        raise LogError(f"{topic} has no partition {partition}")
    low, high = marks[partition]
    end = high
    while end > max(low, high - limit):
        start = max(low, end - window)
        found = None
        for record in scan(bootstrap, topic, {partition: start}, {partition: end}, {partition}, idle_timeout=20):
            if match(record):
                found = record
        if found is not None:
            return found
        end = start
    return None


def _record(msg: Any) -> Record:
    _, ts = msg.timestamp()
    return Record(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(),
                  {k: v for k, v in (msg.headers() or []) if v is not None}, int(ts))
