"""The control-plane API: per-tenant keys, isolation, live settings and mappings, history and retry."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from schemas.codec import decode, encode
from tests.conftest import TenantCreds, control_api
from tests.infra import Infra, Service, end_offsets, free_port, read_records, start_service, stop_service


def test_a_key_is_required_and_decides_the_tenant(control: Service, tenant_factory: Callable[..., TenantCreds]) -> None:
    a = tenant_factory()
    assert control_api(control, None, "GET", "/settings").status_code == 401
    wrong = TenantCreds(a.name, a.moodle_secret, a.zoho_token, "not-a-key")
    assert control_api(control, wrong, "GET", "/settings").status_code == 401
    # The webhook token is not a control-plane key.
    as_token = TenantCreds(a.name, a.moodle_secret, a.zoho_token, a.zoho_token)
    assert control_api(control, as_token, "GET", "/settings").status_code == 401
    mine = control_api(control, a, "GET", "/settings")
    assert mine.status_code == 200 and mine.json()["tenant"] == a.name
    assert "BTEC_Grades" in mine.json()["zoho_modules"]


def test_settings_change_takes_effect_at_the_ingress_without_restart(
        ingress: Service, control: Service, tenant_factory: Callable[..., TenantCreds]) -> None:
    t = tenant_factory()
    body = b'{"record_id": "1", "data": {"id": "1"}}'

    def post(module: str) -> int:
        return httpx.post(f"{ingress.url}/webhooks/zoho/{module}", content=body, params={"token": t.zoho_token},
                          headers={"Content-Type": "application/json", "X-Tenant-ID": t.name}).status_code

    def within_seconds(check: Callable[[], bool]) -> bool:
        """The ingress is another process: it sees the change when it next looks at the tenants (about 1 s)."""
        deadline = time.monotonic() + 5
        while not check():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    assert post("BTEC_Payments") == 202
    changed = control_api(control, t, "PUT", "/modules", json={"enabled": ["BTEC_Students", "BTEC_Grades"]})
    assert changed.status_code == 200 and changed.json()["enabled"] == ["BTEC_Students", "BTEC_Grades"]
    assert within_seconds(lambda: post("BTEC_Payments") == 404)
    assert post("BTEC_Grades") == 202
    assert control_api(control, t, "PUT", "/modules", json={"enabled": ["Leads"]}).status_code == 409
    off = control_api(control, t, "PUT", "/settings", json={"moodle_events": ["grade_updated"]})
    assert off.json()["moodle_events"] == ["grade_updated"]
    user = b'{"event_id": "e", "data": {"moodle_user_id": 1}}'

    def user_created() -> httpx.Response:
        return httpx.post(f"{ingress.url}/webhooks/moodle/user_created", content=user, headers=t.sign(user, "e-1"))

    assert within_seconds(lambda: user_created().status_code == 404)
    assert user_created().json()["valid"] == ["grade_updated"]


def test_rate_limit_answers_429_with_retry_after(control: Service, tenant_factory: Callable[..., TenantCreds]) -> None:
    t, other = tenant_factory(), tenant_factory()
    # At once, as a script hammering the API would: one after the other on a loaded machine the bucket refills.
    with ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(lambda _: control_api(control, t, "GET", "/settings"), range(30)))
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    # Another tenant's budget is its own.
    assert control_api(control, other, "GET", "/settings").status_code == 200


def _outcome(conn: psycopg.Connection[Any], tenant: str, offset: int, action: str, event_id: str,
             entity_id: str) -> None:
    conn.execute(
        "INSERT INTO projections.zoho_sync_outcome (topic_partition, topic_offset, tenant, module, record_key,"
        " action, zoho_id, attempt, error_code, error_message, event_id, entity, entity_id, occurred_at)"
        " VALUES (99, %s, %s, 'BTEC_Grades', %s, %s, NULL, 1, %s, %s, %s, 'grade', %s, %s)",
        (offset, tenant, entity_id, action, "INVALID_DATA" if action == "failed" else None,
         "the id given seems to be invalid" if action == "failed" else None, event_id, entity_id,
         datetime.now(tz=UTC)))


def _grade_event(tenant: str, entity_id: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()), "event_type": "GradeRecorded", "tenant": tenant, "entity": "grade",
        "entity_id": entity_id, "origin": "moodle", "occurred_at": 1_762_064_095_000,
        "received_at": 1_762_064_095_000, "source_version": 10_001_762_064_095_000,
        "raw": {"topic": "raw.moodle", "partition": 0, "offset": 1}, "record_index": 0, "delivery_id": None,
        "fingerprint": uuid.uuid4().hex, "warnings": [],
        "payload": {"composite_key": entity_id, "student_id": "4876876000000412001", "class_id": "4876876000000600001",
                    "moodle_user_id": entity_id.split("_")[0], "letter": "D", "attempt_number": 1,
                    "learning_outcomes": []},
    }


def test_sync_history_is_per_tenant_and_a_failed_sync_can_be_retried(
        infra: Infra, control: Service, tenant_factory: Callable[..., TenantCreds], projections_schema: None) -> None:
    a, b = tenant_factory(), tenant_factory()
    event = _grade_event(a.name, "412_1305")
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": infra.bootstrap, "partitioner": "murmur2_random"})
    producer.produce("canonical.grade", key=f"{a.name}/412_1305".encode(), value=encode("canonical.grade", event))
    assert producer.flush(10) == 0
    base = int(uuid.uuid4().int % 10**9)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        _outcome(conn, a.name, base, "created", str(uuid.uuid4()), "1_1")
        _outcome(conn, a.name, base + 1, "failed", event["event_id"], "412_1305")
        _outcome(conn, b.name, base + 2, "failed", str(uuid.uuid4()), "7_7")

    history = control_api(control, a, "GET", "/sync-history").json()["items"]
    assert {h["record_key"] for h in history} == {"1_1", "412_1305"}
    failed = control_api(control, a, "GET", "/sync-history", params={"action": "failed"}).json()["items"]
    assert [(h["record_key"], h["error_code"]) for h in failed] == [("412_1305", "INVALID_DATA")]
    # Tenant A cannot see or retry tenant B's outcome, nor retry a success.
    assert control_api(control, a, "POST", f"/sync-history/99/{base + 2}/retry").status_code == 404
    assert control_api(control, a, "POST", f"/sync-history/99/{base}/retry").status_code == 409

    grades_before = end_offsets(infra.bootstrap, "canonical.grade")
    commands_before = end_offsets(infra.bootstrap, "commands.zoho")
    retried = control_api(control, a, "POST", f"/sync-history/99/{base + 1}/retry")
    assert retried.status_code == 202, retried.text
    # The control plane asks the Zoho sink (one command) and writes nothing derived itself.
    asked = [decode(r.value or b"")[1] for r in read_records(infra.bootstrap, "commands.zoho", commands_before)
             if r.key and r.key.startswith(f"{a.name}/".encode())]
    assert [(c["command"], c["entity"], c["entity_id"], c["event_id"], c["reason"]) for c in asked] == [
        ("retry", "grade", "412_1305", event["event_id"], f"zoho.outcomes/99/{base + 1}")]
    assert retried.json()["command"]["command_id"] == asked[0]["command_id"]
    assert end_offsets(infra.bootstrap, "canonical.grade") == grades_before

    status = control_api(control, a, "GET", "/status").json()
    assert status["zoho_outcomes"] == {"created": 1, "failed": 1}


def test_history_before_the_projector_ever_started_is_a_retryable_503(
        service_env: dict[str, str], tenant_factory: Callable[..., TenantCreds], tmp_path: Any) -> None:
    tenant = tenant_factory()
    port = free_port()
    env = {**service_env, "CONTROL_PORT": str(port), "PROJECTIONS_SCHEMA": f"never_{uuid.uuid4().hex[:8]}"}
    proc = start_service("control", env, tmp_path / "control.log", f"http://127.0.0.1:{port}/healthz")
    try:
        fresh = Service(f"http://127.0.0.1:{port}", proc, tmp_path / "control.log")
        for target in ("zoho", "moodle"):
            resp = control_api(fresh, tenant, "GET", "/sync-history", params={"target": target})
            assert resp.status_code == 503, resp.text
            assert resp.headers["retry-after"] == "5" and "not set up yet" in resp.json()["detail"]
    finally:
        stop_service(proc)


def test_metadata_and_openapi(ingress: Service, control: Service, tenant_factory: Callable[..., TenantCreds]) -> None:
    t = tenant_factory()
    meta = control_api(control, t, "GET", "/metadata").json()
    assert meta["canonical_schemas"]["canonical.grade"]["name"] == "GradeEvent"
    assert meta["moodle"]["events"][0] == "user_created" and meta["moodle"]["timestamp_tolerance_s"] == 300
    paths = httpx.get(f"{control.url}/openapi.json").json()["paths"]
    assert {"/control/v1/settings", "/control/v1/field-mapping", "/control/v1/sync-history",
            "/control/v1/sync-history/{partition}/{offset}/retry", "/control/v1/status"} <= set(paths)
    # The ingress serves webhooks only: no control route, no database behind it.
    assert not [p for p in httpx.get(f"{ingress.url}/openapi.json").json()["paths"] if p.startswith("/control")]



def test_connections_the_database_closed_are_replaced_not_answered_503(
        infra: Infra, control: Service, tenant_factory: Callable[..., TenantCreds]) -> None:
    """PostgreSQL restarted or an administrator ended the control plane's idle connections: the next queries are
    answered, not failed once per dead pooled connection."""
    t = tenant_factory()
    for _ in range(4):  # several pooled connections
        assert control_api(control, t, "GET", "/sync/pulls").status_code == 200
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        ended = conn.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE application_name = 'mzsync-control') s").fetchone()
    assert ended and ended[0] >= 1
    assert [control_api(control, t, "GET", "/sync/pulls").status_code for _ in range(6)] == [200] * 6
