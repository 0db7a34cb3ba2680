"""A load generator like a patient sender: every request is sent until the ingress acknowledges it (503 and
connection errors are retried), and each 202's raw position is kept to account for it afterwards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from ops.college.webhooks import PlannedRequest
from tests.conftest import TenantCreds


@dataclass(frozen=True)
class Ack:
    request: PlannedRequest
    topic: str
    partition: int
    offset: int


@dataclass
class LoadReport:
    acks: list[Ack] = field(default_factory=list)
    rejected: list[tuple[PlannedRequest, int, str]] = field(default_factory=list)  # answers other than 202/503
    unavailable: int = 0  # 503 answers
    connection_errors: int = 0


def _headers(req: PlannedRequest, tenant: TenantCreds) -> dict[str, str]:
    if req.source == "zoho":
        return {"Content-Type": req.content_type, "X-Tenant-ID": tenant.name,
                "X-Zoho-Webhook-Token": tenant.zoho_token}
    assert req.webhook_id is not None
    # Signed at each attempt: a signature is valid for five minutes only.
    return tenant.sign(req.body, req.webhook_id)


async def _send_one(client: httpx.AsyncClient, req: PlannedRequest, tenant: TenantCreds, report: LoadReport,
                    give_up_at: float) -> None:
    last = "not sent"
    while time.monotonic() < give_up_at:
        try:
            resp = await client.post(req.path, content=req.body, headers=_headers(req, tenant))
        except httpx.TransportError as exc:
            last = repr(exc)
            report.connection_errors += 1
            await asyncio.sleep(0.5)
            continue
        if resp.status_code == 202:
            answer = resp.json()
            report.acks.append(Ack(req, answer["topic"], answer["partition"], answer["offset"]))
            return
        if resp.status_code != 503:
            report.rejected.append((req, resp.status_code, resp.text))
            return
        last = f"503 {resp.text}"
        report.unavailable += 1
        retry_after = resp.headers.get("retry-after", "1")
        await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, 2.0))
    report.rejected.append((req, 0, f"never acknowledged; last answer: {last}"))


async def send(ingress_url: str, tenant: TenantCreds, requests: list[PlannedRequest], per_second: float | None,
               give_up_s: float = 300.0, concurrency: int = 16) -> LoadReport:
    """Send in order: `per_second` starts one request every 1/rate seconds (steady load), None as fast as
    `concurrency` connections go."""
    report = LoadReport()
    give_up_at = time.monotonic() + give_up_s
    async with httpx.AsyncClient(base_url=ingress_url, timeout=15,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        if per_second is None:
            queue = list(reversed(requests))

            async def worker() -> None:
                while queue:
                    await _send_one(client, queue.pop(), tenant, report, give_up_at)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return report
        started = time.monotonic()
        tasks = []
        for i, req in enumerate(requests):
            await asyncio.sleep(max(0.0, started + i / per_second - time.monotonic()))
            tasks.append(asyncio.create_task(_send_one(client, req, tenant, report, give_up_at)))
        await asyncio.gather(*tasks)
    return report
