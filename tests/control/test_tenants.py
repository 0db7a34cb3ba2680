"""Tenants through the control plane: the operator creates, lists, disables and rotates; a tenant cannot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import OPERATOR_KEY, TenantCreds, control_api
from tests.infra import Service


def operator(control: Service, method: str, path: str, key: str | None = OPERATOR_KEY, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, f"{control.url}/control/v1/tenants{path}", headers=headers, timeout=30, **kw)


def within_seconds(check: Callable[[], bool], limit: float = 5.0) -> bool:
    """Every service re-reads the tenants file about once a second."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def zoho_status(ingress: Service, tenant: str, token: str) -> int:
    return httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=b'{"data": {"id": "1"}}',
                      headers={"Content-Type": "application/json", "X-Tenant-ID": tenant,
                               "X-Zoho-Webhook-Token": token}, timeout=30).status_code


def test_only_the_operator_manages_tenants(control: Service, tenant_factory: Callable[..., TenantCreds]) -> None:
    mine, other = tenant_factory(), tenant_factory()
    assert operator(control, "GET", "", key=None).status_code == 401
    assert operator(control, "GET", "", key="not-a-key").status_code == 401
    # A tenant's key reads nothing here and changes nobody, itself included.
    assert operator(control, "GET", "", key=mine.control_key).status_code == 403
    assert operator(control, "POST", f"/{other.name}/disable", key=mine.control_key).status_code == 403
    assert operator(control, "POST", f"/{other.name}/rotate", key=mine.control_key, json={}).status_code == 403
    listed = operator(control, "GET", "").json()
    names = {t["tenant"] for t in listed["items"]}
    assert {mine.name, other.name, "default"} <= names
    assert not any("secret" in key or "token" in key for t in listed["items"] for key in t)
    # The operator's key is no tenant's key either.
    assert httpx.get(f"{control.url}/control/v1/settings", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                     timeout=30).status_code == 401


def test_a_new_tenant_works_at_once_and_a_rotated_secret_replaces_the_old(
        control: Service, ingress: Service) -> None:
    name = f"college-{time.monotonic_ns() % 10**9}"
    created = operator(control, "POST", "", json={"tenant": name})
    assert created.status_code == 201, created.text
    secrets = created.json()
    assert set(secrets) == {"tenant", "moodle_webhook_secret", "zoho_webhook_token", "control_api_key"}
    assert operator(control, "POST", "", json={"tenant": name}).status_code == 409
    assert operator(control, "POST", "", json={"tenant": "no spaces/or slashes"}).status_code == 422

    assert within_seconds(lambda: zoho_status(ingress, name, secrets["zoho_webhook_token"]) == 202)
    own = httpx.get(f"{control.url}/control/v1/settings", timeout=30,
                    headers={"Authorization": f"Bearer {secrets['control_api_key']}"})
    assert own.status_code == 200 and own.json()["tenant"] == name

    rotated = operator(control, "POST", f"/{name}/rotate", json={"secrets": ["zoho_webhook_token"]}).json()
    assert set(rotated) == {"tenant", "zoho_webhook_token"}
    assert rotated["zoho_webhook_token"] != secrets["zoho_webhook_token"]
    assert within_seconds(lambda: zoho_status(ingress, name, secrets["zoho_webhook_token"]) == 401)
    assert zoho_status(ingress, name, rotated["zoho_webhook_token"]) == 202
    assert operator(control, "POST", f"/{name}/rotate", json={"secrets": ["operator_key"]}).status_code == 422
    assert operator(control, "POST", "/no-such-college/rotate", json={}).status_code == 404


def test_a_disabled_tenant_is_refused_until_enabled(control: Service, ingress: Service,
                                                    tenant_factory: Callable[..., TenantCreds]) -> None:
    t = tenant_factory()
    assert zoho_status(ingress, t.name, t.zoho_token) == 202
    off = operator(control, "POST", f"/{t.name}/disable")
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert within_seconds(lambda: zoho_status(ingress, t.name, t.zoho_token) == 403)
    assert control_api(control, t, "GET", "/settings").status_code == 401
    assert operator(control, "POST", f"/{t.name}/enable").json()["disabled"] is False
    assert within_seconds(lambda: zoho_status(ingress, t.name, t.zoho_token) == 202)
    assert control_api(control, t, "GET", "/settings").status_code == 200
