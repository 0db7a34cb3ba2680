"""An invalid student sent through the ingress becomes a dead letter; the CLI lists it, shows it, and
retries it with a fixed body, which then becomes a canonical student."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from ops.college import webhooks as college
from schemas.codec import UnknownSchemaError, decode
from schemas.deadletter import UNRESOLVED_DEPENDENCY as UNRESOLVED
from streams.messages import event_from_avro
from streams.waiting import letter
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, read_at, read_records, wait_until
from tests.ops.conftest import CLI, Streams
from tests.streams.conftest import new_id


def _post_student(ingress: Service, tenant: TenantCreds, data: dict[str, Any]) -> dict[str, Any]:
    body = college.notification("BTEC_Students", data, new_id())
    resp = httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json", "X-Tenant-ID": tenant.name,
                               "X-Zoho-Webhook-Token": tenant.zoho_token})
    assert resp.status_code == 202, resp.text
    return body


def _student_events(infra: Infra, tenant: str, student_id: str) -> list[dict[str, Any]]:
    out = []
    for rec in read_records(infra.bootstrap, "canonical.student"):
        try:
            _, event = decode(rec.value or b"")
        except UnknownSchemaError:
            continue  # another test's deliberately unreadable record
        if event["tenant"] == tenant and event["entity_id"] == student_id:
            out.append(event)
    return out


def test_list_show_and_retry_an_invalid_student_with_a_fixed_body(
        infra: Infra, ingress: Service, streams: Streams, fresh_tenant: TenantCreds, cli: CLI, tmp_path: Path) -> None:
    sid = new_id()
    data = college.student(sid, f"s{sid}@college.example") | {"First_Name": "A"}
    sent = _post_student(ingress, fresh_tenant, data)

    rows = wait_until(lambda: cli.json("deadletter", "list", "--tenant", fresh_tenant.name), timeout=60)
    assert [(r["reason"], r["record_id"], r["kind"]) for r in rows] == [("invalid_record", sid, "BTEC_Students")]
    dead = rows[0]
    assert "First_Name" in dead["message"]

    shown = cli.json("deadletter", "show", dead["position"])
    assert shown["dead_letter_id"] == dead["id"]
    assert shown["tenant"] == fresh_tenant.name
    assert [e["field"] for e in shown["errors"]] == ["First_Name"]
    assert shown["body"]["data"]["First_Name"] == "A"  # decoded, not bytes
    by_id = cli("deadletter", "show", dead["id"]).stdout
    assert f"dead_letter_id: {dead['id']}" in by_id
    assert '"First_Name": "A"' in by_id  # the body, pretty-printed

    # The fixed body keeps the notification id: only a retry without a delivery id gets through dedupe.
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(sent | {"data": data | {"First_Name": "Amal"}}))
    retried = cli.json("deadletter", "retry", dead["id"], "--body-file", str(fixed))
    assert retried["topic"] == "raw.zoho"
    raw = read_at(infra.bootstrap, "raw.zoho", retried["partition"], retried["offset"])
    assert raw.key == f"{fresh_tenant.name}/BTEC_Students/{sid}".encode()
    assert raw.value == fixed.read_bytes()
    assert raw.headers["retry-of"] == dead["id"].encode()
    assert raw.headers["source"] == b"zoho" and raw.headers["kind"] == b"BTEC_Students"
    assert raw.headers["tenant"] == fresh_tenant.name.encode()
    assert raw.headers["content-type"] == b"application/json"
    assert "delivery-id" not in raw.headers
    assert abs(int(raw.headers["received-at"]) - time.time() * 1000) < 60_000

    events = wait_until(lambda: _student_events(infra, fresh_tenant.name, sid), timeout=60)
    assert [(e["event_type"], e["payload"]["first_name"]) for e in events] == [("StudentUpserted", "Amal")]
    assert (events[0]["raw"]["partition"], events[0]["raw"]["offset"]) == (retried["partition"], retried["offset"])


def test_retry_of_a_join_stage_letter_republishes_the_original_raw_record(
        infra: Infra, ingress: Service, streams: Streams, fresh_tenant: TenantCreds, cli: CLI) -> None:
    sid = new_id()
    _post_student(ingress, fresh_tenant, college.student(sid, f"s{sid}@college.example"))
    (event,) = wait_until(lambda: _student_events(infra, fresh_tenant.name, sid), timeout=60)
    original = read_at(infra.bootstrap, event["raw"]["topic"], event["raw"]["partition"], event["raw"]["offset"])
    # The letter the streams write when a record waited too long: its body is the Avro event, not a raw body.
    canonical = read_records(infra.bootstrap, "canonical.student")
    value = next(r.value for r in canonical if r.key == f"{fresh_tenant.name}/{sid}".encode())
    stale = letter(event_from_avro(value or b""), UNRESOLVED, ["registration"], "waited 30 days for registration")
    producer = Producer({"bootstrap.servers": infra.bootstrap})
    producer.produce("deadletter", key=stale.key, value=stale.to_avro())
    assert producer.flush(10) == 0

    shown = cli.json("deadletter", "show", stale.dead_letter_id)
    assert shown["reason"] == UNRESOLVED
    assert shown["body"]["avro"] == "canonical.student"
    assert shown["body"]["record"]["entity_id"] == sid

    retried = cli.json("deadletter", "retry", stale.dead_letter_id)
    raw = read_at(infra.bootstrap, "raw.zoho", retried["partition"], retried["offset"])
    assert (raw.key, raw.value) == (original.key, original.value)
    assert raw.headers["retry-of"] == stale.dead_letter_id.encode()
    assert raw.headers["content-type"] == original.headers["content-type"]
    assert "delivery-id" not in raw.headers and "delivery-id" in original.headers
    assert raw.headers["request-id"] != original.headers["request-id"]


def test_retry_of_a_letter_whose_body_was_too_large_to_keep_republishes_the_raw_record(
        infra: Infra, ingress: Service, streams: Streams, fresh_tenant: TenantCreds, cli: CLI) -> None:
    sid = new_id()
    sent = _post_student(ingress, fresh_tenant, college.student(sid, "not-an-email", Notes="x" * (1000 * 1024)))
    rows = wait_until(lambda: cli.json("deadletter", "list", "--tenant", fresh_tenant.name), timeout=60)
    assert [(r["reason"], r["record_id"]) for r in rows] == [("invalid_record", sid)]
    shown = cli.json("deadletter", "show", rows[0]["id"])
    assert "is not kept here" in shown["message"]
    raw_at = shown["raw"]
    original = read_at(infra.bootstrap, raw_at["topic"], raw_at["partition"], raw_at["offset"])
    assert json.loads(original.value or b"") == sent

    retried = cli.json("deadletter", "retry", rows[0]["id"])
    raw = read_at(infra.bootstrap, "raw.zoho", retried["partition"], retried["offset"])
    assert (raw.key, raw.value) == (original.key, original.value)
    assert raw.headers["retry-of"] == rows[0]["id"].encode()
