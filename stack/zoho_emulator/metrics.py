"""Prometheus metrics of the emulator, in a registry of its own so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class EmulatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("zoho_emulator_calls_total", "CRM API calls by operation and HTTP status",
                             ["operation", "status"], registry=self.registry)
        self.credits = Counter("zoho_emulator_credits_total", "API credits charged", ["tenant"],
                               registry=self.registry)
        self.tokens = Counter("zoho_emulator_token_requests_total", "OAuth token requests by outcome", ["outcome"],
                              registry=self.registry)
        self.webhooks = Counter("zoho_emulator_webhooks_total", "Workflow webhook deliveries by outcome",
                                ["outcome"], registry=self.registry)
