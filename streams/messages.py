"""Internal messages between the stages: a canonical event (Avro) and a kind in a header."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.codec import decode
from streams.events import CanonicalEvent, RawPosition

KIND = "mz-kind"
# Extra routing facts travel in headers so the value stays a plain canonical event.
STUDENT = "mz-student"
EMAIL = "mz-email"


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def event_from_avro(data: bytes) -> CanonicalEvent:
    _, rec = decode(data)
    raw = rec["raw"]
    return CanonicalEvent(
        entity=rec["entity"],
        event_type=rec["event_type"],
        entity_id=rec["entity_id"],
        tenant=rec["tenant"],
        origin=rec["origin"],
        occurred_at_ms=_ms(rec["occurred_at"]),
        received_at_ms=_ms(rec["received_at"]),
        source_version=rec["source_version"],
        fingerprint=rec["fingerprint"],
        event_id=rec["event_id"],
        payload=rec["payload"],
        raw=RawPosition(raw["topic"], raw["partition"], raw["offset"]),
        record_index=rec["record_index"],
        delivery_id=rec["delivery_id"],
        warnings=tuple(rec["warnings"]),
    )


def header(headers: Mapping[str, bytes] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    return value.decode() if value is not None else None
