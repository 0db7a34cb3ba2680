"""Raw webhook body → canonical events and dead letters. Pure: no I/O, no clocks, no state.

    parse_raw(*, source, kind, body, content_type, tenant, mapping, raw, received_at_ms,
              delivery_id) -> list[CanonicalEvent | DeadLetter]

`source` is "zoho" or "moodle"; `kind` the raw record's `kind` header (the Zoho module API
name or the Moodle event); `raw` the record's topic/partition/offset (and key, if given).
A batch yields one item per record, in order: each record is an event or a dead letter on
its own. Never raises: whatever the bytes, every input ends as events or dead letters.
The same arguments always give the same result, ids included, so a replay re-derives
identical events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from schemas.bodies import BodyError, decode_body
from schemas.deadletter import (
    INTERNAL_ERROR,
    INVALID_RECORD,
    NO_RECORDS,
    POINTER_WITHOUT_DATA,
    UNKNOWN_EVENT,
    UNKNOWN_MODULE,
    UNPARSEABLE_BODY,
    UNSUPPORTED_OPERATION,
    DeadLetter,
    FieldError,
    RawPosition,
    dead_letter,
)
from schemas.mapping import TenantMapping
from streams.events import CanonicalEvent, Origin, Parsed, event_type
from streams.mapping.errors import render, validate
from streams.mapping.moodle import MOODLE_ENTITIES, map_event
from streams.mapping.zoho import Invalid, deleted_entity_id, map_record
from streams.rules.grades import grade_version
from streams.rules.identity import derived_id, fingerprint
from streams.sources.moodle import MoodleEnvelope
from streams.sources.zoho import ZohoBatch, ZohoEvent, ZohoPointer

# Dead letters written by the streams carry this writer in their id.
WRITER = "streams"

__all__ = ["CanonicalEvent", "DeadLetter", "Parsed", "RawPosition", "parse_raw"]

_OPERATIONS: dict[str, Literal["upsert", "delete"]] = {
    "insert": "upsert", "create": "upsert", "created": "upsert", "update": "upsert", "updated": "upsert",
    "edit": "upsert", "upsert": "upsert", "create_or_edit": "upsert",
    "delete": "delete", "deleted": "delete", "remove": "delete",
}


@dataclass(frozen=True, slots=True)
class _Input:
    source: str
    kind: str
    body: bytes
    content_type: str
    tenant: str
    raw: RawPosition
    received_at_ms: int
    delivery_id: str | None

    def dead(self, reason: str, message: str, errors: tuple[FieldError, ...] | list[FieldError] = (), *,
             index: int | None = None, record_id: str | None = None, body: bytes | None = None,
             occurred_at_ms: int | None = None) -> DeadLetter:
        return dead_letter(
            writer=WRITER, subject=self.raw.subject(index), reason=reason, message=message, errors=tuple(errors),
            tenant=self.tenant, source=self.source, kind=self.kind, raw=self.raw, received_at_ms=self.received_at_ms,
            body=self.body if body is None else body, record_index=index, record_id=record_id,
            delivery_id=self.delivery_id, content_type=self.content_type or None, occurred_at_ms=occurred_at_ms,
        )

    def event(self, entity: str, entity_id: str, deleted: bool, origin: Origin, payload: dict[str, Any] | None,
              occurred_at_ms: int, source_version: int, index: int, warnings: tuple[str, ...]) -> CanonicalEvent:
        kind = event_type(entity, deleted)
        fp = fingerprint(entity, deleted, payload)
        return CanonicalEvent(
            entity=entity, event_type=kind, entity_id=entity_id, tenant=self.tenant, origin=origin,
            occurred_at_ms=occurred_at_ms, received_at_ms=self.received_at_ms, source_version=source_version,
            fingerprint=fp,
            event_id=derived_id(self.tenant, entity, entity_id, kind, fp, self.raw.topic, self.raw.partition,
                                self.raw.offset, index),
            payload=payload, raw=self.raw, record_index=index, delivery_id=self.delivery_id, warnings=warnings,
        )


def parse_raw(
    *,
    source: Literal["zoho", "moodle"],
    kind: str,
    body: bytes,
    content_type: str,
    tenant: str,
    mapping: TenantMapping,
    raw: RawPosition,
    received_at_ms: int,
    delivery_id: str | None,
) -> list[Parsed]:
    given = _Input(source, kind, body, content_type, tenant, raw, received_at_ms, delivery_id)
    try:
        if source == "zoho":
            return _zoho(given, mapping)
        if source == "moodle":
            return _moodle(given)
        return [given.dead(UNPARSEABLE_BODY, f"unknown source {source!r}; expected zoho or moodle")]
    except Exception as exc:  # the contract: a bug in a rule dead-letters one body, it never stops the stream
        return [given.dead(INTERNAL_ERROR, render(f"{type(exc).__name__}: {exc}") or type(exc).__name__)]


def _decode(given: _Input) -> Any | DeadLetter:
    try:
        return decode_body(given.body, given.content_type)
    except BodyError as exc:
        return given.dead(UNPARSEABLE_BODY, str(exc))


def _identity(keys: dict[str, Any]) -> dict[str, str]:
    return {key: key for key in keys}


# ---------------------------------------------------------------- Zoho

def _zoho(given: _Input, mapping: TenantMapping) -> list[Parsed]:
    obj = _decode(given)
    if isinstance(obj, DeadLetter):
        return [obj]
    entity = mapping.entity_for_module(given.kind)
    if entity is None and isinstance(obj, dict) and isinstance(obj.get("module"), str):
        entity = mapping.entity_for_module(obj["module"])
    if entity is None:
        known = ", ".join(sorted(m.module for m in mapping.entities.values()))
        return [given.dead(UNKNOWN_MODULE, f"Zoho module {given.kind!r} is not mapped for this tenant; known: {known}")]

    if isinstance(obj, list):
        return _zoho_records(given, mapping, entity, obj, "upsert", None, batch=True)
    if not isinstance(obj, dict):
        return [given.dead(UNPARSEABLE_BODY, "expected a JSON object or array")]

    data = obj.get("data")
    if isinstance(data, list):
        batch, errors = validate(ZohoBatch, obj, _identity(obj))
        if batch is None:
            return [given.dead(INVALID_RECORD, "malformed batch envelope", errors)]
        operation = _operation(batch.operation)
        if operation is None:
            return [given.dead(UNSUPPORTED_OPERATION, f"unsupported operation {batch.operation!r}")]
        return _zoho_records(given, mapping, entity, batch.data, operation, batch.timestamp, batch=True)
    if isinstance(data, dict):
        single, errors = validate(ZohoEvent, obj, _identity(obj))
        if single is None:
            return [given.dead(INVALID_RECORD, "malformed event envelope", errors)]
        operation = _operation(single.operation)
        if operation is None:
            return [given.dead(UNSUPPORTED_OPERATION, f"unsupported operation {single.operation!r}",
                               record_id=single.record_id, occurred_at_ms=single.timestamp)]
        record = _with_id(single.data, single.record_id, mapping, entity)
        return _zoho_records(given, mapping, entity, [record], operation, single.timestamp, batch=False)
    if "data" in obj:
        return [given.dead(UNPARSEABLE_BODY, "`data` must be a record object or a list of records",
                           [FieldError("data", "expected an object or a list", render(data))])]
    if ("ids" in obj or "zoho_id" in obj) and "id" not in obj:
        return _zoho_pointer(given, entity, obj)
    # A bare record: the body is the record itself.
    return _zoho_records(given, mapping, entity, [obj], "upsert", None, batch=False)


def _operation(value: str | None) -> Literal["upsert", "delete"] | None:
    return "upsert" if value is None else _OPERATIONS.get(value.strip().lower())


def _with_id(record: dict[str, Any], record_id: str | None, mapping: TenantMapping, entity: str) -> dict[str, Any]:
    """A workflow event may carry the id only beside the data, as `record_id`."""
    names = mapping.entities[entity].fields.get("zoho_id", ("id",))
    if record_id is None or any(record.get(name) not in (None, "") for name in names):
        return record
    return {**record, names[0]: record_id}


def _zoho_pointer(given: _Input, entity: str, obj: dict[str, Any]) -> list[Parsed]:
    ids = obj["ids"] if "ids" in obj else [obj["zoho_id"]]
    pointer, errors = validate(ZohoPointer, {**obj, "ids": ids}, _identity(obj))
    if pointer is None:
        return [given.dead(INVALID_RECORD, "malformed record pointer", errors)]
    operation = _operation(pointer.operation)
    if operation == "delete":
        occurred = pointer.timestamp or given.received_at_ms
        return [given.event(entity, rid, True, "zoho", None, occurred, occurred, index, ())
                for index, rid in enumerate(pointer.ids)]
    return [given.dead(
        POINTER_WITHOUT_DATA,
        f"the body names {entity} record(s) {', '.join(pointer.ids)} without their fields; ingress never calls "
        "Zoho, so configure the webhook (or Function) to send the record's data",
        record_id=pointer.ids[0] if len(pointer.ids) == 1 else None, occurred_at_ms=pointer.timestamp,
    )]


def _zoho_records(given: _Input, mapping: TenantMapping, entity: str, records: list[Any],
                  operation: Literal["upsert", "delete"], timestamp: int | None, *, batch: bool) -> list[Parsed]:
    if not records:
        return [given.dead(NO_RECORDS, "the batch holds no records", occurred_at_ms=timestamp)]
    out: list[Parsed] = []
    for index, record in enumerate(records):
        # A failed batch record carries its own bytes; the raw position points at the whole body.
        own_body = _record_bytes(record, given.body) if batch else None
        if not isinstance(record, dict):
            out.append(given.dead(INVALID_RECORD, "a record must be a JSON object",
                                  [FieldError("(record)", "expected an object", render(record))],
                                  index=index, body=own_body, occurred_at_ms=timestamp))
            continue
        if operation == "delete":
            entity_id = deleted_entity_id(entity, record, mapping)
            if entity_id is None:
                out.append(given.dead(INVALID_RECORD, "a delete without a record id",
                                      [FieldError("id", "is required")], index=index, body=own_body,
                                      occurred_at_ms=timestamp))
                continue
            occurred = timestamp or given.received_at_ms
            out.append(given.event(entity, entity_id, True, "zoho", None, occurred, occurred, index, ()))
            continue
        mapped = map_record(entity, record, mapping)
        if isinstance(mapped, Invalid):
            summary = "; ".join(f"{e.field}: {e.message}" for e in mapped.errors[:5])
            out.append(given.dead(INVALID_RECORD, f"invalid {entity} record: {summary}", mapped.errors,
                                  index=index, record_id=mapped.record_id, body=own_body, occurred_at_ms=timestamp))
            continue
        occurred = timestamp or mapped.modified_at_ms or given.received_at_ms
        at = mapped.modified_at_ms or occurred
        version = at if mapped.attempt_number is None else grade_version(mapped.attempt_number, at)
        out.append(given.event(entity, mapped.entity_id, False, "zoho", mapped.payload, occurred, version, index,
                               mapped.warnings))
    return out


def _record_bytes(record: Any, whole_body: bytes) -> bytes:
    try:
        return orjson.dumps(record)
    except (TypeError, orjson.JSONEncodeError):
        # Nested deeper than orjson writes: keep the whole body rather than lose the record.
        return whole_body


# ---------------------------------------------------------------- Moodle

def _moodle(given: _Input) -> list[Parsed]:
    obj = _decode(given)
    if isinstance(obj, DeadLetter):
        return [obj]
    if not isinstance(obj, dict):
        return [given.dead(UNPARSEABLE_BODY, "expected a JSON object")]
    envelope, errors = validate(MoodleEnvelope, obj, _identity(obj))
    if envelope is None:
        return [given.dead(INVALID_RECORD, "malformed Moodle event", errors)]
    event = given.kind if given.kind in MOODLE_ENTITIES else envelope.event_type
    if event not in MOODLE_ENTITIES:
        return [given.dead(UNKNOWN_EVENT, f"Moodle event {given.kind!r} is not one of: {', '.join(MOODLE_ENTITIES)}",
                           occurred_at_ms=envelope.timestamp)]
    data = envelope.data
    if envelope.sequence is not None and "sequence" not in data:
        data = {**data, "sequence": envelope.sequence}
    mapped = map_event(event, data)
    if isinstance(mapped, Invalid):
        summary = "; ".join(f"{e.field}: {e.message}" for e in mapped.errors[:5])
        return [given.dead(INVALID_RECORD, f"invalid {event} event: {summary}", mapped.errors,
                           occurred_at_ms=envelope.timestamp)]
    occurred = mapped.changed_at_ms or envelope.timestamp or given.received_at_ms
    version = occurred if mapped.attempt_number is None else grade_version(mapped.attempt_number, occurred)
    return [given.event(mapped.entity, mapped.entity_id, mapped.deleted, "moodle", mapped.payload, occurred,
                        version, 0, mapped.warnings)]
