"""Every shared sample body parses into what a registrar would expect to see."""

from __future__ import annotations

import json
from typing import Literal

from schemas.codec import decode
from schemas.deadletter import DeadLetter
from tests.streams_unit.support import dead, events, one_event, parse, sample


def test_student_insert_sample_becomes_one_student_event() -> None:
    ev = one_event(parse("zoho", "BTEC_Students", sample("zoho/student_insert.json")))
    assert ev.event_type == "StudentUpserted"
    assert ev.entity == "student" and ev.entity_id == "4876876000000412001" and ev.origin == "zoho"
    assert ev.payload is not None
    assert ev.payload["full_name"] == "Lina Haddad"  # "Full Name" variant, trimmed
    assert ev.payload["status"] == "Active"  # "active" normalised
    assert ev.payload["academic_email"] == "lina.haddad@abchorizon.com"
    assert ev.payload["student_number"] == "STU-0001"
    assert ev.payload["moodle_user_id"] is None
    assert ev.payload["country"] == "Lebanon"
    # Modified_Time 09:14:03+03:00 is the version; the notification time 09:14:05 is when it happened.
    assert ev.source_version == 1_793_600_043_000
    assert ev.occurred_at_ms == 1_793_600_045_000
    assert ev.warnings == ()


def test_programs_batch_sample_gives_two_events_and_one_dead_letter_for_the_empty_name() -> None:
    out = parse("zoho", "Products", sample("zoho/programs_batch.json"))
    assert [type(o).__name__ for o in out] == ["CanonicalEvent", "CanonicalEvent", "DeadLetter"]
    first, second = events(out)
    assert (first.entity_id, first.payload and first.payload["name"]) == (
        "4876876000000300001", "BTEC Level 3 National Extended Diploma in IT")
    assert second.payload is not None and second.payload["program_code"] == "L5-BUS-HND"
    assert [e.record_index for e in events(out)] == [0, 1]
    (letter,) = dead(out)
    assert letter.reason == "invalid_record"
    assert letter.record_index == 2 and letter.record_id == "4876876000000300003"
    assert [(e.field, e.message) for e in letter.errors] == [("Name", "is required")]
    # The dead letter carries the failing record itself, not the whole batch.
    assert json.loads(letter.body)["Program_Code"] == "L2-ENG"


def test_zoho_grade_sample_carries_lookup_ids_and_the_letter() -> None:
    ev = one_event(parse("zoho", "BTEC_Grades", sample("zoho/grade_update_before_student.json")))
    assert ev.event_type == "GradeRecorded"
    p = ev.payload
    assert p is not None
    assert p["student_id"] == "4876876000000412002" and p["student_name"] == "Omar Nasser"
    assert p["class_id"] == "4876876000000600001"
    assert p["unit_id"] == "4876876000000500001"  # a bare-id lookup
    assert p["letter"] == "M"  # "Merit"
    assert p["attempt_number"] == 1 and str(p["attempt_date"]) == "2026-10-30"
    assert p["registration_id"] is None and p["program_id"] is None
    # "Verified" is not in the Grade_Status picklist: kept and flagged.
    assert p["grade_status"] == "Verified"
    assert any("Verified" in w for w in ev.warnings)


def test_moodle_user_created_sample() -> None:
    ev = one_event(parse("moodle", "user_created", sample("moodle/user_created.json")))
    assert ev.event_type == "MoodleUserUpserted" and ev.entity_id == "412" and ev.origin == "moodle"
    assert ev.payload == {
        "moodle_user_id": "412", "username": "lina.haddad", "email": "lina.haddad@abchorizon.com",
        "first_name": "Lina", "last_name": "Haddad", "idnumber": "STU-0001", "student_id": None, "link_method": None,
    }
    assert ev.occurred_at_ms == 1_762_060_000_000


def test_moodle_enrollment_created_sample() -> None:
    ev = one_event(parse("moodle", "enrollment_created", sample("moodle/enrollment_created.json")))
    assert ev.event_type == "MoodleEnrollmentUpserted" and ev.entity_id == "5521"
    assert ev.payload is not None
    assert (ev.payload["moodle_user_id"], ev.payload["course_id"], ev.payload["role"]) == ("412", "77", "student")
    assert ev.payload["time_start"] == 1_762_060_500_000


def test_moodle_grade_sample_is_a_grade_waiting_for_its_joins() -> None:
    ev = one_event(parse("moodle", "grade_updated", sample("moodle/grade_updated.json")))
    assert ev.event_type == "GradeRecorded" and ev.entity_id == "412_1305"
    p = ev.payload
    assert p is not None
    assert p["composite_key"] == "412_1305"
    assert (p["moodle_user_id"], p["moodle_course_id"], p["assignment_id"]) == ("412", "77", "1305")
    for join in ("student_id", "class_id", "unit_id", "program_id", "registration_id"):
        assert p[join] is None, join
    assert p["letter"] == "D"  # 72.5 / 100
    assert p["grader_role"] == "iv"
    assert (p["iv_name"], p["iv_moodle_id"]) == ("Rania Khoury", "19")
    assert p["grader_name"] is None and p["grader_moodle_id"] is None
    assert [lo["code"] for lo in p["learning_outcomes"]] == ["P1", "M1", "D1"]
    assert [lo["achieved"] for lo in p["learning_outcomes"]] == [True, True, False]
    assert p["learning_outcomes"][2]["feedback"] == "Needs justification"
    assert p["graded_at"] == 1_762_064_095_000 and ev.occurred_at_ms == 1_762_064_095_000


def test_every_sample_output_survives_avro_round_trip() -> None:
    cases: list[tuple[Literal["zoho", "moodle"], str, str]] = [
        ("zoho", "BTEC_Students", "zoho/student_insert.json"),
        ("zoho", "Products", "zoho/programs_batch.json"),
        ("zoho", "BTEC_Grades", "zoho/grade_update_before_student.json"),
        ("moodle", "user_created", "moodle/user_created.json"),
        ("moodle", "enrollment_created", "moodle/enrollment_created.json"),
        ("moodle", "grade_updated", "moodle/grade_updated.json"),
    ]
    for source, kind, path in cases:
        for item in parse(source, kind, sample(path)):
            name, record = decode(item.to_avro())
            assert name == item.schema_name
            if isinstance(item, DeadLetter):
                assert record["reason"] == item.reason and record["body"] == item.body
            else:
                assert record["event_id"] == item.event_id and record["entity_id"] == item.entity_id
                assert record["fingerprint"] == item.fingerprint
