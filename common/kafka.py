"""Kafka client settings every service shares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from common.settings import get_settings


def producer_config(bootstrap: str, linger_ms: int = 5) -> dict[str, Any]:
    """An idempotent producer that waits for every in-sync replica and partitions like faust and the ingress
    (Java's murmur2), so a key lands on the same partition whoever writes it."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "compression.type": "lz4",
        "linger.ms": linger_ms,
        "message.max.bytes": get_settings().max_record_bytes(),
    }


def produce_all(producer: Producer, messages: Iterable[tuple[str, bytes, bytes]], timeout_s: float = 30.0) -> None:
    """Send (topic, key, value) messages and wait until the broker has every one, or raise KafkaException:
    a consumer commits its input only after what it derived from it is stored."""
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(timeout_s) or failures:
        raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT, f"messages not delivered: {failures[:3]}"))
