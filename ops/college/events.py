"""A college as canonical events, the form the projector reads: for its tests and the replay benchmark.

`events(tenant, college)` renders a `model.College` with what a real log holds besides one event per
record: every student's newer version first and its older version late (the older must not win), a
re-sent duplicate (same event id), Zoho's delete of a withdrawn enrollment, and Moodle grades with
every attempt and its learning outcomes. `event()` encodes one event with the contract's codec, for
tests that build their own small log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

from confluent_kafka import Producer

from ops.college.model import FEEDBACK, College, Sizes, Student
from schemas.codec import encode
from schemas.keys import EntityKey
from schemas.registry import registry
from schemas.topics import canonical

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the source version of every Zoho record's first version
# A grade's source version is attempt · ATTEMPT + graded-at ms, so a later attempt is always newer.
ATTEMPT = 10**13
# How much newer a student's current version is than the version first entered.
NEWER_MS = 5000
# The city of the version first entered, which no current version has: a test can see that it never won.
FIRST_CITY = "Jounieh"
_NAMES = {"student": "Student", "program": "Program", "unit": "Unit", "class": "Class", "teacher": "Teacher",
          "enrollment": "Enrollment", "registration": "Registration", "payment": "Payment", "grade": "Grade",
          "moodle_user": "MoodleUser", "moodle_enrollment": "MoodleEnrollment"}

Message = tuple[str, bytes, bytes]


@cache
def _payload_schema(entity: str) -> tuple[str, tuple[str, ...], frozenset[str]]:
    (payload,) = (f for f in registry().latest(f"canonical.{entity}").parsed["fields"] if f["name"] == "payload")
    (record,) = (b for b in payload["type"] if isinstance(b, dict))
    arrays = frozenset(f["name"] for f in record["fields"] if isinstance(f["type"], dict)
                       and f["type"].get("type") == "array")
    return str(record["name"]), tuple(f["name"] for f in record["fields"]), arrays


def event(tenant: str, entity: str, entity_id: str, version: int, payload: dict[str, Any] | None,
          origin: str = "zoho", deleted: bool = False, salt: str = "") -> Message:
    """One canonical event as (topic, key, value); the event id is derived from what identifies the change, so
    the same change encoded twice is the same event. Payload fields the schema has and `payload` lacks are null
    (empty for arrays)."""
    name, fields, arrays = _payload_schema(entity)
    body = None
    if payload is not None:
        body = {f: payload.get(f, [] if f in arrays else None) for f in fields}
    kind = f"{_NAMES[entity]}Deleted" if deleted else ("GradeRecorded" if entity == "grade"
                                                        else f"{_NAMES[entity]}Upserted")
    fingerprint = hashlib.sha256(repr(sorted((body or {}).items())).encode()).hexdigest()
    event_id = hashlib.sha256(f"{tenant}/{entity}/{entity_id}/{version}/{kind}/{salt}".encode()).hexdigest()[:32]
    at = version % ATTEMPT
    record = {
        "event_id": event_id, "event_type": kind, "tenant": tenant, "entity": entity, "entity_id": entity_id,
        "origin": origin, "occurred_at": at, "received_at": at, "source_version": version,
        "raw": {"topic": "raw.moodle" if origin == "moodle" else "raw.zoho", "partition": 0, "offset": 0},
        "record_index": 0, "delivery_id": None, "fingerprint": fingerprint, "warnings": [],
        "payload": None if body is None else (name, body),
    }
    return canonical(entity), EntityKey(tenant, entity_id).encode(), encode(f"canonical.{entity}", record)


def replay_sizes(students: int) -> Sizes:
    """The college of the projector's tests and the replay benchmark: a program per 200 students, one class per
    student with six graded assignments (about 16 events per student), every tenth student withdrawn."""
    return Sizes(students=students, programs=max(2, students // 200), units_per_program=6, classes_per_student=1,
                 assignments_per_class=6, withdrawn_every=10)


def events(tenant: str, college: College) -> Iterator[Message]:
    """Reference data first, then student by student."""
    for t in college.teachers:
        yield event(tenant, "teacher", t.zoho_id, BASE_MS, {"zoho_id": t.zoho_id, "name": t.name, "email": t.email,
                                                            "moodle_user_id": str(t.moodle_user_id)})
    for p in college.programs:
        yield event(tenant, "program", p.zoho_id, BASE_MS, {"zoho_id": p.zoho_id, "name": p.name,
                                                            "program_code": p.code, "status": "Active"})
    for u in college.units:
        yield event(tenant, "unit", u.zoho_id, BASE_MS, {
            "zoho_id": u.zoho_id, "name": u.name, "unit_code": u.code, "unit_number": str(u.number),
            "unit_credit": 60, "program_id": u.program.zoho_id, "program_name": u.program.name})
    for k in college.classes:
        yield event(tenant, "class", k.zoho_id, BASE_MS, {
            "zoho_id": k.zoho_id, "name": k.name, "short_name": k.short_name, "unit_id": k.unit.zoho_id,
            "unit_name": k.unit.name, "program_id": k.program.zoho_id, "program_name": k.program.name,
            "teacher_id": k.teacher.zoho_id, "teacher_name": k.teacher.name,
            "moodle_course_id": str(k.moodle_course_id), "status": "Active", "start_date": k.start,
            "end_date": k.end})
    for s in college.students:
        yield from _student(tenant, s)


def _student(tenant: str, s: Student) -> Iterator[Message]:
    v = BASE_MS + 10_000 + s.index
    current = {"zoho_id": s.zoho_id, "student_number": s.number, "first_name": s.first_name,
               "last_name": s.last_name, "full_name": s.full_name, "academic_email": s.academic_email,
               "phone": s.phone, "city": s.city, "status": s.status.title(),
               "moodle_user_id": str(s.moodle_user_id) if s.linked_by == "student_moodle_id" else None}
    # The newer version first, the one first entered late: the older must not win.
    yield event(tenant, "student", s.zoho_id, v + NEWER_MS, current)
    yield event(tenant, "student", s.zoho_id, v, {**current, "city": FIRST_CITY, "status": "Registered"})
    r = s.registration
    yield event(tenant, "registration", r.zoho_id, v, {
        "zoho_id": r.zoho_id, "student_id": s.zoho_id, "student_name": s.full_name, "program_id": r.program.zoho_id,
        "program_name": r.program.name, "program_price": r.price, "currency": r.currency, "status": "Active",
        "study_mode": r.study_mode, "registration_date": r.registered,
        "payment_schedule": [{"installment_no": n.number, "due_date": n.due, "amount": n.amount,
                              "status": "Paid" if n.paid else "Pending"} for n in r.schedule]})
    for p in s.payments:
        yield event(tenant, "payment", p.zoho_id, v, {
            "zoho_id": p.zoho_id, "payment_number": p.number, "registration_id": r.zoho_id,
            "student_id": s.zoho_id, "amount": p.amount, "payment_date": p.paid, "method": p.method,
            "payment_type": "Study Fees", "installment_no": p.installment})
    muid = str(s.moodle_user_id)
    yield event(tenant, "moodle_user", muid, v, {
        "moodle_user_id": muid, "email": s.moodle_email, "first_name": s.first_name, "last_name": s.last_name,
        "idnumber": s.number, "student_id": s.zoho_id, "link_method": s.linked_by}, origin="moodle")
    for e in s.enrollments:
        k = e.klass
        yield event(tenant, "enrollment", e.zoho_id, v, {
            "zoho_id": e.zoho_id, "student_id": s.zoho_id, "student_name": s.full_name, "class_id": k.zoho_id,
            "class_name": k.name, "start_date": k.start, "enrollment_type": "Normal",
            "moodle_course_id": str(k.moodle_course_id)})
        if e.withdrawn:
            yield event(tenant, "enrollment", e.zoho_id, v + NEWER_MS, None, deleted=True)
        yield event(tenant, "moodle_enrollment", str(e.moodle_enrolment_id), v, {
            "enrolment_id": str(e.moodle_enrolment_id), "moodle_user_id": muid, "course_id": str(k.moodle_course_id),
            "role": "student", "status": "active", "student_id": s.zoho_id, "class_id": k.zoho_id,
            "class_name": k.name}, origin="moodle")
    for g in s.grades:
        k = g.klass
        for a in g.attempts:
            graded = datetime.fromtimestamp(a.graded_at, tz=UTC)
            teacher = a.grader_role == "teacher"
            yield event(tenant, "grade", g.key, a.number * ATTEMPT + a.graded_at * 1000, {
                "composite_key": g.key, "student_id": s.zoho_id, "student_name": s.full_name,
                "class_id": k.zoho_id, "class_name": k.name, "unit_id": k.unit.zoho_id, "unit_name": k.unit.name,
                "program_id": k.program.zoho_id, "registration_id": r.zoho_id, "moodle_user_id": muid,
                "moodle_course_id": str(k.moodle_course_id), "assignment_id": str(g.assignment_id),
                "assignment_name": "Assignment 1", "letter": a.letter, "raw_score": a.score, "max_score": 100.0,
                "grade_status": "Graded", "attempt_number": a.number, "graded_at": graded,
                "attempt_date": graded.date(), "feedback": FEEDBACK, "grader_role": a.grader_role,
                "grader_name": k.teacher.name if teacher else None,
                "grader_moodle_id": str(k.teacher.moodle_user_id) if teacher else None,
                "iv_name": None if teacher else k.teacher.name,
                "iv_moodle_id": None if teacher else str(k.teacher.moodle_user_id),
                "learning_outcomes": [
                    {"code": o.code, "description": o.description, "score": 1.0 if o.achieved else 0.0,
                     "feedback": "Achieved" if o.achieved else "Not yet", "achieved": o.achieved}
                    for o in a.outcomes]}, origin="moodle")
    for eg in s.earlier_grades:
        yield event(tenant, "grade", eg.zoho_id, ATTEMPT + v, {
            "zoho_id": eg.zoho_id, "student_id": s.zoho_id, "student_name": s.full_name,
            "class_id": eg.klass.zoho_id, "class_name": eg.klass.name, "unit_id": eg.klass.unit.zoho_id,
            "program_id": eg.klass.program.zoho_id, "registration_id": r.zoho_id, "letter": eg.grade[0],
            "grade_status": "Released", "attempt_number": 1, "feedback": "Transferred from the previous term"})
    # A re-sent duplicate: the same change, the same event id.
    yield event(tenant, "student", s.zoho_id, v + NEWER_MS, current)


def produce(bootstrap: str, messages: Iterator[Message]) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20,
                         "batch.num.messages": 10000, "compression.type": "lz4", "partitioner": "murmur2_random"})
    n = 0
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
        if n % 10000 == 0:
            producer.poll(0)
    if producer.flush(60) > 0:
        raise RuntimeError("not every event was acknowledged")
    return n
