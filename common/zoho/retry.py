"""Exponential backoff with full jitter (delay uniform in [0, min(cap, base * 2^(attempt-1))])."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float
    cap_s: float

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number `attempt` (1 = after the first failure)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling)
