"""The plugin's webhooks to our ingress: signed (Standard Webhooks), sent after the call, retried with backoff.

Like the plugin's outbox, a delivery never holds up the web-service call that caused it; transport errors, 408,
429 and 5xx are retried (at most `max_attempts` times, exponential backoff), other answers are final. Retries may
overtake later events, as separate outbox tasks do: the `sequence` in each body is what orders them. Each attempt is
signed with its own send time. Everything waiting is bounded by `queue_size`; beyond it a delivery is dropped,
counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from stack.moodle_emulator.config import WebhookConfig
from stack.moodle_emulator.metrics import EmulatorMetrics

log = logging.getLogger("moodle_emulator.webhooks")


@dataclass
class _Delivery:
    generation: int
    tenant: str
    secret: str
    url: str
    event_id: str
    event_type: str
    record: str
    sequence: int
    body: str
    attempts: int = 0


def retryable(status: int | None) -> bool:
    """The plugin's rule (outbox::is_retryable): no answer, 408, 429 and 5xx are worth another try."""
    return status is None or status in (408, 429) or status >= 500


class WebhookDispatcher:
    def __init__(self, config: WebhookConfig, metrics: EmulatorMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=config.log_size)
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._outstanding = 0
        self._generation = 0
        self._retries: set[asyncio.TimerHandle] = set()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.ingress_url)

    async def start(self) -> None:
        if self.enabled:
            self._http = httpx.AsyncClient(timeout=self.config.timeout_s)
            self._task = asyncio.create_task(self._run(), name="moodle-emulator-webhooks")

    async def stop(self) -> None:
        for handle in self._retries:
            handle.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.aclose()

    def reset(self) -> None:
        self._generation += 1
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._outstanding = 0
        self.deliveries.clear()

    def pending(self) -> int:
        return self._outstanding

    def send(self, tenant: str, secret: str, envelope: dict[str, Any], record: str) -> None:
        """Queue one event body (the envelope without `event_id`, which is given here)."""
        if not self.enabled:
            return
        assert self.config.ingress_url is not None
        event_id = str(uuid.uuid4())
        body = {"event_id": event_id, **envelope}
        url = self.config.url_template.format(ingress_url=self.config.ingress_url.rstrip("/"),
                                              event_type=envelope["event_type"])
        # The plugin's json_encode flags: unescaped slashes and unicode, no spaces.
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        delivery = _Delivery(self._generation, tenant, secret, url, event_id, envelope["event_type"], record,
                             envelope["sequence"], text)
        if self._outstanding >= self.config.queue_size:
            self._finish(delivery, "dropped", None, "queue full")
            log.warning("webhook queue full, delivery dropped", extra={"event_type": delivery.event_type,
                                                                         "record": record})
            return
        self._outstanding += 1
        self._queue.put_nowait(delivery)

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.get()
            if delivery.generation == self._generation:
                await self._attempt(delivery)

    async def _attempt(self, d: _Delivery) -> None:
        assert self._http is not None
        d.attempts += 1
        now = datetime.now(tz=UTC)
        headers = {"Content-Type": "application/json", "webhook-id": d.event_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(d.secret).sign(d.event_id, now, d.body), "X-Tenant-ID": d.tenant}
        status: int | None = None
        answer: str | None = None
        try:
            resp = await self._http.post(d.url, content=d.body.encode(), headers=headers)
            status, answer = resp.status_code, resp.text[:300]
            error = None if resp.is_success else answer
        except httpx.HTTPError as exc:
            error = repr(exc)
        if status is not None and 200 <= status < 300:
            self._finish(d, "delivered", status, None, answer)
        elif retryable(status) and d.attempts < self.config.max_attempts:
            delay = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (d.attempts - 1))
            self.metrics.webhooks.labels(outcome="retried").inc()
            log.info("webhook delivery failed, will retry", extra={"url": d.url, "status": status, "error": error,
                                                                   "attempts": d.attempts, "retry_in_s": delay})
            self._schedule(d, delay)
        else:
            self._finish(d, "failed", status, error)
            log.warning("webhook delivery failed for good", extra={"url": d.url, "status": status, "error": error,
                                                                    "attempts": d.attempts})

    def _schedule(self, d: _Delivery, delay: float) -> None:
        def again() -> None:
            self._retries.discard(handle)
            if d.generation == self._generation:
                self._queue.put_nowait(d)

        handle = asyncio.get_running_loop().call_later(delay, again)
        self._retries.add(handle)

    def _finish(self, d: _Delivery, outcome: str, status: int | None, error: str | None,
                answer: str | None = None) -> None:
        if outcome != "dropped":
            self._outstanding -= 1
        self.metrics.webhooks.labels(outcome=outcome).inc()
        self.deliveries.append({"event_id": d.event_id, "event_type": d.event_type, "tenant": d.tenant,
                                "record": d.record, "sequence": d.sequence, "url": d.url, "attempts": d.attempts,
                                "outcome": outcome, "status": status, "error": error, "answer": answer})
