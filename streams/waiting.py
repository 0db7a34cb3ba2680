"""Records waiting for a dependency: stored per key in a stage table, indexed in memory.

An item is `{"k": kind, "v": packed event, "m": missing, "at": ms}`; a released item keeps `"rb"` (the input
that released it) and `"ra"` for RELEASED_KEEP_MS. The `Index` (counts per tenant for the cap, who waits on
which reference record, when each key next needs expiry) lives only in memory and is rebuilt from the
table whenever partitions are assigned, so no list of waiters or counter is ever rewritten in a table.
"""

from __future__ import annotations

import heapq
from typing import Any

from schemas.deadletter import DeadLetter, FieldError, dead_letter
from schemas.keys import StateKey
from streams.events import CanonicalEvent
from streams.joins import ref_waits

# A released record stays, marked with the input that released it, for this long: if the worker dies after
# its table writes reached the broker but before its outputs did, that input is read again after the restart,
# and the mark says what to send again. Marks are dropped by ticks judged by their send time (streams/expiry.py),
# so a worker's downtime does not count: the mark need only outlast the commit of its input, and faust commits
# every second. Short, because until then the mark (with its event) is rewritten with its key's other records.
RELEASED_KEEP_MS = 60_000


def entry(kind: str, event: list[Any], missing: list[str], now_ms: int) -> dict[str, Any]:
    return {"k": kind, "v": event, "m": missing, "at": now_ms}


def position(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def is_released(item: dict[str, Any]) -> bool:
    return "rb" in item


def live(items: list[dict[str, Any]]) -> int:
    """How many records still wait (not released)."""
    return sum(1 for item in items if "rb" not in item)


def released(item: dict[str, Any], by: str, now_ms: int) -> dict[str, Any]:
    return {**item, "rb": by, "ra": now_ms}


def _identity(v: list[Any]) -> tuple[str, str, object, object]:
    # A teacher's grade and the IV's regrade of the same attempt both wait: each names its own grader, and the
    # regrade does not carry the teacher's name.
    payload = v[10] or {}
    return v[0], v[2], payload.get("attempt_number"), payload.get("grader_role")


def add(items: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Append, replacing an older wait for the same entity (the newer version is the one that matters)."""
    kept = []
    ident = _identity(new["v"])
    for item in items:
        if not is_released(item) and _identity(item["v"]) == ident:
            if item["v"][7] > new["v"][7]:
                return items
            continue
        kept.append(item)
    return [*kept, new]


def letter(event: CanonicalEvent, reason: str, missing: list[str], message: str) -> DeadLetter:
    return dead_letter(
        writer="streams",
        subject=event.event_id,
        reason=reason,
        message=message,
        tenant=event.tenant,
        source=event.origin,
        kind=event.entity,
        raw=event.raw,
        received_at_ms=event.received_at_ms,
        body=event.to_avro(),
        errors=tuple(FieldError(dep, "not found") for dep in missing),
        record_index=event.record_index,
        record_id=event.entity_id,
        delivery_id=event.delivery_id,
        content_type="avro/binary",
        occurred_at_ms=event.occurred_at_ms,
    )


class Index:
    """One stage's waiting records, in memory, for the partitions this worker owns."""

    def __init__(self, expiry_ms: int) -> None:
        self.expiry_ms = expiry_ms
        self.counts: dict[tuple[str, int], int] = {}
        self._waiters: dict[tuple[int, str], set[str]] = {}
        self._refs_of: dict[str, set[str]] = {}
        self._heaps: dict[int, list[tuple[int, str]]] = {}
        self._due: dict[str, int] = {}

    def clear(self) -> None:
        self.counts.clear()
        self._waiters.clear()
        self._refs_of.clear()
        self._heaps.clear()
        self._due.clear()

    def waiting(self, tenant: str, partition: int) -> int:
        return self.counts.get((tenant, partition), 0)

    def in_partition(self, partition: int) -> int:
        return sum(n for (_, p), n in self.counts.items() if p == partition)

    def waiters(self, partition: int, ref_key: str) -> set[str]:
        """The keys holding records (waiting, or released lately) that named this reference record missing."""
        return self._waiters.get((partition, ref_key), set())

    def _due_of(self, item: dict[str, Any]) -> int:
        return int(item["ra"]) + RELEASED_KEEP_MS if is_released(item) else int(item["at"]) + self.expiry_ms

    def update(self, key: str, tenant: str, partition: int, old: list[dict[str, Any]],
               new: list[dict[str, Any]]) -> None:
        """`key`'s items changed from `old` to `new` (both as stored)."""
        delta = live(new) - live(old)
        if delta:
            slot = (tenant, partition)
            self.counts[slot] = max(0, self.counts.get(slot, 0) + delta)
        refs = {StateKey(tenant, *ref).text() for item in new for ref in ref_waits(item["m"])}
        before = self._refs_of.pop(key, set())
        for ref in before - refs:
            keys = self._waiters.get((partition, ref))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._waiters[(partition, ref)]
        for ref in refs - before:
            self._waiters.setdefault((partition, ref), set()).add(key)
        if refs:
            self._refs_of[key] = refs
        if not new:
            self._due.pop(key, None)
            return
        due = min(self._due_of(item) for item in new)
        if due < self._due.get(key, due + 1):
            self._due[key] = due
            heapq.heappush(self._heaps.setdefault(partition, []), (due, key))

    def due(self, partition: int, now_ms: int) -> list[str]:
        """Keys of `partition` with an item to expire or prune by now (each is rescheduled by its `update`)."""
        heap = self._heaps.get(partition) or []
        out = []
        while heap and heap[0][0] <= now_ms:
            due, key = heapq.heappop(heap)
            if self._due.get(key) == due:
                del self._due[key]
                out.append(key)
        return out
