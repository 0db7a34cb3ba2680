"""A synthetic college as canonical events, for the projector's tests and the replay benchmark.

Reference data first, then people and their records, with what the real log holds: updates
(newer versions), older versions arriving late, re-sent duplicates (same event id), deletes,
and Moodle grades with several attempts and learning outcomes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from confluent_kafka import Producer

from schemas.codec import encode
from schemas.registry import registry
from schemas.topics import canonical

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ATTEMPT = 10**13
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
    """One canonical event as (topic, key, value); the event id is derived like the streams' one."""
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
    return canonical(entity), f"{tenant}/{entity_id}".encode(), encode(f"canonical.{entity}", record)


def _ms(day: int) -> datetime:
    return datetime.fromtimestamp((BASE_MS + day * 86_400_000) / 1000, tz=UTC)


def college(tenant: str, students: int, seed: int = 7, grades_per_student: int = 6) -> Iterator[Message]:
    """About (8 + 2·grades_per_student) events per student, plus reference data."""
    rng = random.Random(seed)
    n_programs = max(2, students // 200)
    programs = [f"9{seed:03d}{i:014d}" for i in range(n_programs)]
    units = [(f"8{seed:03d}{i:014d}", programs[i % n_programs]) for i in range(n_programs * 6)]
    classes = [(f"7{seed:03d}{i:014d}", u, p, str(1000 + i)) for i, (u, p) in enumerate(units)]
    for i, p in enumerate(programs):
        yield event(tenant, "program", p, BASE_MS + i, {"zoho_id": p, "name": f"BTEC Level 3 #{i}",
                                                        "price": "4500.00", "status": "Active"})
    for i, (u, p) in enumerate(units):
        yield event(tenant, "unit", u, BASE_MS + i, {
            "zoho_id": u, "name": f"Unit {i}", "unit_code": f"U{i}", "unit_credit": 15, "program_id": p,
            "criteria": [{"code": "P1", "description": "explain"}, {"code": "M1", "description": "analyse"}]})
    teacher = f"6{seed:03d}{0:014d}"
    yield event(tenant, "teacher", teacher, BASE_MS, {"zoho_id": teacher, "name": "Rana Saleh",
                                                      "moodle_user_id": "2"})
    for i, (c, u, p, course) in enumerate(classes):
        yield event(tenant, "class", c, BASE_MS + i, {
            "zoho_id": c, "name": f"Class {i}", "unit_id": u, "program_id": p, "teacher_id": teacher,
            "moodle_course_id": course, "start_date": date(2026, 1, 5), "end_date": date(2026, 6, 30)})
    for s in range(students):
        yield from _student(tenant, seed, s, rng, classes, grades_per_student)


def _student(tenant: str, seed: int, s: int, rng: random.Random, classes: list[tuple[str, str, str, str]],
             grades: int) -> Iterator[Message]:
    sid, rid, muid = f"5{seed:03d}{s:014d}", f"4{seed:03d}{s:014d}", str(100_000 + s)
    klass = rng.choice(classes)
    c, _, p, course = klass
    v = BASE_MS + 10_000 + s
    student = {"zoho_id": sid, "student_number": f"S{s}", "first_name": "Lina", "last_name": f"Haddad {s}",
               "full_name": f"Lina Haddad {s}", "academic_email": f"s{s}@college.example", "status": "Active",
               "city": "Amman"}
    newer = {**student, "status": "Registered", "city": "Irbid"}
    # the newer version first, its older one late: the older must not win
    yield event(tenant, "student", sid, v + 5000, newer)
    yield event(tenant, "student", sid, v, student)
    yield event(tenant, "registration", rid, v, {
        "zoho_id": rid, "student_id": sid, "program_id": p, "program_price": "4500.00", "currency": "JOD",
        "status": "Active", "registration_date": date(2026, 1, 2),
        "payment_schedule": [{"installment_no": k + 1, "due_date": date(2026, 1 + 2 * k, 1), "amount": "1500.00",
                              "status": "Paid" if k == 0 else "Pending"} for k in range(3)]})
    yield event(tenant, "payment", f"3{seed:03d}{s:014d}", v, {
        "zoho_id": f"3{seed:03d}{s:014d}", "registration_id": rid, "student_id": sid, "amount": "1500.00",
        "payment_date": date(2026, 1, 2), "installment_no": 1})
    yield event(tenant, "enrollment", f"2{seed:03d}{s:014d}", v, {
        "zoho_id": f"2{seed:03d}{s:014d}", "student_id": sid, "class_id": c, "start_date": date(2026, 1, 5)})
    yield event(tenant, "moodle_user", muid, v, {"moodle_user_id": muid, "email": f"s{s}@college.example",
                                                 "student_id": sid, "link_method": "email"}, origin="moodle")
    yield event(tenant, "moodle_enrollment", f"e{muid}", v, {
        "enrolment_id": f"e{muid}", "moodle_user_id": muid, "course_id": course, "role": "student",
        "status": "active"}, origin="moodle")
    for g in range(grades):
        key = f"{muid}_{500 + g}"
        attempts = 2 if g % 3 == 0 else 1
        for a in range(1, attempts + 1):
            score = float(rng.randrange(0, 101))
            graded = v + 86_400_000 * (g + a)
            yield event(tenant, "grade", key, a * ATTEMPT + graded, {
                "composite_key": key, "student_id": sid, "class_id": c, "unit_id": klass[1], "program_id": p,
                "registration_id": rid, "moodle_user_id": muid, "moodle_course_id": course,
                "assignment_id": str(500 + g), "assignment_name": f"Assignment {g}", "letter": None,
                "raw_score": score, "max_score": 100.0, "grade_status": "Graded", "attempt_number": a,
                "graded_at": _ms(g + a), "attempt_date": date(2026, 2, 1) + timedelta(days=g + a),
                "feedback": "Well argued; cite sources.", "grader_role": "teacher", "grader_name": "Rana Saleh",
                "grader_moodle_id": "2",
                "learning_outcomes": [{"code": code, "title": f"{code} title", "score": float(rng.randrange(0, 4)),
                                       "feedback": "ok", "achieved": rng.random() < 0.7}
                                      for code in ("P1", "P2", "M1")]}, origin="moodle")
    # a re-sent duplicate (same event id) and a withdrawn enrollment
    yield event(tenant, "student", sid, v + 5000, newer)
    if s % 10 == 0:
        yield event(tenant, "enrollment", f"2{seed:03d}{s:014d}", v + 9000, None, deleted=True)


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
        raise RuntimeError("not every synthetic event was acknowledged")
    return n
