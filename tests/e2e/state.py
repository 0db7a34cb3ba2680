"""What the generator says the system should hold, what it holds (PostgreSQL projections and the Zoho emulator),
and the difference, section by section."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from psycopg import sql

from ops.college.webhooks import Plan
from tests.e2e.system import System

State = dict[str, dict[Any, Any]]


def expected_state(plan: Plan) -> State:
    """From the plan alone: none of the system's code is used."""
    exp = plan.expected
    course_of: dict[str, str] = {}  # Moodle assignment id → course id
    class_of: dict[str, str] = {}  # Moodle course id → Zoho class id
    enrolments: set[tuple[str, str]] = set()  # (Moodle user id, course id)
    for r in plan.requests:
        if r.kind == "grade_updated":
            data = json.loads(r.body)["data"]
            course_of[str(data["assignment_id"])] = str(data["course_id"])
        elif r.kind == "enrollment_created":
            data = json.loads(r.body)["data"]
            enrolments.add((str(data["moodle_user_id"]), str(data["course_id"])))
        elif r.kind == "BTEC_Classes" and r.label == "new":
            data = json.loads(r.body)["data"]
            class_of[data["Moodle_Class_ID"]] = data["id"]
    newest: dict[str, int] = {}
    for key, attempt in exp.moodle_attempts:
        newest[key] = max(newest.get(key, 0), attempt)
    zoho_grades = {}
    for key, attempt in newest.items():
        muid, assignment = key.split("_")
        outcomes = sorted((o.code, o.score, o.feedback) for o in exp.moodle_outcomes[(key, attempt)])
        zoho_grades[key] = (attempt, exp.moodle_attempts[(key, attempt)], exp.links[muid],
                            class_of[course_of[assignment]], tuple(outcomes))
    return {
        "projections.student": {sid: s.email for sid, s in exp.students.items()},
        "projections.grade_attempt": {**exp.moodle_attempts, **{(gid, 1): g for gid, g in exp.zoho_grades.items()}},
        "projections.grade_learning_outcome": {
            key: tuple((o.code, o.score, o.feedback, o.achieved) for o in rows)
            for key, rows in exp.moodle_outcomes.items()},
        "projections.moodle_user": {s.moodle_user_id: (s.zoho_id, s.linked_by) for s in exp.students.values()},
        "projections.dead_letter": {("invalid_record", sid): 1 for sid in exp.invalid_students},
        "zoho BTEC_Grades records per key": dict.fromkeys(newest, 1),
        "zoho BTEC_Grades": zoho_grades,
        "zoho BTEC_Students.Student_Moodle_ID": {s.zoho_id: s.moodle_user_id for s in exp.students.values()},
        # The sink writes Moodle enrolments of linked users (enabled for this tenant), one record per user × course.
        "zoho BTEC_Enrollments from Moodle": {
            f"{muid}_{course}": (1, exp.links[muid], class_of[course])
            for muid, course in enrolments if muid in exp.links},
        "zoho workflow webhooks fired": {},
    }


def query_rows(system: System, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(system.infra.database_url, connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{system.schema}.dead_letter",)).fetchone()
        if exists is None or exists[0] is None:
            return []
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(system.schema)))
        return conn.execute(query, (system.tenant.name,)).fetchall()


def observed_state(system: System) -> State:
    outcomes: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for gid, attempt, code, score, feedback, achieved in query_rows(
            system, "SELECT grade_id, attempt_number, code, score, feedback, achieved FROM grade_learning_outcome "
                    "WHERE tenant = %s ORDER BY grade_id, attempt_number, position"):
        outcomes.setdefault((gid, attempt), []).append((code, score, feedback, achieved))
    grades = system.zoho_records("BTEC_Grades")
    zoho_grades = {}
    for g in grades:
        rows = sorted((r["LO_Code"], float(r["LO_Score"]), r["LO_Feedback"])
                      for r in g.get("Learning_Outcomes_Assessm") or [])
        zoho_grades[g["Moodle_Grade_Composite_Key"]] = (
            g["Attempt_Number"], g["Grade"], (g.get("Student") or {}).get("id"), (g.get("Class") or {}).get("id"),
            tuple(rows))
    enrolments = [e for e in system.zoho_records("BTEC_Enrollments") if e.get("Moodle_Enrollment_Key")]
    per_key = Counter(e["Moodle_Enrollment_Key"] for e in enrolments)
    fired = system.emulator_admin("GET", "webhooks")["deliveries"]
    return {
        "projections.student": dict(query_rows(system, "SELECT id, academic_email FROM student WHERE tenant = %s")),
        "projections.grade_attempt": {
            (gid, n): letter for gid, n, letter in query_rows(
                system, "SELECT grade_id, attempt_number, letter FROM grade_attempt WHERE tenant = %s")},
        "projections.grade_learning_outcome": {key: tuple(rows) for key, rows in outcomes.items()},
        "projections.moodle_user": {
            uid: (sid, method) for uid, sid, method in query_rows(
                system, "SELECT id, student_id, link_method FROM moodle_user WHERE tenant = %s")},
        "projections.dead_letter": dict(Counter(query_rows(
            system, "SELECT reason, record_id FROM dead_letter WHERE tenant = %s"))),
        "zoho BTEC_Grades records per key": dict(Counter(g["Moodle_Grade_Composite_Key"] for g in grades)),
        "zoho BTEC_Grades": zoho_grades,
        "zoho BTEC_Students.Student_Moodle_ID": {
            s["id"]: s["Student_Moodle_ID"] for s in system.zoho_records("BTEC_Students") if s["Student_Moodle_ID"]},
        "zoho BTEC_Enrollments from Moodle": {
            key: (per_key[key], (e.get("Enrolled_Students") or {}).get("id"), (e.get("Classes") or {}).get("id"))
            for e in enrolments for key in (e["Moodle_Enrollment_Key"],)},
        "zoho workflow webhooks fired": {(d["module"], d["record_id"]): d.get("status") for d in fired},
    }


def diff(expected: State, observed: State, show: int = 5) -> list[str]:
    """One line per section that differs: what is missing, extra, or different (a few of each)."""
    lines = []
    for section, want in expected.items():
        have = observed.get(section, {})
        missing = [k for k in want if k not in have]
        extra = [k for k in have if k not in want]
        wrong = [(k, want[k], have[k]) for k in want if k in have and have[k] != want[k]]
        if missing or extra or wrong:
            lines.append(f"{section}: {len(missing)} missing {missing[:show]}, {len(extra)} extra "
                         f"{[(k, have[k]) for k in extra[:show]]}, {len(wrong)} different (key, expected, got) "
                         f"{wrong[:show]}")
    return lines


def wait_for_expected(system: System, expected: State, timeout: float,
                      observe: Callable[[System], State] = observed_state) -> list[str]:
    """Poll until the system holds exactly the expected state (the sections of `expected`, as `observe` sees
    them), or `timeout` passes; the remaining difference."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            differences = diff(expected, observe(system))
        except (psycopg.OperationalError, httpx.HTTPError) as exc:  # the database is coming back
            differences = [f"could not observe: {exc}"]
        if not differences or time.monotonic() > deadline:
            return differences
        time.sleep(2)
