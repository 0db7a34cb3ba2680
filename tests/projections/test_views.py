"""The views on a small college whose answers are worked out by hand from the domain rules."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ops.college.events import ATTEMPT, BASE_MS, event, produce
from projections.migrate import migrate
from projections.replay import catch_up, end_offsets
from schemas.codec import decode, encode
from tests.infra import Infra
from tests.projections.helpers import new_schema, query

P, U, C, S1, S2, S3, R1, R2 = "9001", "8001", "7001", "5001", "5002", "5003", "4001", "4002"


def _grade(t: str, key: str, student: str, attempt: int, score: float, at: int, reg: str = R1) -> Any:
    return event(t, "grade", key, attempt * ATTEMPT + at, {
        "composite_key": key, "student_id": student, "class_id": C, "unit_id": U, "program_id": P,
        "registration_id": reg, "attempt_number": attempt, "raw_score": score, "max_score": 100.0,
        "graded_at": datetime.fromtimestamp(at / 1000, tz=UTC),
        "learning_outcomes": [{"code": "P1", "score": 1.0, "achieved": score >= 40}]}, origin="moodle")


def _outcome(t: str, grade_id: str, action: str, fingerprint: str | None, error: str | None) -> Any:
    return ("zoho.outcomes", f"{t}/BTEC_Grades/{grade_id}".encode(), encode("zoho.outcome", {
        "tenant": t, "module": "BTEC_Grades", "record_key": grade_id, "action": action, "zoho_id": None,
        "attempt": 3 if error else 1, "error_code": "INVALID_DATA" if error else None, "error_message": error,
        "event_id": None, "entity": "grade", "entity_id": grade_id, "fingerprint": fingerprint,
        "occurred_at": BASE_MS + 10**9}))


@pytest.fixture(scope="module")
def college(infra: Infra) -> tuple[str, str]:
    t = f"views-{uuid.uuid4().hex[:8]}"
    v = BASE_MS
    student = {"academic_email": "lina@college.example", "full_name": "Lina Haddad", "city": "Amman"}
    g1a2 = _grade(t, "101_500", S1, 2, 70.0, v + 3000)
    events = [
        # a grade, its registration and its student arrive before the reference data they name
        _grade(t, "101_500", S1, 1, 35.0, v + 2000),
        g1a2,
        _grade(t, "102_500", S2, 1, 69.99, v + 2000, reg=R2),
        # attempt 1 of this grade arrives after attempt 2: both kept, attempt 2 is current
        _grade(t, "102_501", S2, 2, 40.0, v + 5000, reg=R2),
        _grade(t, "102_501", S2, 1, 10.0, v + 4000, reg=R2),
        event(t, "student", S1, v + 10, {"zoho_id": S1, **student, "city": "Irbid"}),
        event(t, "student", S1, v, {"zoho_id": S1, **student}),  # older, late: ignored
        event(t, "student", S2, v, {"zoho_id": S2, "academic_email": "omar@college.example",
                                    "full_name": "Omar Khalil"}),
        event(t, "student", S3, v, {"zoho_id": S3, "academic_email": "x@college.example"}),
        event(t, "student", S3, v + 50, None, deleted=True),
        event(t, "student", S3, v + 20, {"zoho_id": S3, "academic_email": "x@college.example"}),  # older than delete
        event(t, "program", P, v, {"zoho_id": P, "name": "BTEC IT"}),
        event(t, "unit", U, v, {"zoho_id": U, "name": "Unit 1: Programming", "program_id": P}),
        event(t, "class", C, v, {"zoho_id": C, "name": "IT-1A", "unit_id": U, "program_id": P,
                                 "moodle_course_id": "900"}),
        event(t, "registration", R1, v, {"zoho_id": R1, "student_id": S1, "program_id": P, "program_price": "3000",
                                         "payment_schedule": [
                                             {"installment_no": 1, "due_date": date(2020, 1, 1), "amount": "1000",
                                              "status": "Paid"},
                                             {"installment_no": 2, "due_date": date(2020, 2, 1), "amount": "1000",
                                              "status": "Pending"},
                                             {"installment_no": 3, "due_date": date(2099, 1, 1), "amount": "1000",
                                              "status": "Pending"}]}),
        event(t, "registration", R2, v, {"zoho_id": R2, "student_id": S2, "program_id": P,
                                         "program_price": "1000.50"}),
        event(t, "payment", "3001", v, {"zoho_id": "3001", "registration_id": R1, "amount": "1000.00"}),
        event(t, "payment", "3002", v, {"zoho_id": "3002", "registration_id": R2, "amount": "1000.50"}),
        event(t, "payment", "3009", v, {"zoho_id": "3009", "registration_id": "4999", "amount": "10"}),
        event(t, "enrollment", "2001", v, {"zoho_id": "2001", "student_id": S1, "class_id": C}),
        event(t, "enrollment", "2002", v, {"zoho_id": "2002", "student_id": S2, "class_id": C}),
        event(t, "enrollment", "2009", v, {"zoho_id": "2009", "student_id": "5999", "class_id": C}),
        event(t, "moodle_user", "101", v, {"moodle_user_id": "101", "student_id": S1, "link_method": "email"},
              origin="moodle"),
        event(t, "moodle_enrollment", "e1", v, {"enrolment_id": "e1", "moodle_user_id": "101", "course_id": "900"},
              origin="moodle"),
        _outcome(t, "102_500", "failed", None, "Grade: invalid picklist value"),
        # the puller brings back what the Zoho sink wrote for 101_500 attempt 2: Zoho's copy, without the
        # assignment, the score or the course
        event(t, "grade", "101_500", 2 * ATTEMPT + v + 9000, {
            "composite_key": "101_500", "student_id": S1, "class_id": C, "unit_id": U, "attempt_number": 2,
            "letter": "D", "learning_outcomes": [{"code": "P1", "score": 1.0, "achieved": True}]}),
    ]
    produce(infra.bootstrap, iter(events))
    # Zoho confirmed attempt 2 of 101_500: the outcome names that event's fingerprint.
    produce(infra.bootstrap, iter([_outcome(t, "101_500", "updated", decode(g1a2[2])[1]["fingerprint"], None)]))
    schema = new_schema()
    migrate(infra.database_url, schema)
    catch_up(infra.bootstrap, infra.database_url, schema, end_offsets(infra.bootstrap))
    return t, schema


def test_current_band_per_unit_is_the_newest_attempt(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    rows = query(infra, schema, "SELECT student_id, unit_name, grade_id, attempt_number, band, attempts"
                                " FROM student_unit_band WHERE tenant = %s ORDER BY student_id", t)
    assert rows[0] == (S1, "Unit 1: Programming", "101_500", 2, "Distinction", 2)  # 70.0 is Distinction
    # S2 has two grades in the unit; the later-graded one (attempt 2 of 102_501, 40 → Pass) is current
    assert rows[1] == (S2, "Unit 1: Programming", "102_501", 2, "Pass", 2)
    assert len(rows) == 2


def test_every_attempt_is_kept_with_its_band_and_outcomes(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    rows = query(infra, schema, "SELECT grade_id, attempt_number, band FROM grade_attempt_band"
                                " WHERE tenant = %s ORDER BY grade_id, attempt_number", t)
    assert rows == [("101_500", 1, "Refer"), ("101_500", 2, "Distinction"), ("102_500", 1, "Merit"),
                    ("102_501", 1, "Refer"), ("102_501", 2, "Pass")]  # 69.99 → Merit
    los = query(infra, schema, "SELECT grade_id, attempt_number, code, achieved FROM grade_learning_outcome"
                               " WHERE tenant = %s AND grade_id = '101_500' ORDER BY attempt_number", t)
    assert los == [("101_500", 1, "P1", False), ("101_500", 2, "P1", True)]


def test_zoho_copy_of_a_moodle_grade_keeps_what_only_moodle_knows(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    assert query(infra, schema, "SELECT origin, letter, raw_score, max_score, registration_id, graded_at IS NOT NULL"
                                " FROM grade_attempt WHERE tenant = %s AND grade_id = '101_500' AND attempt_number = 2",
                 t) == [("zoho", "D", 70.0, 100.0, R1, True)]


def test_newer_wins_and_deletes_hold(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    assert query(infra, schema, "SELECT id, city FROM student WHERE tenant = %s ORDER BY id", t) == [
        (S1, "Irbid"), (S2, None)]


def test_grades_waiting_for_zoho_or_failed_with_reasons(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    rows = query(infra, schema, "SELECT grade_id, sync_status, error_code, error_message FROM grade_sync_pending"
                                " WHERE tenant = %s ORDER BY grade_id", t)
    assert rows == [("102_500", "failed", "INVALID_DATA", "Grade: invalid picklist value"),
                    ("102_501", "waiting", None, None)]
    assert query(infra, schema, "SELECT sync_status FROM grade_zoho_sync WHERE tenant = %s AND grade_id = %s",
                 t, "101_500") == [("synced",)]


def test_students_with_outstanding_payments(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    rows = query(infra, schema, "SELECT student_id, registration_id, billed, paid, outstanding,"
                                " overdue_installments, next_due_date FROM outstanding_payment WHERE tenant = %s", t)
    # 3 × 1000 billed by the schedule, 1000 paid; installment 2 is past due and not paid
    assert rows == [(S1, R1, Decimal(3000), Decimal("1000.00"), Decimal("2000.00"), 1, date(2020, 2, 1))]


def test_class_roster(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    rows = query(infra, schema, "SELECT student_id, student_name, in_moodle FROM class_roster"
                                " WHERE tenant = %s AND class_id = %s ORDER BY student_id", t, C)
    assert rows == [(S1, "Lina Haddad", True), (S2, "Omar Khalil", False), ("5999", None, False)]


def test_records_waiting_for_a_dependency(infra: Infra, college: tuple[str, str]) -> None:
    t, schema = college
    rows = query(infra, schema, "SELECT entity, entity_id, missing_entity, missing_id FROM pending_dependency"
                                " WHERE tenant = %s ORDER BY entity, entity_id", t)
    assert rows == [("enrollment", "2009", "student", "5999"), ("payment", "3009", "registration", "4999")]


def test_zoho_copy_applied_after_the_moodle_grade_keeps_it_synced(infra: Infra) -> None:
    t = f"echo-{uuid.uuid4().hex[:8]}"
    schema = new_schema()
    migrate(infra.database_url, schema)
    moodle = _grade(t, "103_500", S1, 1, 65.0, BASE_MS + 2000)
    produce(infra.bootstrap, iter([moodle, _outcome(t, "103_500", "created", decode(moodle[2])[1]["fingerprint"],
                                                    None)]))
    catch_up(infra.bootstrap, infra.database_url, schema, end_offsets(infra.bootstrap))
    # a batch of its own: the merge in PostgreSQL, not the one within a batch
    produce(infra.bootstrap, iter([event(t, "grade", "103_500", ATTEMPT + BASE_MS + 9000, {
        "composite_key": "103_500", "student_id": S1, "class_id": C, "unit_id": U, "attempt_number": 1,
        "letter": "M"})]))
    catch_up(infra.bootstrap, infra.database_url, schema, end_offsets(infra.bootstrap))
    assert query(infra, schema, "SELECT origin, letter, raw_score, registration_id FROM grade_attempt"
                                " WHERE tenant = %s", t) == [("zoho", "M", 65.0, R1)]
    assert query(infra, schema, "SELECT sync_status FROM grade_zoho_sync WHERE tenant = %s", t) == [("synced",)]
