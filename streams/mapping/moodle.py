"""Moodle plugin events → canonical payloads (moodle_user, moodle_enrollment, grade).

A Moodle grade leaves the join ids (student, class, unit, program, registration) empty:
the stream joins fill them from state they already hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.deadletter import FieldError
from schemas.grades import band_from_score, letter_from_scale, letter_from_text, percent
from streams.mapping.errors import render, validate
from streams.mapping.zoho import Invalid
from streams.rules.grades import composite_key, grade_status, grader_fields, grader_role, merge_outcomes
from streams.sources.moodle import MoodleEnrollmentData, MoodleGradeData, MoodleUserData

MOODLE_ENTITIES: dict[str, str] = {
    "user_created": "moodle_user",
    "user_updated": "moodle_user",
    "user_deleted": "moodle_user",
    "enrollment_created": "moodle_enrollment",
    "enrollment_updated": "moodle_enrollment",
    "enrollment_deleted": "moodle_enrollment",
    "grade_updated": "grade",
}

_ENROLMENT_STATUS = {0: "active", 1: "suspended"}


@dataclass(frozen=True, slots=True)
class MoodleMapped:
    entity: str
    entity_id: str
    deleted: bool
    payload: dict[str, Any]
    # Time of the change when the data says it (grading time, user modification), else None.
    changed_at_ms: int | None
    attempt_number: int | None
    warnings: tuple[str, ...] = ()


def _sources(data: dict[str, Any]) -> dict[str, str]:
    # Moodle field names are the plugin's own; errors cite them under `data.`.
    return {key: f"data.{key}" for key in data} | _DEFAULT_SOURCES


_DEFAULT_SOURCES = {
    "moodle_user_id": "data.moodle_user_id", "assignment_id": "data.assignment_id",
    "enrolment_id": "data.enrolment_id", "course_id": "data.course_id",
}


def _sequenced(payload: dict[str, Any], sequence: int | None) -> dict[str, Any]:
    # Only a plugin that sends a sequence adds the field: older events keep their fingerprints.
    return payload if sequence is None else {**payload, "sequence": sequence}


def _user(data: dict[str, Any], deleted: bool) -> MoodleMapped | Invalid:
    m, errors = validate(MoodleUserData, data, _sources(data))
    if m is None:
        return Invalid(None, tuple(errors))
    payload = {
        "moodle_user_id": m.moodle_user_id, "username": m.username, "email": m.email, "first_name": m.first_name,
        "last_name": m.last_name, "idnumber": m.idnumber, "student_id": None, "link_method": None,
    }
    return MoodleMapped("moodle_user", m.moodle_user_id, deleted, _sequenced(payload, m.sequence), m.time_modified,
                        None)


def _enrollment(data: dict[str, Any], deleted: bool) -> MoodleMapped | Invalid:
    m, errors = validate(MoodleEnrollmentData, data, _sources(data))
    if m is None:
        return Invalid(None, tuple(errors))
    payload = {
        "enrolment_id": m.enrolment_id, "moodle_user_id": m.moodle_user_id, "course_id": m.course_id,
        "course_idnumber": m.course_idnumber, "role": m.role,
        "status": None if m.status is None else _ENROLMENT_STATUS.get(m.status, str(m.status)),
        "time_start": m.time_start, "time_end": m.time_end,
    }
    return MoodleMapped("moodle_enrollment", m.enrolment_id, deleted, _sequenced(payload, m.sequence), None, None)


def _letter(m: MoodleGradeData) -> str | None:
    """The plugin's own letter (RR, F) first, then the BTEC scale index, then the points band."""
    if m.letter is not None:
        letter = letter_from_text(m.letter)
        if letter is None:
            raise ValueError(f"unknown grade letter {m.letter!r}")
        return letter
    if m.scale_index is not None:
        return letter_from_scale(m.scale_index)
    if m.raw_grade is not None:
        return band_from_score(percent(m.raw_grade, m.grade_max))
    return None


def _grade(data: dict[str, Any]) -> MoodleMapped | Invalid:
    sources = _sources(data)
    m, errors = validate(MoodleGradeData, data, sources)
    if m is None:
        return Invalid(None, tuple(errors))
    try:
        letter = _letter(m)
    except ValueError as exc:
        field = "data.letter" if m.letter is not None else "data.scale_index"
        value = m.letter if m.letter is not None else m.scale_index
        return Invalid(None, (FieldError(field, str(exc), render(value)),))
    warnings: list[str] = []
    role = name = grader_id = None
    if m.grader is not None:
        role = grader_role(m.grader.roles or ([m.grader.role] if m.grader.role else []))
        name, grader_id = m.grader.full_name, m.grader.moodle_user_id
    people = grader_fields(role or "other", name, grader_id)
    outcomes = []
    for index, row in enumerate(m.learning_outcomes):
        if row.code is None:
            warnings.append(f"data.learning_outcomes[{index}]: criterion without a code skipped")
            continue
        outcomes.append({
            "code": row.code, "title": None, "description": row.description, "identification": None,
            "score": row.score, "feedback": row.feedback, "achieved": None if row.score is None else row.score >= 1.0,
        })
    released = m.released if m.released is not None else (
        None if m.workflow_state is None else m.workflow_state == "released")
    key = composite_key(m.moodle_user_id, m.assignment_id)
    attempt = 1 if m.attempt_number is None else m.attempt_number
    payload = {
        "zoho_id": None, "composite_key": key, "student_id": None, "student_name": None, "class_id": None,
        "class_name": None, "unit_id": None, "unit_name": None, "program_id": None, "registration_id": None,
        "moodle_user_id": m.moodle_user_id, "student_email": m.user_email, "moodle_course_id": m.course_id,
        "moodle_course_idnumber": m.course_idnumber, "assignment_id": m.assignment_id,
        "assignment_name": m.assignment_name, "moodle_grade_id": m.grade_id, "grade_name": None, "letter": letter,
        "raw_score": m.raw_grade, "max_score": m.grade_max, "scale_index": m.scale_index,
        "grade_status": grade_status(m.workflow_state, released, m.status),
        "attempt_number": attempt, "attempt_date": None,
        "graded_at": m.time_graded, "feedback": m.feedback, "grader_role": role,
        "grader_name": people.grader_name, "grader_moodle_id": people.grader_moodle_id, "iv_name": people.iv_name,
        "iv_moodle_id": people.iv_moodle_id, "learning_outcomes": merge_outcomes(outcomes), "modified_at": None,
    }
    if m.workflow_state is not None or m.released is not None or m.sequence is not None:
        payload |= {"workflow_state": m.workflow_state, "released": released, "sequence": m.sequence}
    return MoodleMapped("grade", key, False, payload, m.time_graded, attempt, tuple(warnings))


def map_event(event: str, data: dict[str, Any]) -> MoodleMapped | Invalid:
    """`event` is one of MOODLE_ENTITIES."""
    if event == "grade_updated":
        return _grade(data)
    if event.startswith("user_"):
        return _user(data, deleted=event == "user_deleted")
    return _enrollment(data, deleted=event == "enrollment_deleted")
