"""A faust worker (or two) as real subprocesses, and ways to feed and read them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

from ops.college.model import Ids
from schemas.codec import decode
from schemas.topics import RAW_MOODLE, RAW_ZOHO
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, StreamsRun, end_offsets, read_records

# Zoho ids for the records of every test here: the tests share one log, so each record gets an id of its own.
new_id = Ids.unique().zoho


async def _post(client: httpx.AsyncClient, url: str, content: bytes, **kwargs: Any) -> httpx.Response:
    """POST as a webhook sender does: again when the connection broke (a keep-alive connection the server
    closed just then). Sending the same body again is what Zoho and the plugin do too; its delivery id makes
    a second copy a redelivery, which the streams drop."""
    for attempt in range(3):
        try:
            return await client.post(url, content=content, **kwargs)
        except httpx.TransportError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


class Sender:
    def __init__(self, ingress: Service, tenant: TenantCreds) -> None:
        self.ingress = ingress
        self.tenant = tenant

    async def zoho(self, client: httpx.AsyncClient, module: str, body: dict[str, Any]) -> None:
        resp = await _post(client, f"/webhooks/zoho/{module}", json.dumps(body).encode(),
                           params={"token": self.tenant.zoho_token},
                           headers={"Content-Type": "application/json", "X-Tenant-ID": self.tenant.name})
        assert resp.status_code == 202, resp.text

    async def moodle(self, client: httpx.AsyncClient, event: str, body: dict[str, Any],
                     msg_id: str | None = None) -> None:
        raw = json.dumps(body).encode()
        resp = await _post(client, f"/webhooks/moodle/{event}", raw,
                           headers=self.tenant.sign(raw, msg_id or body["event_id"]))
        assert resp.status_code == 202, resp.text

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.ingress.url, timeout=30, limits=httpx.Limits(max_connections=50))


def canonical_events(infra: Infra, entity: str, start: dict[int, int], tenant: str) -> list[dict[str, Any]]:
    """The tenant's canonical events, each event id once.

    Processing is at-least-once: after a restart or a rebalance a stage may send an event again, with the
    same (deterministic) event id, which every consumer applies once. Two ids for one change would be a bug;
    one id seen twice is the same event.
    """
    out, seen = [], set()
    for rec in read_records(infra.bootstrap, f"canonical.{entity}", start):
        _, event = decode(rec.value or b"")
        if event["tenant"] == tenant and event["event_id"] not in seen:
            seen.add(event["event_id"])
            out.append(event)
    return out


def deadletters(infra: Infra, start: dict[int, int], tenant: str) -> list[dict[str, Any]]:
    """The tenant's dead letters, each (deterministic) dead-letter id once."""
    out, seen = [], set()
    for rec in read_records(infra.bootstrap, "deadletter", start):
        _, letter = decode(rec.value or b"")
        if letter["tenant"] == tenant and letter["dead_letter_id"] not in seen:
            seen.add(letter["dead_letter_id"])
            out.append(letter)
    return out


def drained(infra: Infra, run: StreamsRun) -> bool:
    """Whether the generation has processed and committed every record on its input and internal topics.

    Checked raw topics first, then each stage's topic in the order records flow, so that once this is true
    everything sent before the call has gone through every stage (and whatever it produced is out).
    """
    topics = [RAW_ZOHO, RAW_MOODLE, *(f"{run.app_id}-{stage}" for stage in ("identity", "moodle", "person"))]
    c = Consumer({"bootstrap.servers": infra.bootstrap, "group.id": run.app_id, "enable.auto.commit": False})
    try:
        meta = c.list_topics(timeout=10).topics
        for topic in topics:
            parts = [TopicPartition(topic, p) for p in meta[topic].partitions] if topic in meta else []
            for tp in c.committed(parts, timeout=10):
                if c.get_watermark_offsets(tp, timeout=10)[1] > max(tp.offset, 0):
                    return False
        return True
    finally:
        c.close()


async def settled(infra: Infra, run: StreamsRun, within: float = 180.0) -> None:
    """Wait until the generation has processed everything sent so far (see `drained`)."""
    assert await wait_for(lambda: drained(infra, run), within=within), "the streams worker did not catch up"


def offsets(infra: Infra, *topics: str) -> dict[str, dict[int, int]]:
    return {t: end_offsets(infra.bootstrap, t) for t in topics}


async def wait_for(check: Any, within: float = 120.0, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await asyncio.to_thread(check)
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)
