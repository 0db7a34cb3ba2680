"""Subform rows on update: append without id, update by id, `_delete`, `[]` clears, omitted kept (docs/zoho-api.md)."""

from __future__ import annotations

from typing import Any

import httpx

SUB = "Learning_Outcomes_Assessm"


def _grade(api: httpx.Client, rows: list[dict[str, Any]]) -> str:
    student = api.post("/BTEC_Students", json={"data": [{"Academic_Email": "lo@college.test"}], "trigger": []})
    resp = api.post("/BTEC_Grades", json={"data": [{"Student": {"id": student.json()["data"][0]["details"]["id"]},
                                                    SUB: rows}], "trigger": []})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"][0]["details"]["id"])


def _rows(api: httpx.Client, grade: str) -> list[dict[str, Any]]:
    return list(api.get(f"/BTEC_Grades/{grade}").json()["data"][0][SUB])


def _update(api: httpx.Client, grade: str, **fields: Any) -> httpx.Response:
    return api.put("/BTEC_Grades", json={"data": [{"id": grade, **fields}], "trigger": []})


def test_rows_get_ids_and_rows_without_id_are_appended(api: httpx.Client) -> None:
    grade = _grade(api, [{"LO_Code": "P1", "LO_Score": "Achieved"}, {"LO_Code": "P2"}])
    rows = _rows(api, grade)
    assert [r["LO_Code"] for r in rows] == ["P1", "P2"]
    assert all(r["id"].isdigit() and len(r["id"]) == 19 for r in rows)
    # Re-sending the same rows without ids duplicates them, as real Zoho does.
    assert _update(api, grade, **{SUB: [{"LO_Code": "P1"}, {"LO_Code": "P2"}]}).status_code == 200
    assert [r["LO_Code"] for r in _rows(api, grade)] == ["P1", "P2", "P1", "P2"]


def test_row_with_id_is_updated_and_delete_marker_removes_it(api: httpx.Client) -> None:
    grade = _grade(api, [{"LO_Code": "P1", "LO_Score": "Not achieved"}, {"LO_Code": "P2"}, {"LO_Code": "M1"}])
    p1, p2, m1 = _rows(api, grade)
    resp = _update(api, grade, **{SUB: [{"id": p1["id"], "LO_Score": "Achieved"}, {"id": p2["id"], "_delete": None},
                                        {"LO_Code": "D1"}]})
    assert resp.status_code == 200
    rows = _rows(api, grade)
    assert [(r["id"], r["LO_Code"]) for r in rows[:2]] == [(p1["id"], "P1"), (m1["id"], "M1")]
    assert rows[0]["LO_Score"] == "Achieved"
    assert rows[2]["LO_Code"] == "D1" and rows[2]["id"] not in (p1["id"], p2["id"], m1["id"])


def test_omitted_key_leaves_rows_and_empty_list_clears_them(api: httpx.Client) -> None:
    grade = _grade(api, [{"LO_Code": "P1"}, {"LO_Code": "P2"}])
    assert _update(api, grade, Feedback="Well done").status_code == 200
    assert len(_rows(api, grade)) == 2
    assert _update(api, grade, **{SUB: []}).status_code == 200
    assert _rows(api, grade) == []


def test_unknown_row_id_and_invalid_row_value_fail_the_record(api: httpx.Client) -> None:
    grade = _grade(api, [{"LO_Code": "P1"}])
    resp = api.put("/BTEC_Grades", json={"data": [
        {"id": grade, SUB: [{"id": "4876876000999999999", "LO_Score": "x"}]},
        {"id": grade, SUB: [{"LO_Code": "P" * 256}]}]})
    assert resp.status_code == 400
    bad_row, too_long = resp.json()["data"]
    assert bad_row["code"] == "INVALID_DATA" and bad_row["details"]["json_path"] == f"$.data[0].{SUB}[0].id"
    assert too_long["details"] == {"api_name": "LO_Code", "json_path": f"$.data[1].{SUB}[0].LO_Code",
                                   "maximum_length": 255}
    assert [r["LO_Code"] for r in _rows(api, grade)] == ["P1"]
