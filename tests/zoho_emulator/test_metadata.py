"""`settings/modules` and `settings/fields?module=` derived from each org's schema, shaped like zoho/crm-oas v8.0
getModules / getFields, so the product can check a tenant's field mapping against them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.zoho_emulator.harness import CUSTOM, Emulator


def _fields(api: httpx.Client, module: str) -> dict[str, dict[str, Any]]:
    resp = api.get("/settings/fields", params={"module": module})
    assert resp.status_code == 200
    return {f["api_name"]: f for f in resp.json()["fields"]}


def test_modules_list_custom_standard_and_subform_modules(api: httpx.Client, emulator: Emulator) -> None:
    modules = {m["api_name"]: m for m in api.get("/settings/modules").json()["modules"]}
    assert {"BTEC_Students", "BTEC_Grades", "Products", "BTEC_Enrollments"} <= set(modules)
    assert modules["BTEC_Grades"]["generated_type"] == "custom" and modules["Products"]["generated_type"] == "default"
    assert modules["BTEC_Grades"]["api_supported"] is True and modules["BTEC_Grades"]["creatable"] is True
    subform = modules["Learning_Outcomes_Assessm"]
    assert subform["generated_type"] == "subform" and subform["parent_module"]["api_name"] == "BTEC_Grades"
    assert all(len(m["id"]) == 19 and m["id"].isdigit() for m in modules.values())
    one = api.get("/settings/modules/BTEC_Grades").json()["modules"]
    assert one == [modules["BTEC_Grades"]]
    assert api.get("/settings/modules/Nope").json()["code"] == "INVALID_MODULE"


def test_fields_carry_types_lengths_uniqueness_lookups_and_subforms(api: httpx.Client) -> None:
    grades = _fields(api, "BTEC_Grades")
    key = grades["Moodle_Grade_Composite_Key"]
    assert (key["data_type"], key["json_type"], key["length"], key["custom_field"]) == ("text", "string", 255, True)
    assert key["unique"] == {"casesensitive": "false"} and grades["Moodle_Grade_ID"]["unique"] == {}
    student = grades["Student"]
    assert (student["data_type"], student["json_type"], student["system_mandatory"]) == ("lookup", "jsonobject", True)
    assert student["lookup"]["module"]["api_name"] == "BTEC_Students"
    assert grades["Grade"]["data_type"] == "picklist"
    assert [v["actual_value"] for v in grades["Grade"]["pick_list_values"]] == ["D", "M", "P", "R", "RR", "F",
                                                                                "Mapped"]
    assert grades["Attempt_Number"]["json_type"] == "integer" and grades["Feedback"]["textarea"] == {"type": "small"}
    name = grades["Name"]
    assert name["data_type"] == "autonumber" and name["read_only"] is True and name["custom_field"] is False
    assert grades["Modified_Time"]["data_type"] == "datetime" and grades["Modified_Time"]["read_only"] is True
    assert grades["Owner"]["data_type"] == "ownerlookup"
    rows = grades["Learning_Outcomes_Assessm"]
    assert (rows["data_type"], rows["json_type"]) == ("subform", "jsonarray")
    row_fields = _fields(api, rows["subform"]["module"])
    assert {"LO_Code", "LO_Title", "LO_Score", "LO_Feedback"} <= set(row_fields)
    assert len({f["id"] for f in api.get("/settings/fields", params={"module": "BTEC_Grades"}).json()["fields"]}) \
        == len(grades)


def test_fields_follow_the_orgs_own_customisation(emulator: Emulator) -> None:
    token = emulator.token(CUSTOM["client_id"], CUSTOM["client_secret"], CUSTOM["refresh_token"])
    with httpx.Client(base_url=f"{emulator.url}/crm/v8", headers={"Authorization": f"Zoho-oauthtoken {token}"}) as api:
        assert _fields(api, "BTEC_Grades")["Moodle_Grade_ID"]["unique"] == {"casesensitive": "false"}


def test_fields_errors(api: httpx.Client) -> None:
    missing = api.get("/settings/fields")
    assert missing.status_code == 400 and missing.json()["details"] == {"param_name": "module"}
    wrong = api.get("/settings/fields", params={"module": "Nope"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "INVALID_MODULE"
    assert api.post("/settings/fields", params={"module": "BTEC_Grades"}).json()["code"] == "INVALID_URL_PATTERN"
