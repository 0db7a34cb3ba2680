"""Internal messages between the stages: batches of parsed records in a compact JSON form (orjson).

A stage-topic message carries every record one batch of the sending stage routes to one partition:
`[[key, kind, student, email, event], ...]`, where `event` is `pack(CanonicalEvent)` — the event's fields
as a JSON list, decoded once per hop (Avro is written only on the canonical topics). One message per
partition and batch instead of one per record spares faust's per-message machinery, the costliest part of
a hop. Ticks (streams/ticks.py) stay single messages with a `mz-kind: tick` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import orjson

from schemas.codec import decode
from schemas.deadletter import RawPosition
from streams.events import CanonicalEvent, deletes

KIND = "mz-kind"
TICK = "tick"
_EPOCH_DAY = date(1970, 1, 1).toordinal()


class Item(NamedTuple):
    """One record on its way to the stage that owns `key` (tenant/id): what it is and the facts routing added."""

    key: str
    kind: str
    student: str | None
    email: str | None
    event: list[Any]


def _plain(value: Any) -> Any:
    """Dates and times as the Avro logical types store them (days, milliseconds): the same Avro bytes later."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, date):
        return value.toordinal() - _EPOCH_DAY
    return value


def pack(ev: CanonicalEvent) -> list[Any]:
    payload = None if ev.payload is None else {k: _plain(v) for k, v in ev.payload.items()}
    return [ev.entity, ev.event_type, ev.entity_id, ev.tenant, ev.origin, ev.occurred_at_ms, ev.received_at_ms,
            ev.source_version, ev.fingerprint, ev.event_id, payload,
            [ev.raw.topic, ev.raw.partition, ev.raw.offset], ev.record_index, ev.delivery_id, list(ev.warnings)]


def unpack(v: list[Any], *, payload: dict[str, Any] | None = None, event_type: str | None = None) -> CanonicalEvent:
    """The packed event; with `payload` or `event_type`, as the join fills it (cheaper than unpacking and then
    `dataclasses.replace`, once per canonical event)."""
    raw = v[11]
    return CanonicalEvent(
        entity=v[0], event_type=event_type or v[1], entity_id=v[2], tenant=v[3], origin=v[4], occurred_at_ms=v[5],
        received_at_ms=v[6], source_version=v[7], fingerprint=v[8], event_id=v[9],
        payload=v[10] if payload is None else payload, raw=RawPosition(raw[0], raw[1], raw[2]), record_index=v[12],
        delivery_id=v[13], warnings=tuple(v[14]),
    )


def is_deletion(v: list[Any]) -> bool:
    """Whether the packed event deletes its entity (as `CanonicalEvent.deleted`)."""
    return deletes(v[1])


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def event_from_avro(data: bytes) -> CanonicalEvent:
    """A canonical event read back from its topic (operators' tools and tests; the stages never need it)."""
    _, rec = decode(data)
    raw = rec["raw"]
    return CanonicalEvent(
        entity=rec["entity"], event_type=rec["event_type"], entity_id=rec["entity_id"], tenant=rec["tenant"],
        origin=rec["origin"], occurred_at_ms=_ms(rec["occurred_at"]), received_at_ms=_ms(rec["received_at"]),
        source_version=rec["source_version"], fingerprint=rec["fingerprint"], event_id=rec["event_id"],
        payload=rec["payload"], raw=RawPosition(raw["topic"], raw["partition"], raw["offset"]),
        record_index=rec["record_index"], delivery_id=rec["delivery_id"], warnings=tuple(rec["warnings"]),
    )


def encode_batch(items: list[Item]) -> bytes:
    return orjson.dumps([tuple(item) for item in items])


def decode_batch(data: bytes) -> list[Item]:
    return [Item(*item) for item in orjson.loads(data)]


def header(headers: Mapping[str, bytes] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    return value.decode() if value is not None else None
