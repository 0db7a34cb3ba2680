"""Manual enrolments: roles, dates, suspension, re-enrolment, unenrolment, errors; core_enrol_get_enrolled_users."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.moodle_emulator.harness import ASSIGNS_TWO, LEAST_PRIVILEGE, Emulator, MoodleError, student

STUDENT, TEACHER = 5, 3


@pytest.fixture
def school(moodle: Emulator) -> dict[str, Any]:
    users = moodle.call("core_user_create_users", {"users": [student(1), student(2), student(3)]})
    course = moodle.call("core_course_create_courses", {"courses": [
        {"fullname": "Unit 1", "shortname": "U1", "categoryid": 1, "idnumber": "CLS-1"}]})[0]
    return {"users": [u["id"] for u in users], "course": course["id"]}


def _enrol(moodle: Emulator, *enrolments: dict[str, Any], token: str | None = None) -> Any:
    kw = {"token": token} if token else {}
    return moodle.call("enrol_manual_enrol_users", {"enrolments": list(enrolments)}, **kw)


def _enrolled(moodle: Emulator, course: int, **options: Any) -> list[dict[str, Any]]:
    opts = [{"name": k, "value": v} for k, v in options.items()]
    return list(moodle.call("core_enrol_get_enrolled_users", {"courseid": course, "options": opts}))


def test_enrol_students_and_a_teacher_in_one_call(moodle: Emulator, school: dict[str, Any]) -> None:
    s1, s2, teacher = school["users"]
    course = school["course"]
    start, end = int(time.time()) - 60, int(time.time()) + 86400
    assert _enrol(moodle, {"roleid": STUDENT, "userid": s1, "courseid": course, "timestart": start, "timeend": end},
                  {"roleid": STUDENT, "userid": s2, "courseid": course, "suspend": 1},
                  {"roleid": TEACHER, "userid": teacher, "courseid": course}) is None  # Moodle answers null
    rows = {e["userid"]: e for e in moodle.table("enrolments")}
    assert (rows[s1]["timestart"], rows[s1]["timeend"], rows[s1]["status"], rows[s1]["roles"]) == (
        start, end, 0, ["student"])
    assert rows[s2]["status"] == 1 and rows[teacher]["roles"] == ["editingteacher"]
    everyone = _enrolled(moodle, course)
    assert [u["id"] for u in everyone] == [s1, s2, teacher]
    assert everyone[2]["roles"] == [{"roleid": 3, "name": "", "shortname": "editingteacher", "sortorder": 0}]
    assert everyone[0]["enrolledcourses"] == [{"id": course, "fullname": "Unit 1", "shortname": "U1"}]
    assert "suspended" not in everyone[0]  # get_enrolled_users does not return it
    assert [u["id"] for u in _enrolled(moodle, course, onlyactive=1)] == [s1, teacher]
    assert [u["id"] for u in _enrolled(moodle, course, onlysuspended=1)] == [s2]
    (info,) = moodle.call("core_course_get_courses_by_field", {"field": "id", "value": course})["courses"]
    assert info["contacts"] == [{"id": teacher, "fullname": "First3 Last3"}]


def test_enrolling_again_updates_dates_and_status_and_adds_a_role(moodle: Emulator, school: dict[str, Any]) -> None:
    s1 = school["users"][0]
    course = school["course"]
    _enrol(moodle, {"roleid": STUDENT, "userid": s1, "courseid": course, "timestart": 100})
    _enrol(moodle, {"roleid": STUDENT, "userid": s1, "courseid": course, "suspend": 1})
    _enrol(moodle, {"roleid": TEACHER, "userid": s1, "courseid": course, "suspend": 1})
    (row,) = moodle.table("enrolments")
    assert (row["timestart"], row["status"], row["roles"]) == (0, 1, ["editingteacher", "student"])


def test_enrol_errors_roll_back_the_call(moodle: Emulator, school: dict[str, Any]) -> None:
    s1 = school["users"][0]
    course = school["course"]
    ok = {"roleid": STUDENT, "userid": s1, "courseid": course}
    cases = [
        ({"roleid": 7, "userid": s1, "courseid": course}, "moodle_exception", "wsusercannotassign",
         f"You don't have the permission to assign this role (7) to this user ({s1}) in this course ({course})."),
        ({"roleid": STUDENT, "userid": s1, "courseid": 999}, "invalid_parameter_exception", "invalidparameter",
         "Invalid parameter value detected"),
        ({"roleid": STUDENT, "userid": 99999, "courseid": course}, "coding_exception", "codingerror",
         "Coding error detected, it must be fixed by a programmer: User ID does not exist or is deleted!"),
        ({"roleid": STUDENT, "userid": s1, "courseid": 1}, "moodle_exception", "wsnoinstance",
         "Manual enrolment plugin instance doesn't exist or is disabled for the course (id = {$a->courseid})"),
    ]
    for bad, exception, code, message in cases:
        err = moodle.error("enrol_manual_enrol_users", {"enrolments": [ok, bad]})
        assert (err["exception"], err["errorcode"], err["message"]) == (exception, code, message)
    assert moodle.table("enrolments") == []
    with pytest.raises(MoodleError) as refused:
        _enrol(moodle, ok, token=LEAST_PRIVILEGE)
    assert refused.value.message == "Sorry, but you do not currently have permissions to do that (Enrol users)."


def test_a_role_allowed_to_assign_two_roles_assigns_no_other(moodle: Emulator, school: dict[str, Any]) -> None:
    s1, s2, _ = school["users"]
    course = school["course"]
    with pytest.raises(MoodleError) as refused:
        _enrol(moodle, {"roleid": 1, "userid": s1, "courseid": course}, token=ASSIGNS_TWO)
    assert (refused.value.errorcode, refused.value.message) == (
        "wsusercannotassign", f"You don't have the permission to assign this role (1) to this user ({s1}) in this "
        f"course ({course}).")
    _enrol(moodle, {"roleid": TEACHER, "userid": s2, "courseid": course}, token=ASSIGNS_TWO)
    assert [e["roles"] for e in moodle.table("enrolments")] == [["editingteacher"]]


def test_unenrol(moodle: Emulator, school: dict[str, Any]) -> None:
    s1, s2, _ = school["users"]
    course = school["course"]
    _enrol(moodle, {"roleid": STUDENT, "userid": s1, "courseid": course},
           {"roleid": STUDENT, "userid": s2, "courseid": course})
    # roleid is accepted and ignored; a user who is not enrolled is skipped without a word.
    assert moodle.call("enrol_manual_unenrol_users", {"enrolments": [
        {"userid": s1, "courseid": course, "roleid": 3}, {"userid": school["users"][2], "courseid": course}]}) is None
    assert [e["userid"] for e in moodle.table("enrolments")] == [s2]
    assert [u["id"] for u in _enrolled(moodle, course)] == [s2]
    err = moodle.error("enrol_manual_unenrol_users", {"enrolments": [{"userid": 424242, "courseid": course}]})
    assert (err["errorcode"], err["message"]) == ("invalidparameter", "Invalid parameter value detected")
    missing = moodle.error("enrol_manual_unenrol_users", {"enrolments": [{"userid": s2, "courseid": 555}]})
    assert missing["exception"] == "dml_missing_record_exception"
    assert moodle.error("core_enrol_get_enrolled_users", {"courseid": 555}) == {
        "exception": "dml_missing_record_exception", "errorcode": "invalidrecord",
        "message": "Can't find data record in database table course."}
