"""Prometheus metrics of the ingress."""

from __future__ import annotations

from prometheus_client import Counter

from common.http_metrics import HttpMetrics

APPENDED = Counter("ingress_appended_total", "Bodies stored in the log", ["topic"])
APPEND_FAILURES = Counter("ingress_append_failures_total", "Bodies the broker did not acknowledge", ["topic"])

_ROUTES = ("/webhooks/zoho/", "/webhooks/moodle/")


def route_label(path: str) -> str:
    for prefix in _ROUTES:
        if path.startswith(prefix):
            return prefix + "{kind}"
    return path if path in ("/healthz", "/readyz", "/metrics", "/_noop") else "other"


HTTP = HttpMetrics("ingress", route_label)
