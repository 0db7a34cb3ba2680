"""Records waiting for a dependency: bounded per tenant, expired into the dead-letter topic."""

from __future__ import annotations

import base64
from typing import Any

from schemas.deadletter import DeadLetter, FieldError, dead_letter
from streams.events import CanonicalEvent
from streams.messages import event_from_avro

# A released record stays, marked with the input that released it, for this long: if the worker dies after
# its table writes reached the broker but before its outputs did, that input is read again after the restart,
# and the mark says what to send again. Faust commits input offsets every second; ten minutes is ample.
RELEASED_KEEP_MS = 10 * 60_000


def entry(kind: str, value: bytes, missing: list[str], now_ms: int) -> dict[str, Any]:
    return {"k": kind, "v": base64.b64encode(value).decode(), "m": missing, "at": now_ms}


def value_of(item: dict[str, Any]) -> bytes:
    return base64.b64decode(item["v"])


def position(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def is_released(item: dict[str, Any]) -> bool:
    return "rb" in item


def live(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records still waiting (not released)."""
    return [item for item in items if "rb" not in item]


def released(item: dict[str, Any], by: str, now_ms: int) -> dict[str, Any]:
    return {**item, "rb": by, "ra": now_ms}


def add(items: list[dict[str, Any]], new: dict[str, Any], event: CanonicalEvent) -> list[dict[str, Any]]:
    """Append, replacing an older wait for the same entity (the newer version is the one that matters)."""
    kept = []
    for item in items:
        if is_released(item):
            kept.append(item)
            continue
        other = event_from_avro(value_of(item))
        if other.entity == event.entity and other.entity_id == event.entity_id and _attempt(other) == _attempt(event):
            if other.source_version > event.source_version:
                return items
            continue
        kept.append(item)
    return [*kept, new]


def _attempt(event: CanonicalEvent) -> object:
    return (event.payload or {}).get("attempt_number")


def letter(event: CanonicalEvent, reason: str, missing: list[str], message: str) -> DeadLetter:
    return dead_letter(
        writer="streams",
        subject=event.event_id,
        reason=reason,
        message=message,
        tenant=event.tenant,
        source=event.origin,
        kind=event.entity,
        raw=event.raw,
        received_at_ms=event.received_at_ms,
        body=event.to_avro(),
        errors=tuple(FieldError(dep, "not found") for dep in missing),
        record_index=event.record_index,
        record_id=event.entity_id,
        delivery_id=event.delivery_id,
        content_type="avro/binary",
        occurred_at_ms=event.occurred_at_ms,
    )


def count_key(stage: str, tenant: str, partition: int) -> str:
    return f"{stage}/{tenant}#{partition}"
