"""Prometheus metrics of the projector, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPLIED = Counter("projector_events_applied_total", "Records applied to PostgreSQL", ["topic"])
EVENTS_REJECTED = Counter("projector_events_rejected_total", "Records dead-lettered by the projector", ["reason"])
BATCH_SECONDS = Histogram("projector_batch_seconds", "Time to decode and apply one batch, commit included",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
BATCH_SIZE = Histogram("projector_batch_records", "Records per applied batch",
                       buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000))
FENCED = Counter("projector_fenced_total", "Batches rolled back because another process had moved the offsets")
LAG = Gauge("projector_lag_records", "Records in the log not yet applied", ["topic", "partition"])
