"""List paging as zoho/crm-oas v8.0 getRecords shows it: page numbers up to 2,000 records, then page tokens (a day
valid, bound to the query); sort_by/sort_order; fields; If-Modified-Since -> 304. Records are seeded through the
admin API, as the puller's tests do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.zoho_emulator.harness import Emulator, emulator_config, running_emulator, students

FIELDS = "Academic_Email,Last_Name"
DAY_AGO = datetime.now(UTC) - timedelta(days=1)


def _page(api: httpx.Client, **params: Any) -> httpx.Response:
    return api.get("/BTEC_Students", params={"fields": FIELDS, **params})


def test_page_numbers_stop_at_2000_records_and_page_tokens_go_past(api: httpx.Client, emulator: Emulator) -> None:
    ids = emulator.seed("BTEC_Students", students(2300), created_start=DAY_AGO, modified_step_s=1)
    tenth = _page(api, page=10, per_page=200)
    assert tenth.status_code == 200 and tenth.json()["info"]["more_records"] is True
    past = _page(api, page=11, per_page=200)
    assert past.status_code == 400
    assert past.json() == {"code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                           "message": "You can only get the first 2000 records without using page_token param",
                           "status": "error", "details": {"limit": 2000}}
    assert _page(api, page=21, per_page=100).json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"

    seen: list[str] = []
    pages: list[int] = []
    query = {"sort_by": "Modified_Time", "sort_order": "asc", "per_page": 200}
    resp = _page(api, **query)
    while True:
        assert resp.status_code == 200
        body = resp.json()
        info = body["info"]
        assert set(info) == {"call", "per_page", "next_page_token", "count", "sort_by", "page", "page_token_expiry",
                             "sort_order", "email", "more_records", "previous_page_token"}
        assert info["count"] == len(body["data"]) and info["sort_by"] == "Modified_Time"
        seen += [r["id"] for r in body["data"]]
        pages.append(info["page"])
        if not info["more_records"]:
            assert info["next_page_token"] is None
            break
        assert len(info["next_page_token"]) <= 96
        resp = _page(api, **query, page_token=info["next_page_token"])
    assert seen == ids  # oldest modified first, each record once
    assert pages == list(range(1, 13))
    lists = [c for c in emulator.calls() if c["operation"] == "list" and c["status"] == 200]
    assert len(lists) == 13 and all(c["credits"] == 1 for c in lists)


def test_page_token_is_bound_to_its_query_and_expires_after_a_day(api: httpx.Client, emulator: Emulator) -> None:
    emulator.seed("BTEC_Students", students(5), created_start=DAY_AGO)
    first = _page(api, per_page=2, sort_by="id").json()["info"]
    token = first["next_page_token"]
    expiry = datetime.fromisoformat(first["page_token_expiry"])
    now = datetime.fromtimestamp(emulator.admin("GET", "clock")["now"], UTC)
    assert timedelta(hours=23, minutes=59) < expiry - now <= timedelta(hours=24)

    altered = _page(api, per_page=2, sort_by="id", sort_order="asc", page_token=token)
    assert altered.status_code == 400
    assert altered.json() == {"code": "TOKEN_BOUND_DATA_MISMATCH", "status": "error",
                              "message": "The page_token given seems to be invalid or input param is added or "
                                         "altered or deleted", "details": {"param_name": "page_token"}}
    assert _page(api, per_page=2, sort_by="id", page_token="not-a-token").json()["code"] == \
        "TOKEN_BOUND_DATA_MISMATCH"
    assert _page(api, per_page=2, sort_by="id", page_token=token).json()["info"]["page"] == 2

    emulator.advance(24 * 3600 + 1)
    fresh = httpx.Client(base_url=api.base_url, headers={"Authorization": f"Zoho-oauthtoken {emulator.token()}"})
    expired = fresh.get("/BTEC_Students", params={"fields": FIELDS, "per_page": 2, "sort_by": "id",
                                                  "page_token": token})
    assert expired.status_code == 400
    assert expired.json() == {"status": "error", "code": "EXPIRED_VALUE", "message": "Page token expired",
                              "details": {"api_name": "page_token", "json_path": "$.query.page_token"}}


def test_sorting_and_fields(api: httpx.Client, emulator: Emulator) -> None:
    # created in one order, last modified in the reverse order
    ids = emulator.seed("BTEC_Students", [
        {**s, "Created_Time": (DAY_AGO + timedelta(minutes=i)).isoformat(),
         "Modified_Time": (DAY_AGO + timedelta(hours=1, minutes=-i)).isoformat()}
        for i, s in enumerate(students(4))])

    def order(**params: Any) -> list[str]:
        return [r["id"] for r in _page(api, **params).json()["data"]]

    assert order() == ids[::-1]  # default: id, descending
    assert order(sort_by="id", sort_order="asc") == ids
    assert order(sort_by="Created_Time", sort_order="asc") == ids
    assert order(sort_by="Modified_Time", sort_order="asc") == ids[::-1]
    assert order(sort_by="Modified_Time", sort_order="desc") == ids

    record = _page(api, fields="Last_Name,Modified_Time", per_page=1).json()["data"][0]
    assert set(record) == {"id", "Last_Name", "Modified_Time"}
    assert record["Modified_Time"] == (DAY_AGO + timedelta(hours=1, minutes=-3)).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    bad = _page(api, sort_by="Last_Name")
    assert bad.status_code == 400 and bad.json()["details"] == {
        "param_name": "sort_by", "supported_values": ["id", "Created_Time", "Modified_Time"]}
    too_many = _page(api, fields=",".join(f"F{i}" for i in range(51)))
    assert too_many.json()["code"] == "LIMIT_EXCEEDED"


def test_if_modified_since_returns_only_later_changes_and_304_when_none(api: httpx.Client,
                                                                       emulator: Emulator) -> None:
    ids = emulator.seed("BTEC_Students", students(10), created_start=DAY_AGO, modified_start=DAY_AGO,
                        modified_step_s=60)
    since = (DAY_AGO + timedelta(seconds=6 * 60)).astimezone(UTC).isoformat(timespec="seconds")
    later = api.get("/BTEC_Students", params={"fields": FIELDS, "sort_by": "Modified_Time", "sort_order": "asc"},
                    headers={"If-Modified-Since": since})
    assert later.status_code == 200
    assert [r["id"] for r in later.json()["data"]] == ids[7:]

    nothing_since = (DAY_AGO + timedelta(minutes=20)).isoformat()
    unchanged = api.get("/BTEC_Students", params={"fields": FIELDS}, headers={"If-Modified-Since": nothing_since})
    assert unchanged.status_code == 304 and unchanged.content == b""

    # a change through the API is "modified since" again
    api.put(f"/BTEC_Students/{ids[0]}", json={"data": [{"City": "Amman"}], "trigger": []})
    again = api.get("/BTEC_Students", params={"fields": "City"}, headers={"If-Modified-Since": nothing_since})
    assert again.status_code == 200 and again.json()["data"] == [{"id": ids[0], "City": "Amman"}]

    garbled = api.get("/BTEC_Students", params={"fields": FIELDS}, headers={"If-Modified-Since": "yesterday"})
    assert garbled.status_code == 400 and garbled.json()["details"] == {"param_name": "If-Modified-Since"}


def test_a_record_changed_while_paging_by_modified_time_is_served_again_not_skipped(
        api: httpx.Client, emulator: Emulator) -> None:
    ids = emulator.seed("BTEC_Students", students(6), created_start=DAY_AGO, modified_start=DAY_AGO,
                        modified_step_s=60)
    query = {"sort_by": "Modified_Time", "sort_order": "asc", "per_page": 3}
    first = _page(api, **query).json()
    assert [r["id"] for r in first["data"]] == ids[:3]
    api.put(f"/BTEC_Students/{ids[1]}", json={"data": [{"City": "Doha"}], "trigger": []})
    rest = _page(api, **query, page_token=first["info"]["next_page_token"]).json()
    assert [r["id"] for r in rest["data"]] == ids[3:6]
    last = _page(api, **query, page_token=rest["info"]["next_page_token"]).json()
    assert [r["id"] for r in last["data"]] == [ids[1]] and last["info"]["more_records"] is False


def test_seeding_validates_like_an_insert_and_costs_nothing(emulator: Emulator) -> None:
    bad = httpx.post(f"{emulator.url}/__emulator/records/BTEC_Students",
                     json={"data": [{"Last_Name": "no e-mail"}]})
    assert bad.status_code == 400 and bad.json()["detail"]["code"] == "MANDATORY_NOT_FOUND"
    twice = httpx.post(f"{emulator.url}/__emulator/records/BTEC_Students",
                       json={"data": students(1) + students(1)})
    assert twice.status_code == 400 and twice.json()["detail"]["code"] == "DUPLICATE_DATA"
    emulator.seed("BTEC_Students", students(3))
    clash = httpx.post(f"{emulator.url}/__emulator/records/BTEC_Students", json={"data": students(1, start=2)})
    assert clash.status_code == 400 and clash.json()["detail"]["details"]["api_name"] == "Academic_Email"
    assert len(emulator.records("BTEC_Students")) == 3
    assert emulator.credits()["used"] == 0 and emulator.calls() == []


def test_a_chain_of_page_tokens_stops_at_the_token_limit(tmp_path: Path) -> None:
    # Zoho's limit is 100,000 records; a second emulator with a limit of 250 shows the same answer cheaply.
    config = emulator_config("http://127.0.0.1:9")
    config["behaviour"] = {"page_token_limit": 250}
    with running_emulator(config, tmp_path) as small:
        small.seed("BTEC_Students", students(300), created_start=DAY_AGO)
        with httpx.Client(base_url=f"{small.url}/crm/v8",
                          headers={"Authorization": f"Zoho-oauthtoken {small.token()}"}) as api:
            first = _page(api, per_page=200).json()
            second = _page(api, per_page=200, page_token=first["info"]["next_page_token"]).json()
            assert second["info"]["count"] == 50 and second["info"]["more_records"] is True
            beyond = _page(api, per_page=200, page_token=second["info"]["next_page_token"])
    assert beyond.status_code == 400
    assert beyond.json() == {"code": "PAGINATION_LIMIT_EXCEEDED", "status": "error",
                             "message": "You can only get upto 250 records using page_token param",
                             "details": {"param_name": "page_token"}}


def test_seeding_thousands_keeps_one_spread_of_modified_time_across_batches(emulator: Emulator) -> None:
    start = DAY_AGO.replace(microsecond=0)
    ids = emulator.seed("BTEC_Students", students(5001), created_start=start - timedelta(days=30),
                        modified_start=start, modified_step_s=2)
    assert len(set(ids)) == 5001
    by_id = {r["id"]: r for r in emulator.records("BTEC_Students")}
    for i in (0, 4999, 5000):  # the last of the first seed call and the first of the second
        assert datetime.fromisoformat(by_id[ids[i]]["Modified_Time"]) == start + timedelta(seconds=2 * i)
        assert datetime.fromisoformat(by_id[ids[i]]["Created_Time"]) == start - timedelta(days=30)
