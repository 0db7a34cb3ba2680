"""A bounded log of the web-service calls the emulator answered, and counts per function, for tests to assert on."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    seq: int
    at: float
    tenant: str | None
    wsfunction: str | None
    # HTTP status (200 also for Moodle exceptions, as Moodle answers them), or None for a call left to time out.
    status: int | None
    exception: str | None
    errorcode: str | None
    # Items in the call's main list (users, courses, enrolments…); 0 for other calls.
    records: int
    fault: str | None


UNKNOWN = "(unknown)"


class CallLog:
    def __init__(self, size: int, functions: frozenset[str]) -> None:
        self._calls: deque[Call] = deque(maxlen=size)
        self._seq = 0
        # Counts survive the log's trimming, so they stay exact however long a benchmark runs; names a client made
        # up are counted together, so the counts stay bounded whatever is sent.
        self._functions = functions
        self._counts: Counter[tuple[str | None, str]] = Counter()

    def add(self, **fields: Any) -> None:
        self._seq += 1
        call = Call(seq=self._seq, **fields)
        self._calls.append(call)
        self._counts[(call.tenant, self.label(call.wsfunction))] += 1

    def label(self, function: str | None) -> str:
        return function if function in self._functions else UNKNOWN

    def clear(self) -> None:
        self._calls.clear()
        self._counts.clear()

    def since(self, seq: int = 0, tenant: str | None = None, wsfunction: str | None = None) -> list[dict[str, Any]]:
        return [asdict(c) for c in self._calls if c.seq > seq and (tenant is None or c.tenant == tenant)
                and (wsfunction is None or c.wsfunction == wsfunction)]

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (call_tenant, function), n in self._counts.items():
            if tenant is None or call_tenant == tenant:
                out[function] += n
        return dict(sorted(out.items()))
