"""`GET {module}/deleted` as zoho/crm-oas v8.0 getDeletedRecords shows it: ids of records deleted through the API or
in Zoho's UI (the admin API), recycled or permanent, newest first, paged, `If-Modified-Since`, 2 credits a call."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.zoho_emulator.harness import Emulator, students


def test_deleted_records_through_the_api_and_the_ui_are_listed(api: httpx.Client, emulator: Emulator) -> None:
    assert api.get("/BTEC_Students/deleted").status_code == 204
    ids = emulator.seed("BTEC_Students", students(4))
    assert api.delete("/BTEC_Students", params={"ids": ids[0]}).status_code == 200
    emulator.advance(5)
    assert emulator.delete("BTEC_Students", [ids[1], "4876876000999999999"]) == {
        "deleted": [ids[1]], "missing": ["4876876000999999999"]}
    emulator.advance(5)
    emulator.delete("BTEC_Students", [ids[2]], permanent=True)

    resp = api.get("/BTEC_Students/deleted")
    assert resp.status_code == 200
    body = resp.json()
    assert body["info"] == {"per_page": 200, "count": 3, "page": 1, "more_records": False}
    newest, middle, oldest = body["data"]
    assert [newest["id"], middle["id"], oldest["id"]] == [ids[2], ids[1], ids[0]]
    assert newest == {"deleted_by": None, "id": ids[2], "display_name": None, "type": "permanent",
                      "created_by": None, "deleted_time": newest["deleted_time"]}
    admin = {"name": "Emulator Admin", "id": "4876876000000000002"}
    assert oldest == {"deleted_by": admin, "id": ids[0], "display_name": oldest["display_name"], "type": "recycle",
                      "created_by": admin, "deleted_time": oldest["deleted_time"]}
    assert oldest["display_name"].startswith("STU-")  # the record name (autonumber) while in the recycle bin
    assert datetime.fromisoformat(newest["deleted_time"]) > datetime.fromisoformat(oldest["deleted_time"])

    recycled = api.get("/BTEC_Students/deleted", params={"type": "recycle"}).json()["data"]
    assert [d["id"] for d in recycled] == [ids[1], ids[0]]
    assert [d["id"] for d in api.get("/BTEC_Students/deleted", params={"type": "permanent"}).json()["data"]] \
        == [ids[2]]
    paged = api.get("/BTEC_Students/deleted", params={"per_page": 2, "page": 2}).json()
    assert [d["id"] for d in paged["data"]] == [ids[0]] and paged["info"]["more_records"] is False
    # the record itself is gone from lists and reads
    assert ids[0] not in [r["id"] for r in emulator.records("BTEC_Students")]
    assert [c["credits"] for c in emulator.calls() if c["operation"] == "deleted"][-1] == 2


def test_deleted_since_a_time_and_bad_type(api: httpx.Client, emulator: Emulator) -> None:
    ids = emulator.seed("BTEC_Students", students(2))
    api.delete("/BTEC_Students", params={"ids": ids[0]})
    emulator.advance(10)
    cut = datetime.fromtimestamp(emulator.admin("GET", "clock")["now"], UTC).isoformat(timespec="seconds")
    assert api.get("/BTEC_Students/deleted", headers={"If-Modified-Since": cut}).status_code == 304
    emulator.advance(2)
    api.delete(f"/BTEC_Students/{ids[1]}")
    since = api.get("/BTEC_Students/deleted", headers={"If-Modified-Since": cut}).json()["data"]
    assert [d["id"] for d in since] == [ids[1]]

    bad = api.get("/BTEC_Students/deleted", params={"type": "bin"})
    assert bad.status_code == 400
    assert bad.json() == {"data": [{"code": "PATTERN_NOT_MATCHED", "details": {"param_name": "type"},
                                    "message": "Please check whether the input values are correct",
                                    "status": "error"}]}
    wrong_module = api.get("/Nope/deleted")
    assert wrong_module.status_code == 400 and wrong_module.json()["data"][0]["code"] == "INVALID_MODULE"
