"""Workflow webhooks fire on writes without `trigger` or with "workflow", never on `trigger: []` (docs/zoho-api.md)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.zoho_emulator.harness import WEBHOOK_TOKEN, Delivery, Emulator, Receiver


def _wait_for(receiver: Receiver, count: int, timeout: float = 5.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = receiver.snapshot()
        if len(got) >= count:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {count} deliveries, got {receiver.snapshot()}")


def test_insert_without_trigger_posts_the_record_to_the_ingress(api: httpx.Client, receiver: Receiver) -> None:
    resp = api.post("/BTEC_Students", json={"data": [{"Academic_Email": "hook@c.test", "City": "Beirut"}]})
    record_id = resp.json()["data"][0]["details"]["id"]
    (delivery,) = _wait_for(receiver, 1)
    assert delivery.path == "/webhooks/zoho/BTEC_Students"
    assert delivery.query == {"token": [WEBHOOK_TOKEN]}
    assert delivery.headers["x-tenant-id"] == "default"
    body = delivery.body
    assert set(body) == {"notification_id", "timestamp", "module", "operation", "record_id", "data"}
    assert body["module"] == "BTEC_Students" and body["operation"] == "insert" and body["record_id"] == record_id
    assert body["notification_id"].isdigit() and len(body["notification_id"]) == 19
    assert body["data"] == api.get(f"/BTEC_Students/{record_id}").json()["data"][0]


def test_empty_trigger_fires_nothing(api: httpx.Client, receiver: Receiver, emulator: Emulator) -> None:
    quiet = api.post("/BTEC_Students", json={"data": [{"Academic_Email": "q@c.test"}], "trigger": []})
    api.put("/BTEC_Students", json={"data": [{"id": quiet.json()["data"][0]["details"]["id"], "City": "X"}],
                                    "trigger": ["approval"]})
    # Deliveries are sent in order, so once this one arrives the quiet writes would have too.
    loud = api.post("/Products", json={"data": [{"Product_Name": "Barrier"}], "trigger": ["workflow"]})
    deliveries = _wait_for(receiver, 1)
    time.sleep(0.2)
    assert [d.body["record_id"] for d in receiver.snapshot()] == [loud.json()["data"][0]["details"]["id"]]
    assert deliveries[0].path == "/webhooks/zoho/Products"
    assert [d["outcome"] for d in emulator.admin("GET", "webhooks")["deliveries"]] == ["delivered"]


def test_upsert_update_and_delete_report_their_operation(api: httpx.Client, receiver: Receiver) -> None:
    body: dict[str, Any] = {"data": [{"Academic_Email": "u@c.test"}], "duplicate_check_fields": ["Academic_Email"]}
    record_id = api.post("/BTEC_Students/upsert", json=body).json()["data"][0]["details"]["id"]
    body["data"][0]["City"] = "Amman"
    api.post("/BTEC_Students/upsert", json=body)
    api.delete("/BTEC_Students", params={"ids": record_id})
    deliveries = _wait_for(receiver, 3)
    assert [(d.body["operation"], d.body["record_id"]) for d in deliveries] == [
        ("insert", record_id), ("update", record_id), ("delete", record_id)]
    assert deliveries[1].body["data"]["City"] == "Amman"
