"""Moodle plugin events: users, enrolments (incl. delete) and grades."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.streams_unit.support import one_dead, one_event, parse, sample


def grade_body(**data: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(sample("moodle/grade_updated.json"))
    for key, value in data.items():
        if value is None:
            body["data"].pop(key, None)
        else:
            body["data"][key] = value
    return body


def grade_payload(**data: Any) -> dict[str, Any]:
    ev = one_event(parse("moodle", "grade_updated", grade_body(**data)))
    assert ev.payload is not None
    return ev.payload


def test_user_updated_is_an_upsert_of_the_same_user() -> None:
    body = json.loads(sample("moodle/user_created.json"))
    body["event_type"] = "user_updated"
    body["data"]["lastname"] = "Haddad-Khoury"
    ev = one_event(parse("moodle", "user_updated", body))
    assert (ev.event_type, ev.entity_id) == ("MoodleUserUpserted", "412")
    assert ev.payload is not None and ev.payload["last_name"] == "Haddad-Khoury"


def test_user_with_malformed_email_is_dead_lettered() -> None:
    body = json.loads(sample("moodle/user_created.json"))
    body["data"]["email"] = "lina.haddad@"
    letter = one_dead(parse("moodle", "user_created", body))
    assert letter.reason == "invalid_record" and letter.errors[0].field == "data.email"


def test_enrollment_updated_and_deleted() -> None:
    body = json.loads(sample("moodle/enrollment_created.json"))
    body["data"]["status"] = 1
    updated = one_event(parse("moodle", "enrollment_updated", body))
    assert updated.event_type == "MoodleEnrollmentUpserted"
    assert updated.payload is not None and updated.payload["status"] == "suspended"
    deleted_body = {"event_id": "moodle-logstore-99990", "event_type": "enrollment_deleted", "timestamp": 1762070000,
                    "data": {"enrolment_id": 5521, "user_id": 412, "course_id": 77}}
    deleted = one_event(parse("moodle", "enrollment_deleted", deleted_body))
    assert (deleted.event_type, deleted.entity_id) == ("MoodleEnrollmentDeleted", "5521")
    # The delete still says whose enrolment in which course it was.
    assert deleted.payload is not None
    assert (deleted.payload["moodle_user_id"], deleted.payload["course_id"]) == ("412", "77")


def test_unknown_moodle_event_and_missing_ids() -> None:
    assert one_dead(parse("moodle", "course_viewed", {"event_type": "course_viewed", "data": {}})).reason == \
        "unknown_event"
    letter = one_dead(parse("moodle", "grade_updated", grade_body(assignment_id=None)))
    assert [(e.field, e.message) for e in letter.errors] == [("data.assignment_id", "is required")]


@pytest.mark.parametrize(("raw", "maximum", "letter"), [
    (70.0, 100.0, "D"), (69.99, 100.0, "M"), (60, 100, "M"), (59.99, 100, "P"), (40, 100, "P"), (39.9, 100, "R"),
    (35, 50, "D"), (-5, None, "R"), (105, None, "D"),
])
def test_points_grade_letter_uses_the_bands(raw: float, maximum: float | None, letter: str) -> None:
    assert grade_payload(raw_grade=raw, grade_max=maximum)["letter"] == letter


@pytest.mark.parametrize(("index", "letter"), [(1, "R"), (2, "P"), (3, "M"), (4, "D")])
def test_btec_scale_index_letter(index: int, letter: str) -> None:
    assert grade_payload(scale_index=index)["letter"] == letter


def test_scale_index_out_of_range_is_invalid() -> None:
    letter = one_dead(parse("moodle", "grade_updated", grade_body(scale_index=7)))
    assert letter.errors[0].field == "data.scale_index" and "1..4" in letter.errors[0].message


def test_plugin_letters_rr_and_f_win_over_the_score() -> None:
    assert grade_payload(letter="RR", attempt_number=2)["letter"] == "RR"
    assert grade_payload(btec_grade="F", raw_grade=None)["letter"] == "F"


@pytest.mark.parametrize(("grader", "role", "filled"), [
    ({"moodle_user_id": 19, "full_name": "Rania Khoury", "role": "iv"}, "iv", "iv"),
    ({"moodle_user_id": 20, "full_name": "Sami Aoun", "role": "editingteacher"}, "teacher", "grader"),
    ({"moodle_user_id": 21, "full_name": "Admin", "role": "manager"}, "other", None),
    ({"moodle_user_id": 22, "full_name": "Both", "roles": ["editingteacher", "btec_iv"]}, "iv", "iv"),
    ({"moodle_user_id": 23, "full_name": "Case", "role": "Teacher"}, "teacher", "grader"),
])
def test_grader_roles_fill_the_right_fields(grader: dict[str, Any], role: str, filled: str | None) -> None:
    p = grade_payload(grader=grader)
    assert p["grader_role"] == role
    expected_id = str(grader["moodle_user_id"])
    assert (p["iv_name"], p["iv_moodle_id"]) == ((grader["full_name"], expected_id) if filled == "iv" else (None, None))
    assert (p["grader_name"], p["grader_moodle_id"]) == (
        (grader["full_name"], expected_id) if filled == "grader" else (None, None))


def test_other_grader_still_records_the_grade() -> None:
    p = grade_payload(grader={"moodle_user_id": 21, "full_name": "Admin", "role": "manager"})
    assert p["letter"] == "D" and p["composite_key"] == "412_1305"


def test_composite_key_is_user_and_assignment_not_course() -> None:
    a = one_event(parse("moodle", "grade_updated", grade_body(course_id=77)))
    b = one_event(parse("moodle", "grade_updated", grade_body(course_id=78)))
    c = one_event(parse("moodle", "grade_updated", grade_body(assignment_id=1306)))
    assert a.entity_id == b.entity_id == "412_1305"
    assert c.entity_id == "412_1306"


def test_later_attempt_has_a_higher_version_even_if_graded_earlier() -> None:
    first = one_event(parse("moodle", "grade_updated", grade_body(attempt_number=1, time_graded=1762064095)))
    second = one_event(parse("moodle", "grade_updated", grade_body(attempt_number=2, time_graded=1762000000)))
    regrade = one_event(parse("moodle", "grade_updated", grade_body(attempt_number=1, time_graded=1762064999)))
    assert second.source_version > regrade.source_version > first.source_version
    assert second.entity_id == first.entity_id  # one Zoho record per student per assignment


def test_learning_outcomes_merge_by_criterion_and_keep_unfilled_criteria() -> None:
    outcomes = [
        {"code": "D1", "description": "Evaluate", "score": None, "feedback": ""},
        {"code": "P1", "description": "Explain", "score": "1.00000", "feedback": ""},
        {"code": "p1", "description": "", "score": None, "feedback": "Clear"},
        {"code": "M1", "description": "Compare"},
    ]
    los = grade_payload(learning_outcomes=outcomes)["learning_outcomes"]
    assert [(lo["code"], lo["description"], lo["score"], lo["feedback"], lo["achieved"]) for lo in los] == [
        ("P1", "Explain", 1.0, "Clear", True), ("M1", "Compare", None, None, None),
        ("D1", "Evaluate", None, None, None)]


def test_prior_plugin_spellings_are_accepted() -> None:
    body = {"event_id": "x", "event_type": "user_created", "timestamp": 1762060000,
            "event_data": {"userid": 500, "username": "omar", "email": "omar@abchorizon.com", "firstname": "Omar",
                           "lastname": "Nasser"}}
    ev = one_event(parse("moodle", "user_created", body))
    assert ev.entity_id == "500" and ev.payload is not None and ev.payload["first_name"] == "Omar"


def test_moodle_float_user_id_is_rejected() -> None:
    body = copy.deepcopy(grade_body())
    body["data"]["moodle_user_id"] = 412.0
    assert one_dead(parse("moodle", "grade_updated", body)).errors[0].field == "data.moodle_user_id"


@pytest.mark.parametrize(("state", "status", "released"), [
    ("notmarked", "Not Marked", False), ("inmarking", "In Marking", False),
    ("readyforreview", "Marking completed", False), ("inreview", "In review", False),
    ("readyforrelease", "Ready for release", False), ("released", "Released", True)])
def test_marking_workflow_state_becomes_grade_status_and_released(state: str, status: str, released: bool) -> None:
    payload = grade_payload(workflow_state=state, sequence=7)
    assert (payload["workflow_state"], payload["grade_status"], payload["released"]) == (state, status, released)
    assert payload["sequence"] == 7


def test_a_grade_without_marking_workflow_is_released_when_the_plugin_says_so() -> None:
    payload = grade_payload(workflow_state=None, released=True)
    assert (payload["workflow_state"], payload["released"], payload["grade_status"]) == (None, True, "Released")


def test_an_older_plugins_grade_keeps_its_fingerprint_fields() -> None:
    payload = grade_payload(workflow_state=None, released=None, sequence=None)
    assert not {"workflow_state", "released", "sequence"} & set(payload)


def test_grades_in_each_workflow_state_are_distinct_events() -> None:
    events = [one_event(parse("moodle", "grade_updated", grade_body(workflow_state=s, sequence=i)))
              for i, s in enumerate(("inmarking", "readyforrelease", "released"))]
    assert len({e.fingerprint for e in events}) == 3 and len({e.event_id for e in events}) == 3


def test_user_deleted_is_a_delete_of_the_user() -> None:
    body = json.loads(sample("moodle/user_created.json"))
    body["event_type"] = "user_deleted"
    body["data"]["sequence"] = 3
    ev = one_event(parse("moodle", "user_deleted", body))
    assert (ev.event_type, ev.entity_id, ev.deleted) == ("MoodleUserDeleted", "412", True)
    assert ev.payload is not None and ev.payload["sequence"] == 3
