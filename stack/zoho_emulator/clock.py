"""A settable clock, so tests can expire tokens and roll credit windows without waiting."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.now()

    def reset(self) -> None:
        self.offset = 0.0

    def iso(self, at: float | None = None) -> str:
        """Zoho's DateTime format: seconds precision with an explicit offset."""
        moment = datetime.fromtimestamp(self.now() if at is None else at, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
