"""Concurrency and broker outages: every 2xx is in the log exactly once, nothing else is."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx

from tests.conftest import TenantCreds
from tests.infra import Infra, Service, end_offsets, read_records


async def _post_many(ingress: Service, tenant: TenantCreds, bodies: list[bytes],
                     concurrency: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=ingress.url, limits=limits, timeout=30) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(body: bytes) -> httpx.Response:
            async with sem:
                return await client.post("/webhooks/zoho/BTEC_Grades", content=body,
                                         params={"token": tenant.zoho_token},
                                         headers={"Content-Type": "application/json"})

        return await asyncio.gather(*(one(b) for b in bodies))


def _body(tag: str, i: int) -> bytes:
    return json.dumps({"record_id": f"{tag}-{i}", "data": {"id": f"{tag}-{i}", "Grade": "P"}}).encode()


async def test_500_concurrent_posts_make_exactly_500_records(infra: Infra, ingress: Service,
                                                             tenants: dict[str, TenantCreds]) -> None:
    start = end_offsets(infra.bootstrap, "raw.zoho")
    bodies = [_body("conc", i) for i in range(500)]
    responses = await _post_many(ingress, tenants["default"], bodies, concurrency=500)
    assert Counter(r.status_code for r in responses) == {202: 500}
    records = read_records(infra.bootstrap, "raw.zoho", start)
    assert sorted(r.value for r in records if r.value) == sorted(bodies)
    acked = {(r.json()["partition"], r.json()["offset"]) for r in responses}
    assert acked == {(r.partition, r.offset) for r in records}


async def test_broker_outage_answers_503_then_recovers_without_loss_or_duplicates(
        infra: Infra, ingress: Service, tenants: dict[str, TenantCreds]) -> None:
    tenant = tenants["default"]
    start = end_offsets(infra.bootstrap, "raw.zoho")
    before = [_body("before", i) for i in range(20)]
    assert all(r.status_code == 202 for r in await _post_many(ingress, tenant, before, 10))

    infra.stop_broker()
    try:
        during = [_body("during", i) for i in range(5)]
        t0 = time.monotonic()
        answers = await _post_many(ingress, tenant, during, 5)
        elapsed = time.monotonic() - t0
        assert [r.status_code for r in answers] == [503] * 5
        assert all(r.headers.get("Retry-After") for r in answers)
        # The ingress runs with a 3 s delivery timeout; the answer comes within it (plus slack).
        assert elapsed < 3 + 2.5, elapsed
        ready = await asyncio.to_thread(httpx.get, f"{ingress.url}/readyz", timeout=10)
        assert ready.status_code == 503
    finally:
        infra.start_broker()

    after = [_body("after", i) for i in range(20)]
    pending = list(after)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        answers = await _post_many(ingress, tenant, pending, 10)
        pending = [b for b, r in zip(pending, answers, strict=True) if r.status_code != 202]
        if pending:
            await asyncio.sleep(0.5)
    assert not pending, "the ingress did not recover after the broker came back"

    stored = Counter(r.value for r in read_records(infra.bootstrap, "raw.zoho", start))
    assert all(stored[b] == 1 for b in before + after), "an acknowledged body is missing or duplicated"
    assert not any(stored[b] for b in during), "a body answered 503 was stored anyway"
    ready = await asyncio.to_thread(httpx.get, f"{ingress.url}/readyz", timeout=10)
    assert ready.status_code == 200
