"""What the sink tells the log: one moodle.outcome per record, a dead letter per record Moodle rejected."""

from __future__ import annotations

import json
import time

from common.batched_consumer import Outgoing
from schemas.codec import encode
from schemas.deadletter import MOODLE_REJECTED, FieldError, RawPosition, dead_letter
from schemas.keys import OutcomeKey
from schemas.topics import DEADLETTER, MOODLE_OUTCOMES
from sinks.moodle.provision import Outcome


def outcome_message(outcome: Outcome) -> Outgoing:
    w = outcome.write
    record = {
        "tenant": w.tenant, "entity": w.entity, "record_key": w.zoho_id if w.kind != "enrolment" or
        w.entity == "enrollment" else w.record_key, "action": outcome.action, "moodle_id": outcome.moodle_id,
        "attempt": outcome.attempt, "error_code": outcome.error_code, "error_message": outcome.error_message,
        "event_id": w.event_id, "entity_id": w.zoho_id, "fingerprint": None, "source_version": w.source_version,
        "raw": w.raw, "received_at": w.received_at_ms, "occurred_at": int(time.time() * 1000),
    }
    return (MOODLE_OUTCOMES, OutcomeKey(w.tenant, w.entity, str(record["record_key"])).encode(),
            encode("moodle.outcome", record))


def dead_letter_message(outcome: Outcome) -> Outgoing:
    w = outcome.write
    # One dead letter per rejected event and record, however often it is retried.
    letter = dead_letter(
        writer="moodle-sink", subject=f"{w.event_id}|{w.kind}|{w.record_key}", reason=MOODLE_REJECTED,
        message=f"Moodle rejected {w.entity} {w.zoho_id}: {outcome.error_code} {outcome.error_message}",
        tenant=w.tenant, source="zoho", kind=w.entity,
        raw=RawPosition(str(w.raw["topic"]), int(w.raw["partition"]), int(w.raw["offset"])),
        received_at_ms=w.received_at_ms, body=json.dumps(w.fields, sort_keys=True, default=str).encode(),
        errors=(FieldError(w.kind, f"{outcome.error_code}: {outcome.error_message}"),), record_id=w.zoho_id,
    )
    return DEADLETTER, letter.key, letter.to_avro()
