"""Webhook bodies of a small college, shaped like Zoho's workflow webhooks and the Moodle plugin's events."""

from __future__ import annotations

import itertools
import time
from typing import Any

_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


def new_id() -> str:
    # 19 digits, like Zoho's, and unique across test runs.
    return f"48768{next(_ids):014d}"


def notification(module: str, data: dict[str, Any], operation: str = "insert") -> dict[str, Any]:
    return {
        "notification_id": new_id(),
        "timestamp": "2026-11-02T09:14:05+03:00",
        "module": module,
        "operation": operation,
        "record_id": data["id"],
        "data": data,
    }


def program(pid: str) -> dict[str, Any]:
    return {"id": pid, "Product_Name": f"BTEC Level 3 IT {pid[-4:]}", "Program_Code": f"L3-{pid[-4:]}",
            "Status": "Active"}


def unit(uid: str, pid: str) -> dict[str, Any]:
    return {"id": uid, "Name": f"Unit {uid[-4:]}", "Unit_Code": f"U{uid[-4:]}",
            "Program": {"id": pid, "name": "Program"}}


def klass(cid: str, uid: str, pid: str, course: int | None = None) -> dict[str, Any]:
    data = {"id": cid, "Class_Name": f"IT-{cid[-4:]}", "Unit": {"id": uid, "name": "Unit"},
            "BTEC_Program": {"id": pid, "name": "Program"}, "Class_Status": "Active"}
    if course is not None:
        data["Moodle_Class_ID"] = str(course)
    return data


def student(sid: str, email: str, moodle_id: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": sid, "Name": f"STU-{sid[-5:]}", "First_Name": "Lina", "Last_Name": "Haddad",
                            "Academic_Email": email, "Status": "Active",
                            "Modified_Time": "2026-11-02T09:14:03+03:00"}
    if moodle_id is not None:
        data["Student_Moodle_ID"] = str(moodle_id)
    return data


def registration(rid: str, sid: str, pid: str) -> dict[str, Any]:
    return {"id": rid, "Student_ID": {"id": sid, "name": "Lina Haddad"}, "Program": {"id": pid, "name": "Program"},
            "Registration_Status": "Active", "Currency": "USD", "Program_Price": "4000"}


def zoho_grade(gid: str, sid: str, cid: str, letter: str = "Merit", attempt: int = 1) -> dict[str, Any]:
    return {"id": gid, "Student": {"id": sid, "name": "Lina Haddad"}, "Class": {"id": cid, "name": "IT"},
            "Grade": letter, "Attempt_Number": attempt, "Attempt_Date": "2026-10-30", "Feedback": "Good work"}


def moodle_user(muid: int, email: str) -> dict[str, Any]:
    return {"event_id": f"mu-{new_id()}", "event_type": "user_created", "event_name": "\\core\\event\\user_created",
            "timestamp": 1762060000, "site_url": "https://lms.example",
            "data": {"moodle_user_id": muid, "username": email.split("@")[0], "email": email, "firstname": "Lina",
                     "lastname": "Haddad", "idnumber": ""}}


def moodle_grade(muid: int, course: int, assignment: int, score: float, attempt: int = 1,
                 role: str = "teacher") -> dict[str, Any]:
    return {"event_id": f"mg-{new_id()}", "event_type": "grade_updated",
            "event_name": "\\mod_assign\\event\\submission_graded", "timestamp": 1762064100 + attempt,
            "site_url": "https://lms.example",
            "data": {"moodle_user_id": muid, "user_email": "", "course_id": course, "course_idnumber": "",
                     "assignment_id": assignment, "assignment_name": "Assignment 1",
                     "grade_id": assignment * 10 + attempt,
                     "raw_grade": score, "grade_max": 100.0, "attempt_number": attempt,
                     "time_graded": 1762064095 + attempt,
                     "grader": {"moodle_user_id": 19, "full_name": "Rania Khoury", "role": role},
                     "feedback": "<p>ok</p>",
                     "learning_outcomes": [{"code": "P1", "description": "Explain", "score": "1.00000",
                                            "feedback": "Clear"}]}}


def moodle_enrolment(muid: int, course: int, enrolment: int, event: str = "enrollment_created") -> dict[str, Any]:
    return {"event_id": f"me-{new_id()}", "event_type": event,
            "event_name": "\\core\\event\\user_enrolment_created", "timestamp": 1762061000,
            "site_url": "https://lms.example",
            "data": {"enrolment_id": enrolment, "moodle_user_id": muid, "course_id": course, "role": "student",
                     "status": 0, "time_start": 1762060800}}
