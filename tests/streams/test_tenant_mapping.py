"""A college with a customised Zoho org changes configuration, not code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from ops.college import webhooks as college
from tests.conftest import TenantCreds, control_api
from tests.infra import Infra, Service
from tests.streams.conftest import Sender, StreamsRun, canonical_events, deadletters, new_id, offsets, wait_for

# This org keeps students in a module called "Learners" and their academic email in "College_Mail".
CUSTOM = {"entities": {"student": {"module": "Learners", "fields": {"academic_email": ["College_Mail"]}}}}


async def test_renamed_module_and_field_are_accepted_and_mapped(
        infra: Infra, ingress: Service, tenant_factory: Callable[..., TenantCreds], streams_run: StreamsRun) -> None:
    tenant = tenant_factory(CUSTOM)
    sender = Sender(ingress, tenant)
    start = offsets(infra, "canonical.student", "deadletter")
    sid = new_id()
    record: dict[str, Any] = college.student(sid, "unused@college.example")
    del record["Academic_Email"]
    record["College_Mail"] = f"Custom.{sid}@College.Example"

    # The ingress knows the tenant's modules from its mapping: the default name is now unknown.
    async with httpx.AsyncClient() as http:
        default = await http.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=b"{}",
                                  params={"token": tenant.zoho_token},
                                  headers={"Content-Type": "application/json", "X-Tenant-ID": tenant.name})
    assert default.status_code == 404 and "Learners" in default.json()["valid"]

    streams_run.start("w1")
    async with sender.client() as client:
        await sender.zoho(client, "Learners", college.notification("Learners", record, new_id()))

    def mapped() -> list[dict[str, Any]]:
        return canonical_events(infra, "student", start["canonical.student"], tenant.name)

    events = await wait_for(mapped, within=60)
    assert [e["entity_id"] for e in events] == [sid], deadletters(infra, start["deadletter"], tenant.name)
    assert events[0]["payload"]["academic_email"].lower() == f"custom.{sid}@college.example"
    assert events[0]["payload"]["first_name"] == "Lina" and events[0]["payload"]["status"] == "Active"


async def test_a_field_mapping_change_is_applied_live_by_the_streams(
        infra: Infra, ingress: Service, control: Service, tenant_factory: Callable[..., TenantCreds],
        streams_run: StreamsRun) -> None:
    t = tenant_factory()
    streams_run.start("w1")
    start = offsets(infra, "canonical.student")
    custom = {"entities": {"student": {"module": "Learners", "fields": {"academic_email": ["College_Mail"]}}}}
    resp = await asyncio.to_thread(control_api, control, t, "PUT", "/field-mapping", json=custom)
    assert resp.status_code == 200
    assert resp.json()["effective"]["entities"]["student"]["module"] == "Learners"
    await asyncio.sleep(6)  # the worker re-reads the tenants file every few seconds
    sid = new_id()
    record: dict[str, Any] = college.student(sid, "x@college.example")
    del record["Academic_Email"]
    record["College_Mail"] = f"live.{sid}@college.example"
    sender = Sender(ingress, t)
    async with sender.client() as client:
        await sender.zoho(client, "Learners", college.notification("Learners", record, new_id()))
    events = await wait_for(lambda: canonical_events(infra, "student", start["canonical.student"], t.name), within=60)
    assert [e["payload"]["academic_email"] for e in events] == [f"live.{sid}@college.example"]
