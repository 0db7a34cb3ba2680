"""A token bucket per tenant: the control plane answers 429 with Retry-After when one runs dry."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = burst
        # One bucket per configured tenant: bounded by the tenants file, not by callers.
        self._buckets: dict[str, _Bucket] = {}

    def take(self, tenant: str) -> float:
        """0 if the call may go ahead, else the seconds until it may."""
        now = time.monotonic()
        bucket = self._buckets.setdefault(tenant, _Bucket(float(self.burst), now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
