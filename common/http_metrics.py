"""Request counts and latencies of an HTTP service, recorded by a pure-ASGI middleware."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HttpMetrics:
    """`<service>_requests_total` and `<service>_request_seconds`, labelled by `route_label(path)`, which must
    map arbitrary paths onto a fixed set so noise cannot grow label cardinality."""

    def __init__(self, service: str, route_label: Callable[[str], str]) -> None:
        self.requests = Counter(f"{service}_requests_total", "HTTP requests by route and status", ["route", "status"])
        self.latency = Histogram(f"{service}_request_seconds", "Request latency by route", ["route"],
                                 buckets=_BUCKETS)
        self.route_label = route_label

    def middleware(self, app: ASGIApp) -> ASGIApp:
        metrics = self

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            status = 500

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                route = metrics.route_label(scope["path"])
                metrics.requests.labels(route, str(status)).inc()
                metrics.latency.labels(route).observe(time.perf_counter() - start)

        return measured
