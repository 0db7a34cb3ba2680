"""A bounded log of the CRM calls the emulator answered, for tests to assert on."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    seq: int
    at: float
    tenant: str | None
    method: str
    path: str
    operation: str
    status: int
    code: str | None
    credits: int
    records: int


class CallLog:
    def __init__(self, size: int) -> None:
        self._calls: deque[Call] = deque(maxlen=size)
        self._seq = 0

    def add(self, **fields: Any) -> None:
        self._seq += 1
        self._calls.append(Call(seq=self._seq, **fields))

    def clear(self) -> None:
        self._calls.clear()

    def since(self, seq: int = 0, tenant: str | None = None) -> list[dict[str, Any]]:
        return [asdict(c) for c in self._calls if c.seq > seq and (tenant is None or c.tenant == tenant)]
