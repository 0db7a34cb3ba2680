"""Records waiting for a dependency, scraped from each streams worker's `/metrics` page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

METRIC = "streams_waiting_records"


@dataclass
class WorkerWaiting:
    url: str
    # Summed over the partitions the worker owns, per stage (moodle, person).
    by_stage: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.by_stage.values())


def scrape(url: str, timeout: float = 3.0) -> WorkerWaiting:
    try:
        resp = httpx.get(url, timeout=timeout)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        return WorkerWaiting(url, error=f"unreachable: {exc}")
    stages: dict[str, int] = defaultdict(int)
    for family in text_string_to_metric_families(resp.text):
        if family.name != METRIC:
            continue
        for sample in family.samples:
            stages[sample.labels.get("stage", "?")] += int(sample.value)
    return WorkerWaiting(url, dict(sorted(stages.items())))
