"""Prometheus metrics of the sink itself; the client's (calls, credits, retries, 429s) are in metrics.py."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = Counter("zoho_sink_outcomes_total", "Records by outcome", ["tenant", "module", "action"])
SKIPPED = Counter("zoho_sink_events_skipped_total", "Consumed events the sink does not write, by reason",
                  ["reason"])
TRUNCATED = Counter("zoho_sink_values_truncated_total", "Values cut to a Zoho field limit", ["module", "field"])
VALUES_LEFT_OUT = Counter("zoho_sink_values_left_out_total", "Values Zoho would reject, left out of the record",
                          ["module", "field"])
REPAIRS = Counter("zoho_sink_subform_repairs_total", "Records whose subform rows were read back and corrected",
                  ["tenant", "module"])
LAG = Gauge("zoho_sink_consumer_lag", "Messages not yet consumed, per partition", ["topic", "partition"])
FLUSH_SECONDS = Histogram("zoho_sink_flush_seconds", "Time to write one accumulated batch and commit it",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
FLUSH_FAILURES = Counter("zoho_sink_flush_failures_total", "Flushes abandoned and retried, by error", ["error"])
TENANT_REFUSED = Gauge("zoho_sink_tenant_refused", "1 while Zoho refuses a tenant's writes (scope or permission)",
                       ["tenant"])
