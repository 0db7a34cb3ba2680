"""Retrying a failed Zoho sync: the canonical event that failed is appended again, unchanged.

The sink records what it wrote only on success, so the same event is news to it a second time.
"""

from __future__ import annotations

import time

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Consumer, TopicPartition

from common.topics import canonical
from schemas.codec import decode

# How far back in the record's partition to look for the event.
SCAN_LIMIT = 200_000
WINDOW = 5_000
_partitioner = DefaultPartitioner()


def find_event(bootstrap: str, tenant: str, entity: str, entity_id: str, event_id: str,
               partitions: int) -> bytes | None:
    """The Avro bytes of `event_id`, searched newest first in the partition its key maps to."""
    topic = canonical(entity)
    key = f"{tenant}/{entity_id}".encode()
    part = int(_partitioner(key, list(range(partitions)), list(range(partitions))))
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "control-plane-retry", "enable.auto.commit": False}
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
        end = high
        while end > max(low, high - SCAN_LIMIT):
            start = max(low, end - WINDOW)
            consumer.assign([TopicPartition(topic, part, start)])
            found, read, deadline = None, start, time.monotonic() + 20
            while read < end and time.monotonic() < deadline:
                for msg in consumer.consume(1000, timeout=1):
                    offset, value = msg.offset(), msg.value()
                    if msg.error() or offset is None or offset >= end:
                        continue
                    read = offset + 1
                    if msg.key() == key and value and decode(value)[1]["event_id"] == event_id:
                        found = value
            if found is not None:
                return found
            end = start
        return None
    finally:
        consumer.close()
