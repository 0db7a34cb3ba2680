"""What a webhook sender and an operator see: bodies stored unchanged, keyed and labelled."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.conftest import TenantCreds
from tests.infra import Infra, Service, read_at

# The example bodies kept beside the tests (tests/samples/README.md says what each shape is).
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _zoho(ingress: Service, tenant: TenantCreds, module: str, body: bytes, ctype: str = "application/json",
          **params: str) -> httpx.Response:
    return httpx.post(f"{ingress.url}/webhooks/zoho/{module}", content=body,
                      params={"token": tenant.zoho_token, **params},
                      headers={"Content-Type": ctype, "X-Tenant-ID": tenant.name}, timeout=10)


def test_zoho_json_with_arabic_text_is_stored_byte_for_byte(infra: Infra, ingress: Service,
                                                             tenants: dict[str, TenantCreds]) -> None:
    # Odd spacing, key order and non-ASCII text must survive: the log keeps the body, not a re-serialisation.
    body = ('{"notification_id": "4876876000001203045",  "module":"BTEC_Students","operation":"insert",'
            '"record_id":"4876876000000412001","data":{"id":"4876876000000412001",'
            '"Full Name":"  لينا حداد ","Academic_Email":"lina.haddad@abchorizon.com","Status":"active"}}\n').encode()
    resp = _zoho(ingress, tenants["default"], "BTEC_Students", body)
    assert resp.status_code == 202, resp.text
    ack = resp.json()
    assert ack["topic"] == "raw.zoho" and resp.headers["X-Request-ID"] == ack["request_id"]
    rec = read_at(infra.bootstrap, "raw.zoho", ack["partition"], ack["offset"])
    assert rec.value == body
    assert rec.key == b"default/BTEC_Students/4876876000000412001"
    assert rec.headers["source"] == b"zoho"
    assert rec.headers["tenant"] == b"default"
    assert rec.headers["kind"] == b"BTEC_Students"
    assert rec.headers["content-type"] == b"application/json"
    assert rec.headers["request-id"] == ack["request_id"].encode()
    assert rec.headers["delivery-id"] == b"4876876000001203045"
    assert int(rec.headers["received-at"]) > 1_700_000_000_000


def test_zoho_form_urlencoded_is_stored_unchanged(infra: Infra, ingress: Service,
                                                  tenants: dict[str, TenantCreds]) -> None:
    body = urlencode({"id": "4876876000000412009", "Name": "STU-0009", "Full_Name": "سارة يوسف",
                      "Academic_Email": "sara@abchorizon.com"}).encode()
    resp = _zoho(ingress, tenants["default"], "BTEC_Students", body, "application/x-www-form-urlencoded")
    assert resp.status_code == 202, resp.text
    rec = read_at(infra.bootstrap, "raw.zoho", resp.json()["partition"], resp.json()["offset"])
    assert rec.value == body
    assert rec.key == b"default/BTEC_Students/4876876000000412009"
    assert rec.headers["content-type"] == b"application/x-www-form-urlencoded"
    assert "delivery-id" not in rec.headers


def test_zoho_batch_has_an_empty_record_id_and_token_may_come_in_a_header(
        infra: Infra, ingress: Service, tenants: dict[str, TenantCreds]) -> None:
    with open(SAMPLES / "zoho" / "programs_batch.json", "rb") as fh:
        body = fh.read()
    t = tenants["college-b"]
    resp = httpx.post(f"{ingress.url}/webhooks/zoho/Products", content=body, timeout=10,
                      headers={"Content-Type": "application/json; charset=utf-8", "X-Tenant-ID": t.name,
                               "X-Zoho-Webhook-Token": t.zoho_token})
    assert resp.status_code == 202, resp.text
    rec = read_at(infra.bootstrap, "raw.zoho", resp.json()["partition"], resp.json()["offset"])
    assert rec.value == body
    assert rec.key == b"college-b/Products/"
    assert rec.headers["tenant"] == b"college-b"


def test_moodle_signed_event_is_stored_with_its_webhook_id(infra: Infra, ingress: Service,
                                                           tenants: dict[str, TenantCreds]) -> None:
    with open(SAMPLES / "moodle" / "grade_updated.json", "rb") as fh:
        body = fh.read()
    msg_id = f"moodle-{uuid.uuid4()}"
    resp = httpx.post(f"{ingress.url}/webhooks/moodle/grade_updated", content=body,
                      headers=tenants["default"].sign(body, msg_id), timeout=10)
    assert resp.status_code == 202, resp.text
    rec = read_at(infra.bootstrap, "raw.moodle", resp.json()["partition"], resp.json()["offset"])
    assert rec.value == body
    assert rec.key == b"default/grade_updated/412_1305"
    assert rec.headers["delivery-id"] == msg_id.encode()
    assert rec.headers["source"] == b"moodle"
    assert rec.headers["kind"] == b"grade_updated"


def test_same_key_lands_on_the_partition_faust_would_choose(infra: Infra, ingress: Service,
                                                            tenants: dict[str, TenantCreds]) -> None:
    # aiokafka's default partitioner is Java-compatible murmur2; the ingress must agree.
    from aiokafka.partitioner import DefaultPartitioner

    partitioner = DefaultPartitioner()
    for i in range(8):
        record_id = f"48768760000004{i:05d}"
        body = json.dumps({"record_id": record_id, "data": {"id": record_id}}).encode()
        resp = _zoho(ingress, tenants["default"], "BTEC_Students", body)
        key = f"default/BTEC_Students/{record_id}".encode()
        assert resp.json()["partition"] == partitioner(key, [0, 1, 2, 3], [0, 1, 2, 3])
