"""Search criteria: and/or, escaping, `equals` acting like contains on text, 204 on no match (docs/zoho-api.md)."""

from __future__ import annotations

import httpx

from tests.zoho_emulator.harness import Emulator


def _students(api: httpx.Client, *records: dict[str, object]) -> list[str]:
    resp = api.post("/BTEC_Students", json={"data": list(records), "trigger": []})
    assert resp.status_code == 201, resp.text
    return [i["details"]["id"] for i in resp.json()["data"]]


def _search(api: httpx.Client, criteria: str) -> httpx.Response:
    return api.get("/BTEC_Students/search", params={"criteria": criteria})


def _ids(resp: httpx.Response) -> set[str]:
    assert resp.status_code == 200, resp.text
    return {r["id"] for r in resp.json()["data"]}


def test_equals_on_text_matches_containing_values(api: httpx.Client) -> None:
    abc, abc_inc, other = _students(api, {"Academic_Email": "a@c.test", "Last_Name": "ABC"},
                                    {"Academic_Email": "b@c.test", "Last_Name": "ABC Inc"},
                                    {"Academic_Email": "c@c.test", "Last_Name": "XYZ"})
    assert _ids(_search(api, "(Last_Name:equals:ABC)")) == {abc, abc_inc}
    assert _ids(_search(api, "(Last_Name:starts_with:xy)")) == {other}
    assert _ids(_search(api, "(Last_Name:not_equal:ABC)")) == {abc_inc, other}


def test_and_or_in_and_info(api: httpx.Client) -> None:
    a, b, c = _students(api, {"Academic_Email": "a@c.test", "City": "Beirut", "Status": "Active"},
                        {"Academic_Email": "b@c.test", "City": "Beirut", "Status": "Graduated"},
                        {"Academic_Email": "c@c.test", "City": "Amman", "Status": "Active"})
    assert _ids(_search(api, "((City:equals:Beirut)and(Status:equals:Active))")) == {a}
    assert _ids(_search(api, "((City:equals:Amman)or(Status:equals:Graduated))")) == {b, c}
    resp = _search(api, "(Status:in:Graduated,Active)")
    assert _ids(resp) == {a, b, c}
    assert resp.json()["info"] == {"per_page": 200, "count": 3, "page": 1, "more_records": False}


def test_escaped_parentheses_and_commas_are_literal(api: httpx.Client) -> None:
    tricky, plain = _students(api, {"Academic_Email": "t@c.test", "Last_Name": "Smith (Jr), PhD"},
                              {"Academic_Email": "p@c.test", "Last_Name": "Smith"})
    assert _ids(_search(api, r"(Last_Name:equals:Smith \(Jr\)\, PhD)")) == {tricky}
    assert _ids(_search(api, r"(Last_Name:in:Smith \(Jr\)\, PhD,Smith)")) == {tricky, plain}


def test_no_match_is_204_with_empty_body_and_bad_criteria_is_400(api: httpx.Client) -> None:
    _students(api, {"Academic_Email": "a@c.test"})
    empty = _search(api, "(Academic_Email:equals:nobody@c.test)")
    assert empty.status_code == 204 and empty.content == b""
    for bad in ("(Nope:equals:x)", "(City:like:x)", "(City:equals:x"):
        resp = _search(api, bad)
        assert resp.status_code == 400 and resp.json()["code"] == "INVALID_QUERY", bad
    assert api.get("/BTEC_Students/search").json()["details"] == {"param_name": "criteria"}


def test_lookup_search_by_id_and_search_lag(api: httpx.Client, emulator: Emulator) -> None:
    (student,) = _students(api, {"Academic_Email": "lag@c.test"})
    emulator.faults(search_lag_s=30)
    grade = api.post("/BTEC_Grades", json={"data": [{"Student": {"id": student}}], "trigger": []})
    grade_id = grade.json()["data"][0]["details"]["id"]
    criteria = {"criteria": f"(Student:equals:{student})"}
    assert api.get("/BTEC_Grades/search", params=criteria).status_code == 204
    assert api.get(f"/BTEC_Grades/{grade_id}").status_code == 200  # get by id is not delayed
    emulator.advance(31)
    found = api.get("/BTEC_Grades/search", params=criteria)
    assert [r["id"] for r in found.json()["data"]] == [grade_id]
