"""What parsing produces: canonical events and dead letters, each able to encode itself as Avro."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from schemas.codec import encode
from schemas.registry import registry

Origin = Literal["zoho", "moodle"]

# Dead-letter reasons, stable strings for dashboards and retries.
INVALID_RECORD = "invalid_record"
UNPARSEABLE_BODY = "unparseable_body"
UNKNOWN_MODULE = "unknown_module"
UNKNOWN_EVENT = "unknown_event"
POINTER_WITHOUT_DATA = "pointer_without_data"
UNSUPPORTED_OPERATION = "unsupported_operation"
# A batch with no records: nothing to map, but every accepted body must end somewhere visible.
NO_RECORDS = "no_records"
INTERNAL_ERROR = "internal_error"


@cache
def _payload_branch(schema_name: str) -> str:
    """Full name of the payload record in today's schema."""
    (payload,) = (f for f in registry().latest(schema_name).parsed["fields"] if f["name"] == "payload")
    (record,) = (branch for branch in payload["type"] if isinstance(branch, dict))
    return str(record["name"])


@dataclass(frozen=True, slots=True)
class RawPosition:
    """Where the raw body sits in the log; `key` is the raw record's key when the caller has it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None

    def to_record(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    entity: str
    event_type: str
    entity_id: str
    tenant: str
    origin: Origin
    occurred_at_ms: int
    received_at_ms: int
    source_version: int
    fingerprint: str
    event_id: str
    payload: dict[str, Any] | None
    raw: RawPosition
    record_index: int = 0
    delivery_id: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def schema_name(self) -> str:
        return f"canonical.{self.entity}"

    @property
    def topic(self) -> str:
        return self.schema_name

    @property
    def key(self) -> bytes:
        return f"{self.tenant}/{self.entity_id}".encode()

    @property
    def deleted(self) -> bool:
        return self.event_type.endswith("Deleted")

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "tenant": self.tenant,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "origin": self.origin,
            "occurred_at": self.occurred_at_ms,
            "received_at": self.received_at_ms,
            "source_version": self.source_version,
            "raw": self.raw.to_record(),
            "record_index": self.record_index,
            "delivery_id": self.delivery_id,
            "fingerprint": self.fingerprint,
            "warnings": list(self.warnings),
            "payload": self.payload,
        }

    def to_avro(self) -> bytes:
        record = self.to_record()
        if self.payload is not None:
            # Naming the union branch spares fastavro from trying the payload against each branch.
            record["payload"] = (_payload_branch(self.schema_name), self.payload)
        return encode(self.schema_name, record)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    message: str
    tenant: str
    source: str
    kind: str
    raw: RawPosition
    received_at_ms: int
    body: bytes
    dead_letter_id: str
    errors: tuple[FieldError, ...] = field(default_factory=tuple)
    record_index: int | None = None
    record_id: str | None = None
    delivery_id: str | None = None
    content_type: str | None = None
    occurred_at_ms: int | None = None

    schema_name = "deadletter"
    topic = "deadletter"

    @property
    def key(self) -> bytes:
        """The raw record's key (docs/contract.md), rebuilt from tenant/kind/record id when not given."""
        if self.raw.key is not None:
            return self.raw.key
        return f"{self.tenant}/{self.kind}/{self.record_id or ''}".encode()

    def to_record(self) -> dict[str, Any]:
        return {
            "dead_letter_id": self.dead_letter_id,
            "reason": self.reason,
            "message": self.message,
            "errors": [{"field": e.field, "message": e.message, "value": e.value} for e in self.errors],
            "tenant": self.tenant,
            "source": self.source,
            "kind": self.kind,
            "raw": self.raw.to_record(),
            "raw_key": None if self.raw.key is None else self.raw.key.decode("utf-8", "replace"),
            "record_index": self.record_index,
            "record_id": self.record_id,
            "delivery_id": self.delivery_id,
            "content_type": self.content_type,
            "occurred_at": self.occurred_at_ms,
            "received_at": self.received_at_ms,
            "body": self.body,
        }

    def to_avro(self) -> bytes:
        return encode(self.schema_name, self.to_record())


Parsed = CanonicalEvent | DeadLetter


def enriched(event: CanonicalEvent, payload: dict[str, Any], *facts: str) -> CanonicalEvent:
    """`event` with join results in its payload: what the join added is part of what changed, so it gets its
    own fingerprint and (still deterministic) event id."""
    joined = "|".join(facts)
    return dataclasses.replace(
        event,
        payload=payload,
        fingerprint=hashlib.sha256(f"{event.fingerprint}|{joined}".encode()).hexdigest(),
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event.event_id}|{joined}")),
    )


_ENTITY_NAMES: dict[str, str] = {
    "student": "Student", "program": "Program", "unit": "Unit", "class": "Class", "teacher": "Teacher",
    "enrollment": "Enrollment", "registration": "Registration", "payment": "Payment", "grade": "Grade",
    "moodle_user": "MoodleUser", "moodle_enrollment": "MoodleEnrollment",
}


def event_type(entity: str, deleted: bool) -> str:
    """`StudentUpserted`, `StudentDeleted`, …; a grade is `GradeRecorded` / `GradeDeleted`."""
    name = _ENTITY_NAMES[entity]
    if deleted:
        return f"{name}Deleted"
    return "GradeRecorded" if entity == "grade" else f"{name}Upserted"
