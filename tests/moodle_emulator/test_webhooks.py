"""The plugin's webhooks: signed with the site's secret, bodies as the plugin builds them, per-record sequence,
nothing for rolled-back calls or unchanged users, retried when the ingress fails."""

from __future__ import annotations

import time
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.moodle_emulator.harness import DEBUG_TOKEN, SECRET, WWWROOT, Delivery, Emulator, Receiver, student


def _verified(delivery: Delivery) -> dict[str, Any]:
    """What our ingress does: check the Standard Webhooks signature over the raw bytes."""
    return dict(Webhook(SECRET).verify(delivery.raw, delivery.headers))


def test_created_users_are_sent_signed_with_the_plugin_body(moodle: Emulator, receiver: Receiver) -> None:
    created = moodle.call("core_user_create_users", {"users": [student(1), student(2)]})
    deliveries = receiver.wait_for(2)
    by_user = {d.body["data"]["moodle_user_id"]: d for d in deliveries}
    first = by_user[created[0]["id"]]
    body = _verified(first)
    assert first.path == "/webhooks/moodle/user_created"
    assert first.headers["x-tenant-id"] == "default" and first.headers["content-type"] == "application/json"
    assert first.headers["webhook-id"] == body["event_id"]
    assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 30
    assert list(body) == ["event_id", "event_type", "event_name", "timestamp", "site_url", "sequence", "data"]
    assert (body["event_type"], body["event_name"], body["site_url"], body["sequence"]) == (
        "user_created", "\\core\\event\\user_created", WWWROOT, 1)
    assert body["data"] == {"moodle_user_id": created[0]["id"], "username": "student1",
                            "email": "student1@abchorizon.com", "firstname": "First1", "lastname": "Last1",
                            "idnumber": "STU-0001"}
    assert b'"site_url":"https://lms.abchorizon.com"' in first.raw  # compact, slashes unescaped, like json_encode
    assert {d["outcome"] for d in moodle.settled()} == {"delivered"}


def test_user_updated_only_when_a_field_the_backend_uses_changed(moodle: Emulator, receiver: Receiver) -> None:
    (user,) = moodle.call("core_user_create_users", {"users": [student(1)]})
    moodle.call("core_user_update_users", {"users": [{"id": user["id"], "suspended": 1, "city": "Tyre"}]})
    moodle.call("core_user_update_users", {"users": [{"id": user["id"], "email": "lina@abchorizon.com"}]})
    moodle.call("core_user_update_users", {"users": [{"id": user["id"], "email": "lina@abchorizon.com"}]})
    moodle.settled()
    bodies = [d.body for d in receiver.wait_for(2)]
    assert [(b["event_type"], b["sequence"]) for b in bodies] == [("user_created", 1), ("user_updated", 2)]
    assert bodies[1]["data"]["email"] == "lina@abchorizon.com"
    assert len(receiver.snapshot()) == 2


def test_enrolment_events_carry_role_status_and_sequence(moodle: Emulator, receiver: Receiver) -> None:
    (s1, t1) = moodle.call("core_user_create_users", {"users": [student(1), student(2)]})
    (course,) = moodle.call("core_course_create_courses", {"courses": [
        {"fullname": "Unit 1", "shortname": "U1", "categoryid": 1, "idnumber": "CLS-1"}]})
    moodle.call("enrol_manual_enrol_users", {"enrolments": [
        {"roleid": 5, "userid": s1["id"], "courseid": course["id"], "timestart": 1767225600},
        {"roleid": 3, "userid": t1["id"], "courseid": course["id"]}]})
    moodle.call("enrol_manual_enrol_users", {"enrolments": [
        {"roleid": 5, "userid": s1["id"], "courseid": course["id"], "timestart": 1767225600, "suspend": 1}]})
    moodle.call("enrol_manual_unenrol_users", {"enrolments": [{"userid": s1["id"], "courseid": course["id"]}]})
    moodle.settled()
    enrolment_bodies = [_verified(d) for d in receiver.wait_for(6) if "enrollment" in d.path]
    by_type = {(b["event_type"], b["data"]["moodle_user_id"]): b for b in enrolment_bodies}
    created = by_type[("enrollment_created", s1["id"])]
    assert created["event_name"] == "\\core\\event\\user_enrolment_created"
    assert created["data"] == {"moodle_user_id": s1["id"], "course_id": course["id"], "course_idnumber": "CLS-1",
                               "enrolment_id": created["data"]["enrolment_id"], "role": "student",
                               "time_start": 1767225600, "time_end": None, "status": 0, "enrol_method": "manual"}
    assert by_type[("enrollment_created", t1["id"])]["data"]["role"] == "editingteacher"
    updated = by_type[("enrollment_updated", s1["id"])]
    deleted = by_type[("enrollment_deleted", s1["id"])]
    assert updated["data"]["status"] == 1 and deleted["data"]["status"] == 1 and deleted["data"]["role"] == "student"
    assert [b["sequence"] for b in (created, updated, deleted)] == [1, 2, 3]
    assert len({b["data"]["enrolment_id"] for b in (created, updated, deleted)}) == 1


