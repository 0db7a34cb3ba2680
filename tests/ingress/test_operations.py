"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import httpx

from tests.infra import Service


def test_health_ready_and_metrics(ingress: Service) -> None:
    assert httpx.get(f"{ingress.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{ingress.url}/readyz").status_code == 200
    httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=b"{}")  # a 401, to be counted
    text = httpx.get(f"{ingress.url}/metrics").text
    assert 'ingress_requests_total{route="/webhooks/zoho/{kind}",status="401"}' in text
    assert "ingress_request_seconds_bucket" in text
    assert "ingress_append_failures_total" in text


def test_openapi_documents_both_webhook_routes(ingress: Service) -> None:
    spec = httpx.get(f"{ingress.url}/openapi.json").json()
    zoho = spec["paths"]["/webhooks/zoho/{module}"]["post"]
    moodle = spec["paths"]["/webhooks/moodle/{event}"]["post"]
    assert set(zoho["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert {"202", "401", "404", "413", "415", "503"} <= set(zoho["responses"])
    assert "webhook-signature" in {p["name"] for p in moodle["parameters"]}
    assert httpx.get(f"{ingress.url}/docs").status_code == 200


def test_logs_are_json_lines_with_request_ids(ingress: Service) -> None:
    import json

    resp = httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=b"{}",
                      headers={"X-Request-ID": "trace-me-123", "Content-Type": "application/json"})
    assert resp.headers["X-Request-ID"] == "trace-me-123"
    lines = [json.loads(line) for line in ingress.log.read_text().splitlines() if line.startswith("{")]
    assert lines and all("level" in e and "message" in e for e in lines)
    rejected = [e for e in lines if e.get("request_id") == "trace-me-123"]
    assert rejected and rejected[0]["status"] == 401
