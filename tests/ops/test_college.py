"""The one synthetic college: a pure function of its seed, and its two forms (webhook requests, canonical
events) say the same thing about the same records. No stack: the requests go through the streams' parser,
the events through the contract's codec."""

from __future__ import annotations

from typing import Any

from ops.college import events, webhooks
from ops.college.model import Sizes, build
from schemas.codec import decode
from schemas.mapping import DEFAULT_MAPPING
from streams.events import CanonicalEvent
from streams.parse import RawPosition, parse_raw

SIZES = Sizes(students=60, withdrawn_every=10)
# What each form carries of a record before the streams join it with others: these must agree.
FIELDS = {
    "program": ("name", "program_code"),
    "unit": ("name", "unit_code", "program_id"),
    "class": ("name", "unit_id", "program_id", "teacher_id", "moodle_course_id", "start_date", "end_date"),
    "teacher": ("name", "email", "moodle_user_id"),
    "student": ("student_number", "first_name", "last_name", "full_name", "academic_email", "phone", "city",
                "status", "moodle_user_id"),
    "registration": ("student_id", "program_id", "program_price", "currency", "study_mode", "registration_date",
                     "payment_schedule"),
    "payment": ("payment_number", "registration_id", "student_id", "amount", "payment_date", "installment_no"),
    "enrollment": ("student_id", "class_id", "start_date", "moodle_course_id"),
    "moodle_user": ("moodle_user_id", "first_name", "last_name", "idnumber"),
    "moodle_enrollment": ("moodle_user_id", "course_id", "role", "status"),
    "grade": ("composite_key", "moodle_user_id", "moodle_course_id", "assignment_id", "raw_score", "letter",
              "attempt_number", "grader_role", "feedback", "learning_outcomes"),
}


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k in ("code", "score", "achieved", "installment_no",
                                                                    "due_date", "amount", "status")}
    return str(value)


def _from_webhooks(college: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for req in webhooks.requests(college):
        parsed = parse_raw(source=req.source, kind=req.kind, body=req.body, content_type=req.content_type,
                           tenant="t", mapping=DEFAULT_MAPPING, raw=RawPosition(f"raw.{req.source}", 0, 0),
                           received_at_ms=1, delivery_id=None)
        assert parsed and all(isinstance(p, CanonicalEvent) for p in parsed), (req.path, req.body[:300], parsed)
        assert len(parsed) == req.records
        for p in parsed:
            assert isinstance(p, CanonicalEvent)
            out[(p.entity, p.entity_id, p.event_type)] = p.payload or {}
    return out


def _from_events(college: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    # Each student's first-entered version comes late and older: the current one is the one with the newest version.
    newest: dict[tuple[str, str, str], int] = {}
    for _, _, value in events.events("t", college):
        _, e = decode(value)
        key = (e["entity"], e["entity_id"], e["event_type"])
        if e["source_version"] >= newest.get(key, -1):
            newest[key] = e["source_version"]
            out[key] = e["payload"] or {}
    return out


def test_the_same_seed_is_the_same_college_and_another_seed_shares_no_id() -> None:
    one, again, other = webhooks.plan(7, 30), webhooks.plan(7, 30), webhooks.plan(8, 30)
    assert one.requests == again.requests and one.expected == again.expected
    assert one.requests != other.requests
    assert not set(one.expected.students) & set(other.expected.students)
    assert list(events.events("t", build(7, SIZES))) == list(events.events("t", build(7, SIZES)))


def test_webhooks_and_canonical_events_describe_the_same_records() -> None:
    college = build(5, SIZES)
    hooks, canonical = _from_webhooks(college), _from_events(college)
    assert set(hooks) == set(canonical)
    kinds = {event_type for _, _, event_type in hooks}
    assert {"EnrollmentDeleted", "GradeRecorded", "StudentUpserted", "MoodleUserUpserted"} <= kinds
    for (entity, entity_id, event_type), payload in canonical.items():
        if event_type.endswith("Deleted"):
            continue
        fields = FIELDS[entity] if payload.get("composite_key") or entity != "grade" else (
            "student_id", "class_id", "letter", "attempt_number")  # a grade entered in Zoho
        mine = {f: _comparable(payload.get(f)) for f in fields}
        theirs = {f: _comparable(hooks[(entity, entity_id, event_type)].get(f)) for f in fields}
        assert mine == theirs, (entity, entity_id)


def test_the_demo_expects_what_its_college_holds() -> None:
    plan = webhooks.plan(2026, 40)
    exp = plan.expected
    assert len(exp.students) == 40 and len(exp.invalid_students) == 3
    assert {label for r in plan.requests for label in [r.label]} == {"new", "redelivery", "resend", "invalid"}
    assert {r.content_type for r in plan.requests} == {webhooks.JSON, webhooks.FORM}
    attempts = [a for (_, a) in exp.moodle_attempts]
    assert 1 in attempts and 2 in attempts  # some students resubmit after a refer
    assert exp.entities["grade"] == len(exp.zoho_grades) + len({key for key, _ in exp.moodle_attempts})
