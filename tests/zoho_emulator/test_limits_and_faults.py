"""Credits, concurrency, sub-concurrency (429, no Retry-After), injected faults, inspection API (docs/zoho-api.md)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.zoho_emulator.harness import TIGHT, Emulator


def _tight(emulator: Emulator) -> httpx.Client:
    token = emulator.token(TIGHT["client_id"], TIGHT["client_secret"], TIGHT["refresh_token"])
    return httpx.Client(base_url=f"{emulator.url}/crm/v8", headers={"Authorization": f"Zoho-oauthtoken {token}"},
                        timeout=10)


def _products(n: int, start: int = 0) -> dict[str, object]:
    return {"data": [{"Product_Name": f"P{i}"} for i in range(start, start + n)], "trigger": []}


def test_write_costs_one_credit_per_ten_records_and_the_budget_runs_out(emulator: Emulator) -> None:
    with _tight(emulator) as api:
        assert api.post("/Products", json=_products(25)).status_code == 201
        assert api.post("/Products", json=_products(1, 100)).status_code == 201
        first = api.get("/Products", params={"fields": "Product_Name"})
        assert "X-API-CREDITS-REMAINING" not in first.headers  # 5 of 20 used
        writes = [c for c in emulator.calls("tight") if c["operation"] == "insert"]
        assert [(c["records"], c["credits"]) for c in writes] == [(25, 3), (1, 1)]
        for _ in range(5):
            resp = api.get("/Products", params={"fields": "Product_Name"})
        assert resp.headers["X-API-CREDITS-REMAINING"] == "10"
        for _ in range(10):
            assert api.get("/Products/5725767000000999999").status_code == 204
        refused = api.get("/Products", params={"fields": "Product_Name"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "TOO_MANY_REQUESTS" and refused.json()["status"] == "error"
        assert "Retry-After" not in refused.headers and refused.headers["X-API-CREDITS-REMAINING"] == "0"
        emulator.advance(24 * 3600)
    with _tight(emulator) as api:  # a day later the old token has expired too
        assert api.get("/Products", params={"fields": "Product_Name"}).status_code == 200
    # another org's budget is its own
    assert emulator.calls("default") == []


def test_concurrency_and_sub_concurrency_limits_answer_429(emulator: Emulator) -> None:
    emulator.faults(latency_ms=400)
    with _tight(emulator) as api, ThreadPoolExecutor(6) as pool:
        small = list(pool.map(lambda i: api.get(f"/Products/{5725767000000900000 + i}").status_code, range(6)))
        assert sorted(small) == [204, 204, 204, 429, 429, 429]
        heavy = list(pool.map(lambda i: api.post("/Products", json=_products(11, i * 100)).status_code, range(2)))
        assert sorted(heavy) == [201, 429]
    messages = {c["code"] for c in emulator.calls("tight") if c["status"] == 429}
    assert messages == {"TOO_MANY_REQUESTS"}


def test_scripted_and_random_faults(api: httpx.Client, emulator: Emulator) -> None:
    emulator.faults(next=["500", "429"])
    first, second, third = (api.get("/Products", params={"fields": "Product_Name"}) for _ in range(3))
    assert first.status_code == 500 and first.json()["code"] == "INTERNAL_ERROR"
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert third.status_code == 204
    emulator.faults(error_rate=0.5, seed=1)
    statuses = [api.get("/Products", params={"fields": "Product_Name"}).status_code for _ in range(40)]
    assert 8 < statuses.count(500) < 32 and set(statuses) == {204, 500}


def test_timeout_fault_hangs_longer_than_the_client_waits(api: httpx.Client, emulator: Emulator) -> None:
    emulator.faults(next=["timeout"])
    try:
        api.get("/Products", params={"fields": "Product_Name"}, timeout=0.5)
        raise AssertionError("expected a timeout")
    except httpx.ReadTimeout:
        pass
    assert api.get("/Products", params={"fields": "Product_Name"}).status_code == 204
    # the hung call still completes (and is logged) once its timeout_s is over; wait for it, so it cannot land in
    # the call log of the next test
    deadline = time.monotonic() + 10
    while len(emulator.calls()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c["status"] for c in emulator.calls()] == [204, 204]


def test_call_log_and_metrics(api: httpx.Client, emulator: Emulator) -> None:
    api.post("/Products", json=_products(3))
    api.get("/Nope")
    calls = emulator.calls()
    assert [(c["method"], c["path"], c["status"], c["records"], c["credits"]) for c in calls] == [
        ("POST", "/crm/v8/Products", 201, 3, 1), ("GET", "/crm/v8/Nope", 400, 0, 0)]
    assert calls[1]["code"] == "INVALID_MODULE"
    assert emulator.metric('zoho_emulator_calls_total{operation="insert",status="201"}') >= 1


def test_credit_table_and_remaining_credits_in_the_admin_api(api: httpx.Client, emulator: Emulator) -> None:
    api.post("/Products", json=_products(21))  # 3: one per ten records
    ids = [r["id"] for r in emulator.records("Products")]
    api.get("/Products", params={"fields": "Product_Name", "per_page": 200})  # 1: a page of up to 200 records
    api.get("/Products", params={"fields": "Product_Name", "cvid": "4876876000000087501"})  # 3: custom view
    api.get("/Products/search", params={"criteria": "(Product_Name:starts_with:P)"})  # 1
    api.delete("/Products", params={"ids": ",".join(ids[:5])})  # 1
    api.get("/Products/deleted")  # 2
    api.get("/settings/fields", params={"module": "Products"})  # 1
    assert [c["credits"] for c in emulator.calls()] == [3, 1, 3, 1, 1, 2, 1]
    assert emulator.credits() == {"tenant": "default", "daily_credits": 50_000, "used": 12, "remaining": 49_988}
    assert emulator.credits("tight")["used"] == 0
    emulator.profile("tight", daily_credits=5)
    assert emulator.credits("tight")["remaining"] == 5
