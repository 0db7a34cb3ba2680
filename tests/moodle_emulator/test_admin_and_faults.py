"""Injected faults, call counts per function, seeding, reset and metrics: the knobs a sink's tests use."""

from __future__ import annotations

import httpx
import pytest

from tests.moodle_emulator.harness import Emulator, Receiver, student


def test_scripted_faults_hit_the_next_calls_and_change_nothing(moodle: Emulator) -> None:
    moodle.faults(next=["exception", "503", "timeout"])
    err = moodle.error("core_user_create_users", {"users": [student(1)]})
    assert err == {"exception": "dml_write_exception", "errorcode": "dmlwriteexception",
                   "message": "Error writing to database"}
    unavailable = moodle.post("core_user_create_users", {"users": [student(1)]})
    assert unavailable.status_code == 503 and "Service Unavailable" in unavailable.text
    with pytest.raises(httpx.ReadTimeout):
        moodle.post("core_user_create_users", {"users": [student(1)]}, timeout=0.5)
    assert [u["username"] for u in moodle.table("users")][-1] == "enroller"  # nothing was created
    assert moodle.call("core_user_create_users", {"users": [student(1)]})[0]["username"] == "student1"
    faults = [c["fault"] for c in moodle.calls()]
    assert faults[:3] == ["exception", "503", "timeout"]
    assert moodle.admin("GET", "faults")["next"] == []


def test_call_counts_per_function_and_records_per_call(moodle: Emulator) -> None:
    moodle.call("core_user_create_users", {"users": [student(n) for n in range(3)]})
    moodle.call("core_user_get_users_by_field", {"field": "idnumber", "values": ["STU-0000", "STU-0001"]})
    moodle.call("core_user_get_users_by_field", {"field": "idnumber", "values": ["STU-0002"]})
    moodle.error("core_user_create_users", {"users": [student(1)]})
    assert moodle.counts() == {"core_user_create_users": 2, "core_user_get_users_by_field": 2}
    calls = moodle.calls()
    assert [(c["wsfunction"], c["records"], c["errorcode"]) for c in calls] == [
        ("core_user_create_users", 3, None), ("core_user_get_users_by_field", 2, None),
        ("core_user_get_users_by_field", 1, None), ("core_user_create_users", 1, "invalidparameter")]
    metrics = httpx.get(f"{moodle.url}/metrics").text
    assert 'moodle_emulator_calls_total{outcome="invalidparameter",wsfunction="core_user_create_users"} 1.0' \
        in metrics


def test_seed_makes_existing_data_without_or_with_plugin_events(moodle: Emulator, receiver: Receiver) -> None:
    seeded = moodle.admin("POST", "seed", json={
        "users": [{"username": "old.account", "firstname": "Old", "lastname": "Account",
                   "email": "old@abchorizon.com", "idnumber": "STU-0001"}],
        "categories": [{"name": "Legacy", "idnumber": "PROG-OLD"}],
        "courses": [{"fullname": "Legacy unit", "shortname": "LEG", "idnumber": "CLS-OLD", "categoryid": 1}]})
    (uid,), (cid,) = seeded["users"], seeded["courses"]
    moodle.admin("POST", "seed", json={"enrolments": [{"userid": uid, "courseid": cid}], "events": True})
    (found,) = moodle.call("core_user_get_users_by_field", {"field": "idnumber", "values": ["STU-0001"]})
    assert found["id"] == uid
    assert moodle.call("core_course_get_courses_by_field", {"field": "idnumber", "value": "CLS-OLD"})[
        "courses"][0]["id"] == cid
    (delivery,) = receiver.wait_for(1)
    assert delivery.body["event_type"] == "enrollment_created" and delivery.body["data"]["course_id"] == cid
    assert moodle.counts() == {"core_course_get_courses_by_field": 1, "core_user_get_users_by_field": 1}


def test_reset_forgets_everything(moodle: Emulator) -> None:
    moodle.call("core_user_create_users", {"users": [student(1)]})
    moodle.faults(next=["exception"])
    moodle.reset()
    assert moodle.calls() == [] and moodle.admin("GET", "faults")["next"] == []
    assert [u["username"] for u in moodle.table("users")] == ["guest", "admin", "zohosync", "limited", "lookup",
                                                              "enroller"]
    assert moodle.call("core_user_create_users", {"users": [student(1)]})[0]["id"] == 7
