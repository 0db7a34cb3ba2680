"""Per-org API credits (rolling 24 h), concurrency and sub-concurrency (docs/zoho-api.md#credits-and-concurrency)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from stack.zoho_emulator.clock import Clock
from stack.zoho_emulator.config import OrgConfig
from stack.zoho_emulator.errors import too_many_requests

WINDOW_S = 24 * 3600
BUCKET_S = 60  # minute buckets keep the ledger at <= 1440 entries whatever the traffic

CREDITS_EXCEEDED = "The API credit limit of the org for the 24 hour period is exceeded."
CONCURRENCY_EXCEEDED = "The concurrency limit of the user for the app is exceeded."
SUB_CONCURRENCY_EXCEEDED = "The sub-concurrency limit of the user for the app is exceeded."


def write_cost(records: int) -> int:
    """Insert/update/upsert: one credit per ten records, at least one."""
    return max(1, math.ceil(records / 10))


# Zoho's credit table (api-limits): every call costs 1 except these.
DELETED_RECORDS_COST = 2
CVID_LIST_COST = 3


def call_cost(operation: str, records: int, cvid: bool = False) -> int:
    """Credits one call costs: writes by their record count; a list with `cvid` 3; deleted records 2; else 1
    (a list or search page of up to 200 records is one call, one credit)."""
    if operation in ("insert", "update", "upsert"):
        return write_cost(records)
    if operation == "deleted":
        return DELETED_RECORDS_COST
    if operation == "list" and cvid:
        return CVID_LIST_COST
    return 1


class OrgLimits:
    def __init__(self, org: OrgConfig, clock: Clock) -> None:
        self.org = org
        self.clock = clock
        self._buckets: OrderedDict[int, int] = OrderedDict()
        self.in_flight = 0
        self.heavy_in_flight = 0

    def reset(self) -> None:
        self._buckets.clear()

    def used(self) -> int:
        horizon = int((self.clock.now() - WINDOW_S) // BUCKET_S)
        while self._buckets and next(iter(self._buckets)) <= horizon:
            self._buckets.popitem(last=False)
        return sum(self._buckets.values())

    def check_credits(self, cost: int) -> None:
        if self.used() + cost > self.org.daily_credits:
            raise too_many_requests(CREDITS_EXCEEDED)

    def charge(self, cost: int) -> None:
        bucket = int(self.clock.now() // BUCKET_S)
        self._buckets[bucket] = self._buckets.get(bucket, 0) + cost
        self._buckets.move_to_end(bucket)

    def remaining(self) -> int:
        return max(0, self.org.daily_credits - self.used())

    def remaining_header(self) -> str | None:
        """X-API-CREDITS-REMAINING appears only once half of the credits are used."""
        used = self.used()
        return str(max(0, self.org.daily_credits - used)) if used * 2 >= self.org.daily_credits else None

    @contextmanager
    def slot(self, heavy: bool) -> Iterator[None]:
        if self.in_flight >= self.org.concurrency:
            raise too_many_requests(CONCURRENCY_EXCEEDED)
        if heavy and self.heavy_in_flight >= self.org.sub_concurrency:
            raise too_many_requests(SUB_CONCURRENCY_EXCEEDED)
        self.in_flight += 1
        self.heavy_in_flight += heavy
        try:
            yield
        finally:
            self.in_flight -= 1
            self.heavy_in_flight -= heavy
