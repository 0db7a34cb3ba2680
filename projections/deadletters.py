"""Dead letters for records the projector cannot apply: to the `deadletter` topic and its index."""

from __future__ import annotations

from datetime import UTC, datetime

from confluent_kafka import Producer

from projections.events import DeadLetterRow, Rejected
from schemas.deadletter import DeadLetter, RawPosition, dead_letter
from schemas.topics import DEADLETTER


def letter(rejected: Rejected, timestamp_ms: int) -> DeadLetter:
    # Deterministic: the same bad record rejected again (after a crash, in a replay) is one letter.
    p = rejected.position
    raw = RawPosition(p.topic, p.partition, p.offset, rejected.key)
    return dead_letter(writer="projections", subject=raw.subject(), reason=rejected.reason, message=rejected.message,
                       tenant=rejected.tenant, source="projections", kind=p.topic, raw=raw,
                       received_at_ms=timestamp_ms, body=rejected.value, content_type="avro/binary")


def index_row(rejected: Rejected, timestamp_ms: int) -> DeadLetterRow:
    d = letter(rejected, timestamp_ms)
    received = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return DeadLetterRow((d.dead_letter_id, d.reason, d.message, "[]", d.tenant, d.source, d.kind, d.raw.topic,
                          d.raw.partition, d.raw.offset, None if d.raw.key is None else d.raw.key.decode(
                              "utf-8", "replace"), None, None, None, d.content_type, None, received, len(d.body)))


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
            self._producer.produce(DEADLETTER, key=rejected.key, value=letter(rejected, ts).to_avro())
        if self._producer.flush(30) > 0:
            raise RuntimeError("dead letters not acknowledged by the broker")
