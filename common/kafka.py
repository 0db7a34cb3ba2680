"""Kafka client settings every service shares."""

from __future__ import annotations

from typing import Any


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
    }
