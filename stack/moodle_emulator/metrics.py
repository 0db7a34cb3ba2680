"""Prometheus metrics of the emulator, in a registry of its own so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class EmulatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("moodle_emulator_calls_total", "Web-service calls by function and outcome",
                             ["wsfunction", "outcome"], registry=self.registry)
        self.webhooks = Counter("moodle_emulator_webhooks_total", "Plugin webhook deliveries by outcome",
                                ["outcome"], registry=self.registry)
