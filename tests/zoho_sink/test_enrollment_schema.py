"""canonical.moodle_enrollment v2 (the linked student and mapped class): old events still read, new ones carry ids."""

from __future__ import annotations

from typing import Any

from schemas.codec import decode, encode, kept_versions
from schemas.registry import registry

V1_PAYLOAD = {"enrolment_id": "88", "moodle_user_id": "7", "course_id": "31", "course_idnumber": "BTEC-U1",
              "role": "student", "status": "active", "time_start": 1_760_000_000_000, "time_end": None}


def _event(payload: dict[str, Any] | None) -> dict[str, Any]:
    return {"event_id": "e1", "event_type": "MoodleEnrollmentUpserted", "tenant": "college-a",
            "entity": "moodle_enrollment", "entity_id": "88", "origin": "moodle", "occurred_at": 1_760_000_000_000,
            "received_at": 1_760_000_000_000, "source_version": 1_760_000_000_000,
            "raw": {"topic": "raw.moodle", "partition": 0, "offset": 5}, "record_index": 0,
            "fingerprint": "f", "payload": payload}


def test_every_version_is_kept_and_v3_is_todays() -> None:
    assert kept_versions()["canonical.moodle_enrollment"] == [1, 2, 3]
    assert registry().latest("canonical.moodle_enrollment").version == 3


def test_a_v1_event_reads_with_the_new_ids_null() -> None:
    _, read = decode(encode("canonical.moodle_enrollment", _event(V1_PAYLOAD), version=1))
    assert read["payload"]["student_id"] is None and read["payload"]["class_id"] is None
    assert read["payload"]["class_name"] is None and read["payload"]["course_id"] == "31"


def test_a_v2_event_carries_student_and_class() -> None:
    linked = {**V1_PAYLOAD, "student_id": "4876876000000400001", "class_id": "4876876000000400002",
              "class_name": "Unit 1 - Programming"}
    _, read = decode(encode("canonical.moodle_enrollment", _event(linked)))
    assert (read["payload"]["student_id"], read["payload"]["class_id"], read["payload"]["class_name"]) == (
        "4876876000000400001", "4876876000000400002", "Unit 1 - Programming")
    # A writer that does not know the new fields yet (streams before the change) still encodes with v2.
    _, read = decode(encode("canonical.moodle_enrollment", _event(V1_PAYLOAD)))
    assert read["payload"]["student_id"] is None
