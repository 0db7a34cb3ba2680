"""Unique fields beyond the upsert key: the enrollment key of the default schema, and an org's own unique field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.zoho_emulator.harness import CUSTOM, Emulator


def _id(resp: httpx.Response, i: int = 0) -> str:
    return str(resp.json()["data"][i]["details"]["id"])


def _student_and_class(api: httpx.Client) -> tuple[str, str]:
    student = api.post("/BTEC_Students", json={"data": [{"Academic_Email": "s@college.test"}], "trigger": []})
    cls = api.post("/BTEC_Classes", json={"data": [{"Class_Name": "Unit 1 - A"}], "trigger": []})
    return _id(student), _id(cls)


@pytest.fixture
def custom_api(emulator: Emulator) -> Iterator[httpx.Client]:
    token = emulator.token(CUSTOM["client_id"], CUSTOM["client_secret"], CUSTOM["refresh_token"])
    with httpx.Client(base_url=f"{emulator.url}/crm/v8", headers={"Authorization": f"Zoho-oauthtoken {token}"},
                      timeout=10) as client:
        yield client


def test_enrollments_upsert_on_the_moodle_enrollment_key(api: httpx.Client, emulator: Emulator) -> None:
    student, cls = _student_and_class(api)
    record = {"Moodle_Enrollment_Key": "7_31", "Enrolled_Students": {"id": student}, "Classes": {"id": cls},
              "Start_Date": "2026-01-05", "Moodle_Course_ID": "31"}
    body: dict[str, Any] = {"data": [record], "trigger": [], "duplicate_check_fields": ["Moodle_Enrollment_Key"]}
    first = api.post("/BTEC_Enrollments/upsert", json=body)
    assert first.json()["data"][0]["action"] == "insert"
    body["data"] = [{**record, "End_Date": "2026-03-01"}]
    second = api.post("/BTEC_Enrollments/upsert", json=body)
    item = second.json()["data"][0]
    assert (item["action"], item["duplicate_field"], _id(second)) == ("update", "Moodle_Enrollment_Key", _id(first))
    (stored,) = emulator.records("BTEC_Enrollments")
    assert stored["End_Date"] == "2026-03-01" and stored["Classes"] == {"name": "Unit 1 - A", "id": cls}
    # The key is unique: a plain insert with the same key is refused and names the record that holds it.
    again = api.post("/BTEC_Enrollments", json={"data": [record], "trigger": []})
    assert again.status_code == 400
    duplicate = again.json()["data"][0]
    assert duplicate["code"] == "DUPLICATE_DATA" and duplicate["details"]["id"] == _id(first)


def test_an_orgs_own_unique_field_answers_duplicate_data_to_an_upsert_that_matched_nothing(
        api: httpx.Client, custom_api: httpx.Client, emulator: Emulator) -> None:
    student, _ = _student_and_class(custom_api)
    existing = custom_api.post("/BTEC_Grades", json={"data": [
        {"Student": {"id": student}, "Moodle_Grade_ID": "g7421", "Moodle_Grade_Composite_Key": "7_3"}],
        "trigger": []})
    body = {"data": [{"Student": {"id": student}, "Moodle_Grade_ID": "g7421", "Moodle_Grade_Composite_Key": "7_42"}],
            "trigger": [], "duplicate_check_fields": ["Moodle_Grade_Composite_Key"]}
    resp = custom_api.post("/BTEC_Grades/upsert", json=body)
    assert resp.status_code == 400
    (item,) = resp.json()["data"]
    assert item["code"] == "DUPLICATE_DATA"
    details = item["details"]
    assert details["api_name"] == "Moodle_Grade_ID" and details["id"] == _id(existing)
    assert details["duplicate_record"]["id"] == _id(existing) and details["duplicate_record"]["module"]
    assert len(emulator.records("BTEC_Grades", "custom")) == 1
    # The same upsert in an org with the default schema just inserts: the customisation is the org's own.
    other, _ = _student_and_class(api)
    for _ in range(2):
        api.post("/BTEC_Grades", json={"data": [{"Student": {"id": other}, "Moodle_Grade_ID": "g7421"}],
                                       "trigger": []}).raise_for_status()
    assert len(emulator.records("BTEC_Grades")) == 2
