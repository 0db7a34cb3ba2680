"""Prometheus metrics of the Zoho puller (beside the Zoho client's own, on the same /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RECORDS = Counter("zoho_puller_records_total", "Records pulled and appended to raw.zoho", ["tenant", "module"])
DELETIONS = Counter("zoho_puller_deletions_total", "Deletions found and appended to raw.zoho", ["tenant", "module"])
CALLS = Counter("zoho_puller_calls_total", "List and deleted-records calls", ["tenant", "module"])
PAUSED = Counter("zoho_puller_budget_pauses_total", "Pulls stopped because the day's read budget was spent",
                 ["tenant"])
RUNS = Counter("zoho_puller_runs_total", "Pull runs by outcome", ["tenant", "status"])
LAST_SUCCESS = Gauge("zoho_puller_last_success_timestamp_seconds", "When a tenant's last pull finished",
                     ["tenant"])
