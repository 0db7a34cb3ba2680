"""Dead letters: an input that produced no result, why, and where it sits in the log.

Every service that gives up on a record builds its letter here, with one id scheme: the
writer, the input it gave up on (a raw position, or a canonical event id) and the reason.
The same input rejected again for the same reason — after a crash, in a replay, on a retry —
is the same letter, so the `deadletter` index holds it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from schemas.codec import encode
from schemas.keys import RawKey
from schemas.topics import DEADLETTER

# Reasons: stable strings for dashboards, `mzsync deadletter` filters and retries.
# Raw bodies the streams could not turn into an event:
INVALID_RECORD = "invalid_record"
UNPARSEABLE_BODY = "unparseable_body"
UNKNOWN_MODULE = "unknown_module"
UNKNOWN_EVENT = "unknown_event"
POINTER_WITHOUT_DATA = "pointer_without_data"
UNSUPPORTED_OPERATION = "unsupported_operation"
NO_RECORDS = "no_records"
INTERNAL_ERROR = "internal_error"
# Records the streams held for a dependency and had to let go:
UNRESOLVED_DEPENDENCY = "unresolved_dependency"
WAITING_CAPACITY_EXCEEDED = "waiting_capacity_exceeded"
# Derived records a consumer cannot read or apply:
UNDECODABLE = "undecodable_event"
MALFORMED = "malformed_event"
# Records Zoho refused:
ZOHO_REJECTED = "zoho_rejected"
# Records Moodle refused (its `{"exception", "errorcode", "message"}` answers):
MOODLE_REJECTED = "moodle_rejected"

# Reasons a fixed mapping or a fixed body can cure: `mzsync deadletter retry` re-appends these.
RETRYABLE_RAW_REASONS: tuple[str, ...] = (
    INVALID_RECORD, UNPARSEABLE_BODY, UNKNOWN_MODULE, UNKNOWN_EVENT, POINTER_WITHOUT_DATA, UNSUPPORTED_OPERATION,
    NO_RECORDS, INTERNAL_ERROR,
)


@dataclass(frozen=True, slots=True)
class RawPosition:
    """Where the input sits in the log; `key` is its record key when the caller has it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None

    def to_record(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    def subject(self, index: int | None = None) -> str:
        """The input as a dead-letter subject: a position, and the record's index inside a batch body."""
        return f"{self.topic}/{self.partition}/{self.offset}#{-1 if index is None else index}"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    value: str | None = None


def dead_letter_id(writer: str, subject: str, reason: str) -> str:
    return hashlib.sha256(f"{writer}|{subject}|{reason}".encode()).hexdigest()[:32]


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
    topic = DEADLETTER

    @property
    def key(self) -> bytes:
        """The input's own key, rebuilt from tenant/kind/record id when not given."""
        if self.raw.key is not None:
            return self.raw.key
        return RawKey(self.tenant, self.kind, self.record_id or "").encode()

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


# A letter keeps its body for a retry up to this size, and each error's value up to ERROR_VALUE_MAX characters:
# a body near the ingress's 1 MiB limit, with the letter around it, is over what a Kafka record may hold, and
# a letter that cannot be written stops whoever writes it. A larger body stays in the raw record it came from.
BODY_MAX = 512 * 1024
ERROR_VALUE_MAX = 1024


def dead_letter(*, writer: str, subject: str, reason: str, message: str, tenant: str, source: str, kind: str,
                raw: RawPosition, received_at_ms: int, body: bytes, errors: tuple[FieldError, ...] = (),
                record_index: int | None = None, record_id: str | None = None, delivery_id: str | None = None,
                content_type: str | None = None, occurred_at_ms: int | None = None) -> DeadLetter:
    """The one way to make a dead letter. `writer` is the service giving up (streams, projections, zoho-sink,
    moodle-sink); `subject` names its input (`RawPosition.subject()` or a canonical event id)."""
    if len(body) > BODY_MAX:
        message = (f"{message} (its body of {len(body)} bytes is not kept here, being over {BODY_MAX}: the raw "
                   f"record at {raw.topic}/{raw.partition}/{raw.offset} holds it)")
        body = b""
    errors = tuple(e if e.value is None or len(e.value) <= ERROR_VALUE_MAX
                   else FieldError(e.field, e.message, e.value[:ERROR_VALUE_MAX] + "…") for e in errors)
    return DeadLetter(
        reason=reason, message=message, tenant=tenant, source=source, kind=kind, raw=raw,
        received_at_ms=received_at_ms, body=body, dead_letter_id=dead_letter_id(writer, subject, reason),
        errors=errors, record_index=record_index, record_id=record_id, delivery_id=delivery_id,
        content_type=content_type, occurred_at_ms=occurred_at_ms,
    )
