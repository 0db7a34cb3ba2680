"""Workflow-rule webhooks to our ingress: fire-and-forget, bounded queue, failures logged (docs/zoho-api.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from stack.zoho_emulator.clock import Clock
from stack.zoho_emulator.config import OrgConfig, WebhookConfig
from stack.zoho_emulator.metrics import EmulatorMetrics

log = logging.getLogger("zoho_emulator.webhooks")


@dataclass(frozen=True)
class _Delivery:
    url: str
    params: dict[str, str]
    tenant: str
    body: dict[str, Any]


class WebhookDispatcher:
    def __init__(self, config: WebhookConfig, clock: Clock, metrics: EmulatorMetrics) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=config.log_size)
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue(config.queue_size)
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.ingress_url)

    async def start(self) -> None:
        if self.enabled:
            self._http = httpx.AsyncClient(timeout=self.config.timeout_s)
            self._task = asyncio.create_task(self._run(), name="zoho-emulator-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.aclose()

    def fire(self, org: OrgConfig, module: str, operation: str, record_id: str, data: dict[str, Any],
             new_id: Callable[[], str]) -> None:
        if not self.enabled or (self.config.modules is not None and module not in self.config.modules):
            return
        assert self.config.ingress_url is not None
        url = self.config.url_template.format(ingress_url=self.config.ingress_url.rstrip("/"), module=module)
        params = {"token": org.webhook_token} if org.webhook_token else {}
        body = {"notification_id": new_id(), "timestamp": self.clock.iso(), "module": module,
                "operation": operation, "record_id": record_id, "data": data}
        try:
            self._queue.put_nowait(_Delivery(url, params, org.tenant, body))
        except asyncio.QueueFull:
            # Real Zoho drops too (webhook_failures); say so loudly rather than block the API call.
            self.metrics.webhooks.labels(outcome="dropped").inc()
            self._note(body, url, "dropped", None, "queue full")
            log.warning("webhook queue full, delivery dropped", extra={"module": module, "record_id": record_id})

    async def _run(self) -> None:
        assert self._http is not None
        while True:
            item = await self._queue.get()
            url, body = item.url, item.body
            try:
                resp = await self._http.post(url, params=item.params, json=body, headers={"X-Tenant-ID": item.tenant})
                outcome = "delivered" if resp.is_success else "failed"
                self._note(body, url, outcome, resp.status_code, None if resp.is_success else resp.text[:200])
                if not resp.is_success:
                    log.warning("webhook rejected", extra={"url": url, "status": resp.status_code,
                                                           "record_id": body["record_id"]})
            except httpx.HTTPError as exc:
                outcome = "failed"
                self._note(body, url, outcome, None, repr(exc))
                log.warning("webhook delivery failed", extra={"url": url, "error": repr(exc),
                                                              "record_id": body["record_id"]})
            self.metrics.webhooks.labels(outcome=outcome).inc()

    def _note(self, body: dict[str, Any], url: str, outcome: str, status: int | None, error: str | None) -> None:
        self.deliveries.append({"notification_id": body["notification_id"], "module": body["module"],
                                "operation": body["operation"], "record_id": body["record_id"], "url": url,
                                "outcome": outcome, "status": status, "error": error})

    def pending(self) -> int:
        return self._queue.qsize()