def test_a_rolled_back_call_sends_nothing(moodle: Emulator, receiver: Receiver) -> None:
    moodle.error("core_user_create_users", {"users": [student(1), student(1)]})
    moodle.call("core_user_create_users", {"users": [student(2)]})
    deliveries = receiver.wait_for(1)
    time.sleep(0.2)
    assert [d.body["data"]["username"] for d in receiver.snapshot()] == ["student2"] == [
        d.body["data"]["username"] for d in deliveries]


def test_site_without_the_plugin_configured_sends_nothing(moodle: Emulator, receiver: Receiver) -> None:
    moodle.call("core_user_create_users", {"users": [student(1)]}, token=DEBUG_TOKEN)
    moodle.call("core_user_create_users", {"users": [student(2)]})
    receiver.wait_for(1)
    time.sleep(0.2)
    assert [d.body["data"]["username"] for d in receiver.snapshot()] == ["student2"]


def test_failed_deliveries_are_retried_and_the_call_does_not_wait(moodle: Emulator, receiver: Receiver) -> None:
    receiver.script.extend([503, 429])
    started = time.monotonic()
    moodle.call("core_user_create_users", {"users": [student(1)]})
    assert time.monotonic() - started < 1
    (accepted,) = receiver.wait_for(1)
    attempts = receiver.snapshot()
    assert [d.headers["x-emulator-answer"] for d in attempts] == ["503", "429", "202"]
    assert len({d.headers["webhook-id"] for d in attempts}) == 1  # the same event each time
    _verified(accepted)
    (log,) = moodle.settled()
    assert (log["outcome"], log["attempts"], log["status"]) == ("delivered", 3, 202)


def test_a_client_error_is_final_and_attempts_are_bounded(moodle: Emulator, receiver: Receiver) -> None:
    receiver.script.extend([401, 500, 500, 500])
    moodle.call("core_user_create_users", {"users": [student(1), student(2)]})
    outcomes = sorted((d["outcome"], d["attempts"], d["status"]) for d in moodle.settled())
    assert outcomes == [("failed", 1, 401), ("failed", 3, 500)]  # max_attempts is 3 in the test config


def test_a_teacher_grading_sends_grade_updated(moodle: Emulator, receiver: Receiver) -> None:
    s1, t1 = moodle.call("core_user_create_users", {"users": [student(1), student(2)]})
    (course,) = moodle.call("core_course_create_courses", {"courses": [
        {"fullname": "Unit 1", "shortname": "U1", "categoryid": 1, "idnumber": "CLS-1"}]})
    moodle.call("enrol_manual_enrol_users", {"enrolments": [
        {"roleid": 5, "userid": s1["id"], "courseid": course["id"]},
        {"roleid": 3, "userid": t1["id"], "courseid": course["id"]}]})
    receiver.wait_for(4)
    graded = moodle.admin("POST", "grade", json={
        "userid": s1["id"], "courseid": course["id"], "assignment_name": "Unit 1 Assignment 1",
        "btec_scale_index": 3, "grader_userid": t1["id"], "feedback": "<p>Merit</p>", "workflow_state": "inmarking",
        "learning_outcomes": [{"code": "P1", "description": "Explain", "score": 1}, {"code": "D1"}]})
    moodle.admin("POST", "grade", json={"userid": s1["id"], "courseid": course["id"],
                                        "assignment_name": "Unit 1 Assignment 1", "btec_scale_index": 4,
                                        "grader_userid": t1["id"]})
    first, second = (_verified(d) for d in receiver.wait_for(6)[4:])
    assert (first["event_type"], first["event_name"]) == ("grade_updated", "\\mod_assign\\event\\submission_graded")
    assert first["data"] == {
        "moodle_user_id": s1["id"], "user_email": "student1@abchorizon.com", "course_id": course["id"],
        "course_idnumber": "CLS-1", "assignment_id": graded["assignment_id"],
        "assignment_name": "Unit 1 Assignment 1", "grade_id": graded["grade_id"], "raw_grade": 3.0,
        "grade_max": 4.0, "attempt_number": 1, "time_graded": first["timestamp"],
        "grader": {"moodle_user_id": t1["id"], "full_name": "First2 Last2", "role": "teacher"},
        "feedback": "<p>Merit</p>",
        "learning_outcomes": [{"code": "P1", "description": "Explain", "score": "1.00000", "feedback": ""},
                              {"code": "D1", "description": "", "score": "", "feedback": ""}],
        "workflow_state": "inmarking", "released": False, "btec_scale_index": 3}
    # The regrade of the same submission: same grade record, next sequence, released.
    assert (second["data"]["grade_id"], second["sequence"], second["data"]["released"]) == (
        graded["grade_id"], 2, True)
    # The college's internal verifier (role 9, shortname "iv") grades as "iv".
    (iv,) = moodle.call("core_user_create_users", {"users": [student(3)]})
    moodle.call("enrol_manual_enrol_users", {"enrolments": [{"roleid": 9, "userid": iv["id"],
                                                              "courseid": course["id"]}]})
    moodle.admin("POST", "grade", json={"userid": s1["id"], "courseid": course["id"], "grade": 80,
                                        "grader_userid": iv["id"]})
    assert receiver.wait_for(9)[-1].body["data"]["grader"]["role"] == "iv"
    # A user who is not enrolled in the course cannot be graded there.
    refused = httpx.post(f"{moodle.url}/__emulator/grade", json={"userid": 1, "courseid": course["id"], "grade": 50})
    assert refused.status_code == 422 and "not enrolled" in refused.text
