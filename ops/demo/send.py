"""Send planned requests through the real HTTP ingress, authenticated like Zoho and the Moodle plugin."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from standardwebhooks.webhooks import Webhook

from common.tenants import TenantSecrets
from ops.college.webhooks import PlannedRequest

MAX_ATTEMPTS = 10
LONGEST_WAIT_S = 30.0


@dataclass
class SendReport:
    accepted: int = 0
    # Answers that were not 202 after every retry: (request, status, answer text).
    rejected: list[tuple[PlannedRequest, int, str]] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)


def _headers(req: PlannedRequest, tenant: str, secrets: TenantSecrets) -> dict[str, str]:
    headers = {"Content-Type": req.content_type, "X-Tenant-ID": tenant}
    if req.source == "zoho":
        headers["X-Zoho-Webhook-Token"] = secrets.zoho_webhook_token
        return headers
    assert req.webhook_id is not None
    # Signed at each attempt: the ingress accepts a signature for five minutes only.
    now = datetime.now(tz=UTC)
    headers["webhook-id"] = req.webhook_id
    headers["webhook-timestamp"] = str(int(now.timestamp()))
    headers["webhook-signature"] = Webhook(secrets.moodle_webhook_secret).sign(req.webhook_id, now, req.body.decode())
    return headers


async def _send_one(client: httpx.AsyncClient, req: PlannedRequest, tenant: str, secrets: TenantSecrets,
                    report: SendReport) -> None:
    status, text = 0, ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            resp = await client.post(req.path, content=req.body, headers=_headers(req, tenant, secrets))
        except httpx.TransportError as exc:
            # The body may have been stored before the connection dropped; the stream drops the
            # second copy by its delivery id (or as unchanged), so sending again is safe.
            status, text = 0, f"{type(exc).__name__}: {exc}"
            report.retries["connection"] += 1
            await asyncio.sleep(min(2.0 ** attempt / 4, LONGEST_WAIT_S))
            continue
        status, text = resp.status_code, resp.text
        if status == 202:
            report.accepted += 1
            return
        if status != 503:
            break
        report.retries["503"] += 1
        retry_after = resp.headers.get("retry-after", "1")
        await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, LONGEST_WAIT_S))
    report.rejected.append((req, status, text))


async def send_all(requests: list[PlannedRequest], ingress_url: str, tenant: str, secrets: TenantSecrets,
                   concurrency: int = 16, show_progress: bool = True) -> SendReport:
    report = SendReport()
    queue: asyncio.Queue[PlannedRequest] = asyncio.Queue()
    for req in requests:
        queue.put_nowait(req)
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TextColumn("requests"), TimeElapsedColumn())
    async with httpx.AsyncClient(base_url=ingress_url, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        with Progress(*columns, disable=not show_progress) as progress:
            task = progress.add_task("send", total=len(requests))

            async def worker() -> None:
                # Each worker takes the next request in plan order, so the shuffled order is kept.
                while not queue.empty():
                    req = queue.get_nowait()
                    await _send_one(client, req, tenant, secrets, report)
                    progress.advance(task)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
    return report
