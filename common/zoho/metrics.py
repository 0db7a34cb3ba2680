"""Prometheus metrics of the Zoho client, on the default registry so the sink's and the puller's /metrics show them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CALLS = Counter("zoho_client_calls_total", "HTTP calls to Zoho CRM by operation and status",
                ["tenant", "operation", "status"])
CREDITS = Counter("zoho_client_credits_used_total", "API credits spent, from the documented cost of each call",
                  ["tenant"])
CREDITS_REMAINING = Gauge("zoho_client_credits_remaining", "Last X-API-CREDITS-REMAINING (sent once >= 50% used)",
                          ["tenant"])
RECORDS_PER_CALL = Histogram("zoho_client_records_per_call", "Records sent per write call", ["operation"],
                             buckets=(1, 2, 5, 10, 20, 50, 100))
RETRIES = Counter("zoho_client_retries_total", "Retried calls by reason", ["tenant", "operation", "reason"])
RATE_LIMITED = Counter("zoho_client_rate_limited_total", "429 TOO_MANY_REQUESTS answers", ["tenant"])
TOKEN_REFRESHES = Counter("zoho_client_token_refreshes_total", "Access-token requests by outcome",
                          ["tenant", "outcome"])
RECORD_OUTCOMES = Counter("zoho_client_record_outcomes_total", "Per-record write results (created/updated/error code)",
                          ["tenant", "operation", "outcome"])
