"""OAuth scopes (401 OAUTH_SCOPE_MISMATCH), profile rights (403 NO_PERMISSION), AUTHENTICATION_FAILURE, and which
errors a write call wraps in `data[]` (zoho/crm-oas v8.0 record examples)."""

from __future__ import annotations

import httpx

from tests.zoho_emulator.harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    CUSTOM_ONLY_REFRESH,
    GRADES_ONLY_REFRESH,
    READ_ONLY_REFRESH,
    Emulator,
    students,
)

SCOPE_MISMATCH = {"code": "OAUTH_SCOPE_MISMATCH", "details": {}, "message": "Unauthorized", "status": "error"}


def _client(emulator: Emulator, refresh: str) -> httpx.Client:
    token = emulator.token(CLIENT_ID, CLIENT_SECRET, refresh)
    return httpx.Client(base_url=f"{emulator.url}/crm/v8", headers={"Authorization": f"Zoho-oauthtoken {token}"},
                        timeout=10)


def _grade(student_id: str) -> dict[str, object]:
    return {"data": [{"Student": {"id": student_id}, "Moodle_Grade_Composite_Key": "k1"}], "trigger": []}


def test_a_token_without_the_needed_scope_is_refused(emulator: Emulator) -> None:
    student = emulator.seed("BTEC_Students", students(1))[0]
    granted = httpx.post(f"{emulator.url}/oauth/v2/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": READ_ONLY_REFRESH}).json()
    assert granted["scope"] == "ZohoCRM.modules.READ"
    with _client(emulator, READ_ONLY_REFRESH) as api:
        assert api.get("/BTEC_Students", params={"fields": "Last_Name"}).status_code == 200
        insert = api.post("/BTEC_Students", json={"data": students(1, start=5), "trigger": []})
        assert insert.status_code == 401 and insert.json() == SCOPE_MISMATCH
        assert api.delete("/BTEC_Students", params={"ids": student}).json() == SCOPE_MISMATCH
        assert api.get("/BTEC_Students/search", params={"email": "a@b.co"}).json() == SCOPE_MISMATCH
        assert api.get("/settings/fields", params={"module": "BTEC_Students"}).json() == SCOPE_MISMATCH
    with _client(emulator, GRADES_ONLY_REFRESH) as api:
        assert api.post("/BTEC_Grades/upsert", json=_grade(student)).status_code == 200
        assert api.get("/BTEC_Students", params={"fields": "Last_Name"}).status_code == 401
    with _client(emulator, CUSTOM_ONLY_REFRESH) as api:
        assert api.get("/BTEC_Students", params={"fields": "Last_Name"}).status_code == 200
        assert api.get("/Products", params={"fields": "Product_Name"}).json() == SCOPE_MISMATCH
    assert len(emulator.records("BTEC_Students")) == 1


def test_profile_rights_answer_no_permission(api: httpx.Client, emulator: Emulator) -> None:
    student = emulator.seed("BTEC_Students", students(1))[0]
    emulator.profile("default", read_only_modules=["BTEC_Grades", "BTEC_Students"],
                     no_access_modules=["BTEC_Payments"])
    assert api.get("/BTEC_Grades", params={"fields": "Name"}).status_code == 204
    upsert = api.post("/BTEC_Grades/upsert", json=_grade(student))
    assert upsert.status_code == 403
    assert upsert.json() == {"code": "NO_PERMISSION", "message": "Permission denied", "status": "error",
                             "details": {"permissions": ["Crm_Implied_Create_BTEC_Grades"]}}
    delete = api.delete("/BTEC_Students", params={"ids": student})
    assert delete.status_code == 403 and delete.json()["message"] == "Permission denied to delete"
    hidden = api.get("/BTEC_Payments", params={"fields": "Name"})
    assert hidden.status_code == 403 and hidden.json()["details"] == {"permissions": ["Crm_Implied_View_BTEC_Payments"]}
    modules = {m["api_name"]: m for m in api.get("/settings/modules").json()["modules"]}
    assert (modules["BTEC_Grades"]["viewable"], modules["BTEC_Grades"]["creatable"]) == (True, False)
    assert modules["BTEC_Payments"]["viewable"] is False
    assert emulator.records("BTEC_Grades") == []
    emulator.reset()
    student = emulator.seed("BTEC_Students", students(1))[0]
    assert api.post("/BTEC_Grades/upsert", json=_grade(student)).status_code == 401  # reset drops tokens too
    with _client(emulator, "1000.emulator-refresh-token") as fresh:
        assert fresh.post("/BTEC_Grades/upsert", json=_grade(student)).status_code == 200


def test_a_changed_scope_applies_to_tokens_issued_afterwards(api: httpx.Client, emulator: Emulator) -> None:
    emulator.profile("default", scope="ZohoCRM.modules.READ")
    assert api.post("/Products", json={"data": [{"Product_Name": "A"}], "trigger": []}).status_code == 201
    with _client(emulator, "1000.emulator-refresh-token") as narrowed:
        assert narrowed.post("/Products", json={"data": [{"Product_Name": "B"}], "trigger": []}).status_code == 401


def test_authentication_failure_fault_and_missing_header(api: httpx.Client, emulator: Emulator) -> None:
    emulator.faults(next=["auth_failure"])
    failed = api.get("/Products", params={"fields": "Product_Name"})
    assert failed.status_code == 401
    assert failed.json() == {"code": "AUTHENTICATION_FAILURE", "details": {}, "message": "Authentication failed",
                             "status": "error"}
    assert api.get("/Products", params={"fields": "Product_Name"}).status_code == 204
    no_header = httpx.get(f"{emulator.url}/crm/v8/Products", params={"fields": "Product_Name"})
    assert no_header.json()["code"] == "AUTHENTICATION_FAILURE"


def test_write_calls_wrap_request_level_400s_but_not_401_403_404(api: httpx.Client, emulator: Emulator) -> None:
    wrong_module = api.post("/Nope", json={"data": [{"Name": "x"}], "trigger": []})
    assert wrong_module.status_code == 400
    assert wrong_module.json() == {"data": [{"code": "INVALID_MODULE", "details": {"resource_path_index": 0},
                                             "message": "the module name given seems to be invalid",
                                             "status": "error"}]}
    no_data = api.put("/BTEC_Students", json={"trigger": []})
    assert no_data.json()["data"][0]["code"] == "REQUIRED_PARAM_MISSING"
    # reads and delete keep the top-level object
    assert api.get("/Nope", params={"fields": "Name"}).json()["code"] == "INVALID_MODULE"
    assert api.delete("/BTEC_Students").json()["code"] == "REQUIRED_PARAM_MISSING"
    unauthorised = httpx.post(f"{emulator.url}/crm/v8/Nope", json={"data": [{"Name": "x"}]})
    assert unauthorised.json()["code"] == "AUTHENTICATION_FAILURE"
    bad_url = api.post("/BTEC_Students/a/b", json={"data": [{"Name": "x"}]})
    assert bad_url.status_code == 404 and bad_url.json()["code"] == "INVALID_URL_PATTERN"
    assert [c["code"] for c in emulator.calls()][:2] == ["INVALID_MODULE", "REQUIRED_PARAM_MISSING"]
