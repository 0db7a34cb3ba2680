"""Notices writes whose effect is unknown: a timeout or a 5xx may still have been applied by Zoho.

The emulator (like a real server) can perform a call after the client gave up on it. A write that adds
subform rows is not idempotent, so after such a write the sink waits until a late arrival would have
landed and then checks the rows it wrote. The client's retries are invisible from outside, so this
wraps its HTTP transport instead.
"""

from __future__ import annotations

import asyncio
import time

import httpx

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WriteProbe(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, settle_s: float) -> None:
        self._inner = inner
        self.settle_s = settle_s
        self.ambiguous = 0
        self._last = 0.0

    def mark(self) -> int:
        return self.ambiguous

    def since(self, mark: int) -> bool:
        return self.ambiguous != mark

    async def settle(self) -> None:
        """Wait until a write that timed out or failed with 5xx would have landed, if it ever does."""
        await asyncio.sleep(max(0.0, self._last + self.settle_s - time.monotonic()))

    def _note(self, request: httpx.Request) -> None:
        if request.method in WRITE_METHODS and "/crm/" in request.url.path:
            self.ambiguous += 1
            self._last = time.monotonic()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:
            self._note(request)
            raise
        if response.status_code >= 500:
            self._note(request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
