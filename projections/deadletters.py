"""Dead letters for records the projector cannot apply: to the `deadletter` topic and its index."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from confluent_kafka import Producer

from common.topics import DEADLETTER
from projections.events import DeadLetterRow, Rejected
from schemas.codec import encode


def dead_letter_id(rejected: Rejected) -> str:
    # Deterministic: the same bad record rejected again (after a crash, in a replay) is one letter.
    p = rejected.position
    return hashlib.sha256(f"projections/{p.topic}/{p.partition}/{p.offset}".encode()).hexdigest()[:32]


def dead_letter_record(rejected: Rejected, timestamp_ms: int) -> dict[str, object]:
    p = rejected.position
    return {
        "dead_letter_id": dead_letter_id(rejected), "reason": rejected.reason, "message": rejected.message,
        "errors": [], "tenant": rejected.tenant, "source": "projections", "kind": p.topic,
        "raw": {"topic": p.topic, "partition": p.partition, "offset": p.offset},
        "raw_key": None if rejected.key is None else rejected.key.decode("utf-8", "replace"),
        "record_index": None, "record_id": None, "delivery_id": None, "content_type": "avro/binary",
        "occurred_at": None, "received_at": timestamp_ms, "body": rejected.value,
    }


def index_row(rejected: Rejected, timestamp_ms: int) -> DeadLetterRow:
    p = rejected.position
    received = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return DeadLetterRow((dead_letter_id(rejected), rejected.reason, rejected.message, "[]", rejected.tenant,
                          "projections", p.topic, p.topic, p.partition, p.offset,
                          None if rejected.key is None else rejected.key.decode("utf-8", "replace"),
                          None, None, None, "avro/binary", None, received, len(rejected.value)))


class DeadLetterWriter:
    def __init__(self, bootstrap: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                   "linger.ms": 5})

    def send(self, letters: list[tuple[Rejected, int]]) -> None:
        """Write and wait for the broker: the batch's offsets are committed only after this."""
        for rejected, ts in letters:
            # A rejected dead letter is indexed but not re-sent, or a bad letter would loop forever.
            if rejected.position.topic == DEADLETTER:
                continue
            self._producer.produce(DEADLETTER, key=rejected.key, value=encode("deadletter",
                                                                                dead_letter_record(rejected, ts)))
        if self._producer.flush(30) > 0:
            raise RuntimeError("dead letters not acknowledged by the broker")
