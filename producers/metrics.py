"""Prometheus metrics of the ingress and a pure-ASGI middleware that records them."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("ingress_requests_total", "HTTP requests by route and status", ["route", "status"])
LATENCY = Histogram(
    "ingress_request_seconds",
    "Request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
APPENDED = Counter("ingress_appended_total", "Bodies stored in the log", ["topic"])
APPEND_FAILURES = Counter("ingress_append_failures_total", "Bodies the broker did not acknowledge", ["topic"])

_ROUTES = ("/webhooks/zoho/", "/webhooks/moodle/")


def route_label(path: str) -> str:
    for prefix in _ROUTES:
        if path.startswith(prefix):
            return prefix + "{kind}"
    # Anything else is a fixed path of ours or noise; noise must not grow label cardinality.
    return path if path in ("/healthz", "/readyz", "/metrics", "/_noop") else "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_label(scope["path"])
            REQUESTS.labels(route, str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - start)
