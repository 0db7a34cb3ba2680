"""Bad input gets a clear error and nothing reaches the log."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import TenantCreds
from tests.infra import Infra, Service, end_offsets


@pytest.fixture
def log_unchanged(infra: Infra) -> Iterator[None]:
    before = {t: end_offsets(infra.bootstrap, t) for t in ("raw.zoho", "raw.moodle")}
    yield
    after = {t: end_offsets(infra.bootstrap, t) for t in ("raw.zoho", "raw.moodle")}
    assert after == before, "a rejected request must not write to the log"


def _moodle(ingress: Service, headers: dict[str, str], body: bytes, event: str = "user_created") -> httpx.Response:
    return httpx.post(f"{ingress.url}/webhooks/moodle/{event}", content=body, headers=headers, timeout=10)


BODY = b'{"event_id":"e-1","event_type":"user_created","data":{"moodle_user_id":5,"email":"a@b.c"}}'


def test_moodle_signature_errors_are_401(ingress: Service, tenants: dict[str, TenantCreds],
                                         log_unchanged: None) -> None:
    t = tenants["default"]
    good = t.sign(BODY, "e-1")
    assert _moodle(ingress, {**good, "webhook-signature": "v1,AAAA"}, BODY).status_code == 401
    missing = {k: v for k, v in good.items() if k != "webhook-signature"}
    assert _moodle(ingress, missing, BODY).status_code == 401
    assert _moodle(ingress, {**good, "webhook-signature": "garbage"}, BODY).status_code == 401
    # The body is covered by the signature: one changed byte fails it.
    assert _moodle(ingress, good, BODY.replace(b"a@b.c", b"x@b.c")).status_code == 401
    # Another tenant's secret does not open this tenant.
    other = tenants["college-b"].sign(BODY, "e-1")
    assert _moodle(ingress, {**other, "X-Tenant-ID": "default"}, BODY).status_code == 401


def test_signature_older_than_five_minutes_is_401(ingress: Service, tenants: dict[str, TenantCreds],
                                                  log_unchanged: None) -> None:
    t = tenants["default"]
    # Ten seconds beyond the five minutes: the header carries whole seconds, and a loaded machine may take a
    # second or more between signing and checking (a CI run signed at +301 s and was checked at +299.x s).
    stale = _moodle(ingress, t.sign(BODY, "e-2", at=time.time() - 310), BODY)
    assert stale.status_code == 401
    assert "too old" in stale.json()["error"]
    early = _moodle(ingress, t.sign(BODY, "e-2", at=time.time() + 310), BODY)
    assert early.status_code == 401
    assert "too new" in early.json()["error"]


def test_zoho_token_errors_are_401(ingress: Service, tenants: dict[str, TenantCreds], log_unchanged: None) -> None:
    url = f"{ingress.url}/webhooks/zoho/BTEC_Students"
    hdr = {"Content-Type": "application/json"}
    assert httpx.post(url, content=b"{}", headers=hdr).status_code == 401
    assert httpx.post(url, content=b"{}", headers=hdr, params={"token": "wrong"}).status_code == 401
    # College B's token is not the default tenant's.
    assert httpx.post(url, content=b"{}", headers=hdr,
                      params={"token": tenants["college-b"].zoho_token}).status_code == 401
    unknown = httpx.post(url, content=b"{}", headers={**hdr, "X-Tenant-ID": "nobody"},
                         params={"token": tenants["default"].zoho_token})
    assert unknown.status_code == 401


def test_unknown_module_or_event_is_404_listing_valid_ones(ingress: Service, tenants: dict[str, TenantCreds],
                                                           log_unchanged: None) -> None:
    t = tenants["default"]
    resp = httpx.post(f"{ingress.url}/webhooks/zoho/Leads", content=b"{}", params={"token": t.zoho_token},
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 404
    assert "BTEC_Grades" in resp.json()["valid"] and "Products" in resp.json()["valid"]
    resp = _moodle(ingress, t.sign(BODY, "e-3"), BODY, event="course_deleted")
    assert resp.status_code == 404
    assert set(resp.json()["valid"]) >= {"user_created", "grade_updated", "enrollment_created"}
    assert httpx.post(f"{ingress.url}/webhooks/canvas/x", content=b"{}").status_code == 404


def test_content_type_and_json_errors(ingress: Service, tenants: dict[str, TenantCreds], log_unchanged: None) -> None:
    t = tenants["default"]
    url = f"{ingress.url}/webhooks/zoho/BTEC_Students"
    assert httpx.post(url, content=b"<x/>", params={"token": t.zoho_token},
                      headers={"Content-Type": "application/xml"}).status_code == 415
    assert httpx.post(url, content=b"{}", params={"token": t.zoho_token}).status_code == 415
    bad = httpx.post(url, content=b'{"id": ', params={"token": t.zoho_token},
                     headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "malformed JSON" in bad.json()["error"]
    assert httpx.post(url, content=b"[1,2]", params={"token": t.zoho_token},
                      headers={"Content-Type": "application/json"}).status_code == 400
    # Moodle sends JSON only.
    form = b"a=1"
    hdrs = {**t.sign(form, "e-4"), "Content-Type": "application/x-www-form-urlencoded"}
    assert _moodle(ingress, hdrs, form).status_code == 415
    notjson = b"not json"
    assert _moodle(ingress, t.sign(notjson, "e-5"), notjson).status_code == 400


def test_body_over_one_mebibyte_is_413(ingress: Service, tenants: dict[str, TenantCreds],
                                       log_unchanged: None) -> None:
    t = tenants["default"]
    big = b'{"data": "' + b"x" * (1024 * 1024) + b'"}'
    resp = httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=big, params={"token": t.zoho_token},
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 413

    # Without a Content-Length (chunked), the limit still holds.
    def chunks() -> Iterator[bytes]:
        yield b'{"data": "'
        for _ in range(17):
            yield b"y" * 65536
        yield b'"}'

    resp = httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=chunks(), params={"token": t.zoho_token},
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 413
