"""Prometheus metrics of the Moodle sink (the client's calls are in client.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = Counter("moodle_sink_outcomes_total", "Records by outcome", ["tenant", "entity", "action"])
SKIPPED = Counter("moodle_sink_events_skipped_total", "Consumed events the sink does not provision, by reason",
                  ["reason"])
PARKED = Gauge("moodle_sink_parked", "Writes parked until they can be made, by reason", ["tenant", "reason"])
LAG = Gauge("moodle_sink_consumer_lag", "Messages not yet consumed, per partition", ["topic", "partition"])
FLUSH_SECONDS = Histogram("moodle_sink_flush_seconds", "Time to provision one accumulated batch and commit it",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
FLUSH_FAILURES = Counter("moodle_sink_flush_failures_total", "Flushes abandoned and retried, by error", ["error"])
TENANT_REFUSED = Gauge("moodle_sink_tenant_refused",
                       "1 while Moodle refuses a tenant's token (invalid, or missing a function or capability)",
                       ["tenant"])
