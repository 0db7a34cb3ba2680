"""A teacher grading an assignment in the emulated site: the plugin's grade_updated webhook, as it builds it.

Grades are not given through web services, so tests drive this from the admin API (`POST /__emulator/grade`),
the way a teacher would in the gradebook; the body follows the plugin's payload builder for a graded submission.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stack.moodle_emulator.events import grade_event
from stack.moodle_emulator.store import ROLES, SiteStore


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LearningOutcome(_Strict):
    code: str
    description: str = ""
    # The BTEC grading form's criterion score: 1 achieved, 0 not.
    score: float | None = None
    feedback: str = ""


class GradeRequest(_Strict):
    tenant: str | None = None
    userid: int
    courseid: int
    assignment_name: str = "Assignment 1"
    # Points out of grade_max; None: not graded (feedback only).
    grade: float | None = None
    grade_max: float = 100.0
    # Graded on the BTEC scale (1 Refer, 2 Pass, 3 Merit, 4 Distinction) instead of points.
    btec_scale_index: int | None = Field(default=None, ge=1, le=4)
    grader_userid: int = 0
    attempt_number: int = Field(default=1, ge=1)
    feedback: str = ""
    learning_outcomes: list[LearningOutcome] = Field(default_factory=list)
    # Marking workflow state; only "released" grades are visible to the student.
    workflow_state: str = "released"


class GradingRefused(Exception):
    """The request names something the site does not have (no such user, not enrolled, no such grader)."""


def _grader_role(store: SiteStore, courseid: int, graderid: int) -> str:
    """The plugin's classify_roles(): a role whose shortname contains "iv" wins over one containing "teacher"."""
    names = [ROLES[r].shortname for r in store.roles(courseid, graderid)]
    if any("iv" in n for n in names):
        return "iv"
    return "teacher" if any("teacher" in n for n in names) else "other"


def grade(store: SiteStore, request: GradeRequest, now: int) -> dict[str, int]:
    student = store.users.get(request.userid)
    course = store.courses.get(request.courseid)
    if student is None or course is None:
        raise GradingRefused(f"no user {request.userid} or no course {request.courseid}")
    enrolled = {e.id for e in store.enrols.values() if e.courseid == course.id}
    if not any(store.user_enrolment(enrolid, student.id) for enrolid in enrolled):
        raise GradingRefused(f"user {student.id} is not enrolled in course {course.id}")
    grader = store.users.get(request.grader_userid) if request.grader_userid else None
    if request.grader_userid and grader is None:
        raise GradingRefused(f"no grader {request.grader_userid}")
    with store.transaction():
        cmid = store.assignment(course.id, request.assignment_name)
        gradeid = store.grade_id(cmid, student.id, request.attempt_number)
        scale = request.btec_scale_index
        raw = float(scale) if scale is not None else request.grade
        data: dict[str, Any] = {
            "moodle_user_id": student.id, "user_email": student.email, "course_id": course.id,
            "course_idnumber": course.idnumber, "assignment_id": cmid, "assignment_name": request.assignment_name,
            "grade_id": gradeid, "raw_grade": raw, "grade_max": 4.0 if scale is not None else request.grade_max,
            "attempt_number": request.attempt_number, "time_graded": now,
            "grader": {"moodle_user_id": grader.id if grader else 0,
                       "full_name": f"{grader.firstname} {grader.lastname}" if grader else "",
                       "role": _grader_role(store, course.id, grader.id) if grader else "other"},
            "feedback": request.feedback,
            "learning_outcomes": [
                {"code": o.code, "description": o.description,
                 "score": "" if o.score is None else f"{o.score:.5f}", "feedback": o.feedback}
                for o in request.learning_outcomes],
            "workflow_state": request.workflow_state,
            "released": request.workflow_state == "released",
        }
        if scale is not None:
            data["btec_scale_index"] = scale
        grade_event(store, gradeid, data, now)
    return {"grade_id": gradeid, "assignment_id": cmid}
