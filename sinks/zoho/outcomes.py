"""What the sink tells the log: one zoho.outcome per record, a dead letter per record Zoho rejected."""

from __future__ import annotations

import json
import time

from common.batched_consumer import Outgoing
from schemas.codec import encode
from schemas.deadletter import ZOHO_REJECTED, FieldError, RawPosition, dead_letter
from schemas.keys import OutcomeKey
from schemas.topics import DEADLETTER, ZOHO_OUTCOMES
from sinks.zoho.mapping import LO_SUBFORM, ZohoWrite
from sinks.zoho.writer import Outcome


def outcome_message(outcome: Outcome, note: str | None = None) -> Outgoing:
    w = outcome.write
    record = {
        "tenant": w.tenant, "module": w.module, "record_key": w.record_key, "action": outcome.action,
        "zoho_id": outcome.zoho_id, "attempt": outcome.attempt, "error_code": outcome.error_code,
        "error_message": outcome.error_message if outcome.error_message is not None else note,
        "event_id": w.event_id, "entity": w.entity, "entity_id": w.entity_id, "fingerprint": w.fingerprint,
        "occurred_at": int(time.time() * 1000),
    }
    return ZOHO_OUTCOMES, OutcomeKey(w.tenant, w.module, w.record_key).encode(), encode("zoho.outcome", record)


def _body(write: ZohoWrite) -> bytes:
    record = dict(write.fields)
    if write.rows is not None:
        record[LO_SUBFORM] = list(write.rows)
    return json.dumps(record, sort_keys=True, default=str).encode()


def dead_letter_message(outcome: Outcome) -> Outgoing:
    w = outcome.write
    # One dead letter per rejected event, whatever the number of times it is retried.
    letter = dead_letter(
        writer="zoho-sink", subject=f"{w.event_id}|{w.module}", reason=ZOHO_REJECTED,
        message=f"Zoho rejected {w.module} {w.record_key}: {outcome.error_code} {outcome.error_message}",
        tenant=w.tenant, source="moodle", kind=w.module,
        raw=RawPosition(str(w.raw["topic"]), int(w.raw["partition"]), int(w.raw["offset"])),
        received_at_ms=w.received_at_ms, body=_body(w),
        errors=(FieldError(outcome.error_field or w.module, f"{outcome.error_code}: {outcome.error_message}"),),
        record_id=w.record_key,
    )
    return DEADLETTER, letter.key, letter.to_avro()
