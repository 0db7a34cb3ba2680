"""What parsing produces: canonical events (dead letters are `schemas.deadletter`), each able to encode itself."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from schemas.codec import encode
from schemas.deadletter import DeadLetter, RawPosition
from schemas.keys import EntityKey
from schemas.registry import registry
from streams.rules.identity import uuid5_text

Origin = Literal["zoho", "moodle"]


@cache
def _payload_branch(schema_name: str) -> str:
    """Full name of the payload record in today's schema."""
    (payload,) = (f for f in registry().latest(schema_name).parsed["fields"] if f["name"] == "payload")
    (record,) = (branch for branch in payload["type"] if isinstance(branch, dict))
    return str(record["name"])


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
        return EntityKey(self.tenant, self.entity_id).encode()

    @property
    def deleted(self) -> bool:
        return deletes(self.event_type)

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


Parsed = CanonicalEvent | DeadLetter


def enriched(event: CanonicalEvent, payload: dict[str, Any], *facts: str) -> CanonicalEvent:
    """`event` with join results in its payload: what the join added is part of what changed, so it gets its
    own fingerprint and (still deterministic) event id."""
    joined = "|".join(facts)
    return dataclasses.replace(
        event,
        payload=payload,
        fingerprint=hashlib.sha256(f"{event.fingerprint}|{joined}".encode()).hexdigest(),
        event_id=uuid5_text(uuid.NAMESPACE_URL, f"{event.event_id}|{joined}"),
    )


_ENTITY_NAMES: dict[str, str] = {
    "student": "Student", "program": "Program", "unit": "Unit", "class": "Class", "teacher": "Teacher",
    "enrollment": "Enrollment", "registration": "Registration", "payment": "Payment", "grade": "Grade",
    "moodle_user": "MoodleUser", "moodle_enrollment": "MoodleEnrollment",
}


def deletes(event_type: str) -> bool:
    """Whether an event of this type deletes its entity (`StudentDeleted`, `GradeDeleted`, …)."""
    return event_type.endswith("Deleted")


def event_type(entity: str, deleted: bool) -> str:
    """`StudentUpserted`, `StudentDeleted`, …; a grade is `GradeRecorded` / `GradeDeleted`."""
    name = _ENTITY_NAMES[entity]
    if deleted:
        return f"{name}Deleted"
    return "GradeRecorded" if entity == "grade" else f"{name}Upserted"
