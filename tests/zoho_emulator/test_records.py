"""Insert, update, upsert, get, list, delete: status codes and envelopes as in docs/zoho-api.md#records."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.zoho_emulator.harness import Emulator

ID = re.compile(r"^\d{19}$")
WRITE_DETAILS = {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By", "$approval_state"}


def _student(n: int, **extra: Any) -> dict[str, Any]:
    return {"Academic_Email": f"s{n}@college.test", "First_Name": f"First{n}", "Last_Name": f"Last{n}", **extra}


def _insert(api: httpx.Client, module: str, *records: dict[str, Any]) -> httpx.Response:
    return api.post(f"/{module}", json={"data": list(records), "trigger": []})


def _new_student(api: httpx.Client, n: int, **extra: Any) -> str:
    resp = _insert(api, "BTEC_Students", _student(n, **extra))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"][0]["details"]["id"])


def test_insert_all_ok_is_201_with_record_added_details(api: httpx.Client, emulator: Emulator) -> None:
    resp = _insert(api, "BTEC_Students", _student(1), _student(2))
    assert resp.status_code == 201
    items = resp.json()["data"]
    assert [i["code"] for i in items] == ["SUCCESS", "SUCCESS"]
    assert all(i["message"] == "record added" and i["status"] == "success" for i in items)
    assert set(items[0]["details"]) == WRITE_DETAILS
    ids = [i["details"]["id"] for i in items]
    assert all(ID.match(i) for i in ids) and ids[0] != ids[1]
    stored = {r["id"]: r for r in emulator.records("BTEC_Students")}
    assert stored[ids[1]]["Academic_Email"] == "s2@college.test"
    assert stored[ids[0]]["Name"] == "STU-0001"


def test_mixed_batch_is_207_in_input_order_with_mandatory_and_duplicate_errors(api: httpx.Client) -> None:
    existing = _new_student(api, 1)
    resp = _insert(api, "BTEC_Students", _student(2), {"First_Name": "NoEmail"}, _student(1))
    assert resp.status_code == 207
    ok, mandatory, duplicate = resp.json()["data"]
    assert ok["code"] == "SUCCESS"
    assert mandatory == {"code": "MANDATORY_NOT_FOUND", "message": "required field not found", "status": "error",
                         "details": {"api_name": "Academic_Email", "json_path": "$.data[1].Academic_Email"}}
    assert duplicate["code"] == "DUPLICATE_DATA" and duplicate["message"] == "duplicate data"
    details = duplicate["details"]
    assert details["api_name"] == "Academic_Email" and details["json_path"] == "$.data[2].Academic_Email"
    assert details["id"] == existing and details["duplicate_record"]["id"] == existing
    assert details["more_records"] is False


def test_every_record_failing_is_400_with_data(api: httpx.Client) -> None:
    resp = _insert(api, "BTEC_Students", {"First_Name": "a"}, {"First_Name": "b"})
    assert resp.status_code == 400
    assert [i["code"] for i in resp.json()["data"]] == ["MANDATORY_NOT_FOUND", "MANDATORY_NOT_FOUND"]


def test_invalid_data_variants(api: httpx.Client) -> None:
    student = _new_student(api, 1)
    resp = _insert(api, "BTEC_Grades",
                   {"Student": {"id": student}, "BTEC_Grade_Name": "x" * 256},
                   {"Student": {"id": student}, "Grade": "Merit"},
                   {"Student": {"id": "4876876999999999999"}},
                   {"Student": {"id": student}, "Feedback": "y" * 2001},
                   {"Student": {"id": student}, "Grade_Label": "D"},
                   {"Student": {"id": student}, "Attempt_Number": "two"})
    assert resp.status_code == 400
    long_text, picklist, lookup, long_area, unknown, typed = (i["details"] for i in resp.json()["data"])
    assert long_text == {"api_name": "BTEC_Grade_Name", "json_path": "$.data[0].BTEC_Grade_Name", "maximum_length": 255}
    assert picklist["api_name"] == "Grade" and picklist["supported_values"] == ["D", "M", "P", "R", "RR", "F", "Mapped"]
    assert lookup == {"api_name": "Student", "json_path": "$.data[2].Student"}
    assert resp.json()["data"][2]["message"] == "the id given seems to be invalid"
    assert long_area["maximum_length"] == 2000
    assert unknown["api_name"] == "Grade_Label"
    assert resp.json()["data"][4]["message"] == "the field api name given seems to be invalid"
    assert typed["expected_data_type"] == "integer"
    assert all(i["code"] == "INVALID_DATA" for i in resp.json()["data"])


def test_more_than_100_records_is_limit_exceeded(api: httpx.Client, emulator: Emulator) -> None:
    resp = _insert(api, "BTEC_Students", *[_student(n) for n in range(101)])
    assert resp.status_code == 400
    # a write call answers its request-level 400 inside data[], as the spec's examples show
    assert resp.json() == {"data": [{"code": "LIMIT_EXCEEDED",
                                     "message": "count of records in your request exceeds the limit",
                                     "details": {"maximum_length": 100, "api_name": "data"}, "status": "error"}]}
    assert emulator.records("BTEC_Students") == []
    assert _insert(api, "BTEC_Students", *[_student(n) for n in range(100)]).status_code == 201


def test_unknown_module_and_v7(api: httpx.Client, emulator: Emulator) -> None:
    resp = api.get("/Leads_Typo", params={"fields": "Name"})
    assert resp.status_code == 400
    assert resp.json() == {"code": "INVALID_MODULE", "details": {"resource_path_index": 0},
                           "message": "the module name given seems to be invalid", "status": "error"}
    v7 = httpx.post(f"{emulator.url}/crm/v7/Products", headers=api.headers,
                    json={"data": [{"Product_Name": "L3 IT"}], "trigger": []})
    assert v7.status_code == 201


def test_update_changes_only_sent_keys_and_lookups_read_back_with_name(api: httpx.Client) -> None:
    student = _new_student(api, 1, City="Beirut")
    resp = api.put("/BTEC_Students", json={"data": [{"id": student, "City": "Tripoli"}], "trigger": []})
    assert resp.status_code == 200
    item = resp.json()["data"][0]
    assert item["message"] == "record updated" and set(item["details"]) == WRITE_DETAILS
    record = api.get(f"/BTEC_Students/{student}").json()["data"][0]
    assert record["City"] == "Tripoli" and record["First_Name"] == "First1"
    assert record["Owner"]["id"] and record["Created_Time"] and record["Modified_Time"]

    grade = _insert(api, "BTEC_Grades", {"Student": {"id": student, "name": "ignored"}}).json()["data"][0]
    got = api.get(f"/BTEC_Grades/{grade['details']['id']}").json()["data"][0]
    assert got["Student"] == {"name": "STU-0001", "id": student}


def test_update_errors_bad_id_missing_id_and_unique_collision(api: httpx.Client) -> None:
    first, second = _new_student(api, 1), _new_student(api, 2)
    resp = api.put("/BTEC_Students", json={"data": [
        {"id": "4876876000999999999", "City": "x"}, {"City": "y"},
        {"id": second, "Academic_Email": "S1@college.test"}, {"id": first, "City": "ok"}]})
    assert resp.status_code == 207
    bad_id, no_id, dup, ok = resp.json()["data"]
    assert bad_id["code"] == "INVALID_DATA" and bad_id["message"] == "the id given seems to be invalid"
    assert bad_id["details"] == {"api_name": "id", "json_path": "$.data[0].id"}
    assert no_id["code"] == "MANDATORY_NOT_FOUND" and no_id["details"]["api_name"] == "id"
    assert dup["code"] == "DUPLICATE_DATA" and dup["details"]["id"] == first
    assert ok["code"] == "SUCCESS"


def test_put_single_record_by_url(api: httpx.Client) -> None:
    student = _new_student(api, 1)
    resp = api.put(f"/BTEC_Students/{student}", json={"data": [{"City": "Amman"}]})
    assert resp.status_code == 200 and resp.json()["data"][0]["details"]["id"] == student
    assert api.get(f"/BTEC_Students/{student}").json()["data"][0]["City"] == "Amman"


def test_upsert_inserts_then_updates_by_unique_field(api: httpx.Client, emulator: Emulator) -> None:
    student = _new_student(api, 1)
    body: dict[str, Any] = {"data": [{"Student": {"id": student}, "Moodle_Grade_Composite_Key": "7_42", "Grade": "P"}],
            "duplicate_check_fields": ["Moodle_Grade_Composite_Key"], "trigger": []}
    first = api.post("/BTEC_Grades/upsert", json=body)
    assert first.status_code == 200
    item = first.json()["data"][0]
    assert item["action"] == "insert" and item["duplicate_field"] is None and item["message"] == "record added"
    body["data"][0]["Grade"] = "M"
    second = api.post("/BTEC_Grades/upsert", json=body).json()["data"][0]
    assert second["action"] == "update" and second["duplicate_field"] == "Moodle_Grade_Composite_Key"
    assert second["details"]["id"] == item["details"]["id"] and second["message"] == "record updated"
    grades = emulator.records("BTEC_Grades")
    assert len(grades) == 1 and grades[0]["Grade"] == "M"


def test_upsert_default_duplicate_check_uses_unique_fields_and_given_order_wins(api: httpx.Client) -> None:
    a = _new_student(api, 1, Student_Moodle_ID="m-1")
    b = _new_student(api, 2, Student_Moodle_ID="m-2")
    # no duplicate_check_fields: the system field (Name) first, then unique fields -> matches by email
    default = api.post("/BTEC_Students/upsert", json={"data": [{"Academic_Email": "s1@college.test", "City": "X"}]})
    assert default.json()["data"][0]["details"]["id"] == a
    assert default.json()["data"][0]["duplicate_field"] == "Academic_Email"
    # Moodle id of b first: updates b, and b may not take a's email -> DUPLICATE_DATA on the email
    ordered = api.post("/BTEC_Students/upsert", json={
        "data": [{"Student_Moodle_ID": "m-2", "Academic_Email": "s1@college.test"}],
        "duplicate_check_fields": ["Student_Moodle_ID", "Academic_Email"]})
    assert ordered.status_code == 400
    assert ordered.json()["data"][0]["code"] == "DUPLICATE_DATA"
    assert ordered.json()["data"][0]["details"]["duplicate_record"]["module"]["api_name"] == "BTEC_Students"
    moved = api.post("/BTEC_Students/upsert", json={
        "data": [{"Student_Moodle_ID": "m-2", "City": "Y"}], "duplicate_check_fields": ["Student_Moodle_ID"]})
    assert moved.json()["data"][0]["details"]["id"] == b


def test_upsert_on_a_field_that_is_not_unique_is_rejected(api: httpx.Client) -> None:
    resp = api.post("/BTEC_Students/upsert", json={"data": [{"Academic_Email": "a@b.co"}],
                                                    "duplicate_check_fields": ["City"]})
    assert resp.status_code == 400 and resp.json()["data"][0]["code"] == "INVALID_DATA"
    assert resp.json()["data"][0]["details"]["api_name"] == "City"


def test_get_unknown_id_is_204_and_list_needs_fields(api: httpx.Client) -> None:
    missing = api.get("/BTEC_Students/4876876000999999999")
    assert missing.status_code == 204 and missing.content == b""
    no_fields = api.get("/BTEC_Students")
    assert no_fields.status_code == 400
    assert no_fields.json()["code"] == "REQUIRED_PARAM_MISSING"
    assert no_fields.json()["details"] == {"param_name": "fields"}
    for n in range(3):
        _new_student(api, n)
    page = api.get("/BTEC_Students", params={"fields": "Academic_Email", "per_page": 2})
    assert page.status_code == 200
    body = page.json()
    assert body["info"]["count"] == 2 and body["info"]["more_records"] is True
    assert set(body["data"][0]) == {"id", "Academic_Email"}


def test_delete_by_ids(api: httpx.Client, emulator: Emulator) -> None:
    a, b = _new_student(api, 1), _new_student(api, 2)
    resp = api.delete("/BTEC_Students", params={"ids": f"{a},4876876000999999999"})
    assert resp.status_code == 207
    ok, bad = resp.json()["data"]
    assert ok == {"code": "SUCCESS", "details": {"id": a}, "message": "record deleted", "status": "success"}
    assert bad["code"] == "INVALID_DATA" and bad["message"] == "record not deleted"
    assert [r["id"] for r in emulator.records("BTEC_Students")] == [b]
    missing = api.delete("/BTEC_Students")
    assert missing.status_code == 400 and missing.json()["details"] == {"param_name": "ids"}
    assert api.delete("/BTEC_Students", params={"ids": b}).status_code == 200
