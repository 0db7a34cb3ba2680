"""Records waiting for a dependency: one table key per record, indexed in memory per group.

A stage keeps its waiting records by group (the stage's key: tenant/student, tenant/Moodle user), each under
its own key `<group>\x1f<event id>`, so adding, releasing or expiring one writes that record alone. An item is
`{"k": kind, "v": packed event, "m": missing, "at": ms}`; a released item keeps `"rb"` (the input that released
it) and `"ra"` for RELEASED_KEEP_MS. What the stage asks of them (how many wait per tenant for the cap, who
waits on which reference record, which group is due for expiry next, which records a group holds) lives only
in memory and is rebuilt from the table whenever partitions are assigned, so no list or counter is ever
rewritten in a table.
"""

from __future__ import annotations

import heapq
from typing import Any, NamedTuple

from schemas.deadletter import DeadLetter, FieldError, dead_letter
from schemas.keys import StateKey, tenant_of
from streams.events import CanonicalEvent
from streams.joins import ref_waits
from streams.state import State

# A released record stays, marked with the input that released it, for this long: if the worker dies after
# its table writes reached the broker but before its outputs did, that input is read again after the restart,
# and the mark says what to send again. Marks are dropped by ticks judged by their send time (streams/expiry.py),
# so a worker's downtime does not count: the mark need only outlast the commit of its input, and faust commits
# every second.
RELEASED_KEEP_MS = 60_000
_SEP = "\x1f"

Item = dict[str, Any]


def entry(kind: str, event: list[Any], missing: list[str], now_ms: int) -> Item:
    return {"k": kind, "v": event, "m": missing, "at": now_ms}


def position(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def is_released(item: Item) -> bool:
    return "rb" in item


def released(item: Item, by: str, now_ms: int) -> Item:
    return {**item, "rb": by, "ra": now_ms}


def _identity(v: list[Any]) -> tuple[str, str, object, object]:
    # A teacher's grade and the IV's regrade of the same attempt both wait: each names its own grader, and the
    # regrade does not carry the teacher's name.
    payload = v[10] or {}
    return v[0], v[2], payload.get("attempt_number"), payload.get("grader_role")


class _Summary(NamedTuple):
    """What the index keeps in memory of one stored record: a few hundred bytes, as a college can have hundreds
    of thousands waiting (the identity as its hash, checked against the stored record on a match; the sets of
    reference keys shared between records)."""

    identity: int
    version: int
    released: bool
    refs: frozenset[str]
    due: int


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


class Waiting:
    """One stage's waiting records: stored in `state` (one key each), indexed for the partitions owned now."""

    def __init__(self, state: State, expiry_ms: int) -> None:
        self.state = state
        self.expiry_ms = expiry_ms
        self._groups: dict[str, dict[str, _Summary]] = {}
        self._counts: dict[tuple[str, int], int] = {}
        self._waiters: dict[tuple[int, str], set[str]] = {}
        self._refs_of: dict[str, set[str]] = {}
        self._heaps: dict[int, list[tuple[int, str]]] = {}
        self._due: dict[str, int] = {}
        # One copy of each distinct set of reference keys (as many as combinations of classes and courses).
        self._refsets: dict[frozenset[str], frozenset[str]] = {}

    # ---- what the stage asks

    def waiting(self, tenant: str, partition: int) -> int:
        """Records of `tenant` waiting (not released) in `partition`: the cap counts these."""
        return self._counts.get((tenant, partition), 0)

    def in_partition(self, partition: int) -> int:
        return sum(n for (_, p), n in self._counts.items() if p == partition)

    def live(self, group: str) -> int:
        return sum(1 for s in self._groups.get(group, {}).values() if not s.released)

    def waiters(self, partition: int, ref_key: str) -> set[str]:
        """The groups holding records (waiting, or released lately) that named this reference record missing."""
        return self._waiters.get((partition, ref_key), set())

    def items(self, group: str, partition: int, naming: frozenset[str] | None = None) -> list[tuple[str, Item]]:
        """(key, item) of every record the group holds, in the order they were first stored; with `naming`, only
        those that named one of these reference records missing (the others are not even read)."""
        out = []
        for key, summary in list(self._groups.get(group, {}).items()):
            if naming is not None and naming.isdisjoint(summary.refs):
                continue
            item = self.state.get(key, partition)
            if item is not None:
                out.append((key, item))
        return out

    def due(self, partition: int, now_ms: int) -> list[str]:
        """Groups of `partition` with a record to expire or prune by now; `settle` reschedules each."""
        heap = self._heaps.get(partition) or []
        out = []
        while heap and heap[0][0] <= now_ms:
            due, group = heapq.heappop(heap)
            if self._due.get(group) == due:
                del self._due[group]
                out.append(group)
        return out

    # ---- changes

    def add(self, group: str, partition: int, kind: str, event: list[Any], missing: list[str], now_ms: int) -> None:
        """Store a waiting record, replacing an older wait for the same entity (the newer version is the one that
        matters; nothing is stored when a newer version already waits)."""
        identity, version = _identity(event), event[7]
        hashed = hash(identity)
        for key, summary in list(self._groups.get(group, {}).items()):
            if summary.released or summary.identity != hashed:
                continue
            stored = self.state.get(key, partition)
            if stored is not None and _identity(stored["v"]) == identity:
                if summary.version > version:
                    return
                self.drop(group, partition, key)
        self.put(group, partition, f"{group}{_SEP}{event[9]}", entry(kind, event, missing, now_ms))

    def put(self, group: str, partition: int, key: str, item: Item) -> None:
        """Store a new or changed record of `group`."""
        self.state.set(key, item, partition)
        self._index(group, partition, key, item)

    def drop(self, group: str, partition: int, key: str) -> None:
        self.state.set(key, None, partition)
        summaries = self._groups.get(group, {})
        old = summaries.pop(key, None)
        if old is not None and not old.released:
            self._count(group, partition, -1)
        if not summaries:
            self._groups.pop(group, None)
        self.settle(group, partition)

    def settle(self, group: str, partition: int) -> None:
        """Bring the group's reference waits and next due time up to date with its records."""
        summaries = self._groups.get(group, {})
        refs = set().union(*(s.refs for s in summaries.values())) if summaries else set()
        before = self._refs_of.pop(group, set())
        for ref in before - refs:
            groups = self._waiters.get((partition, ref))
            if groups is not None:
                groups.discard(group)
                if not groups:
                    del self._waiters[(partition, ref)]
        for ref in refs - before:
            self._waiters.setdefault((partition, ref), set()).add(group)
        if refs:
            self._refs_of[group] = refs
        if not summaries:
            self._due.pop(group, None)
            return
        due = min(s.due for s in summaries.values())
        if due < self._due.get(group, due + 1):
            self._due[group] = due
            heapq.heappush(self._heaps.setdefault(partition, []), (due, group))

    def _index(self, group: str, partition: int, key: str, item: Item) -> None:
        summaries = self._groups.setdefault(group, {})
        old = summaries.get(key)
        gone = is_released(item)
        tenant = tenant_of(group)
        refs = frozenset(StateKey(tenant, *ref).text() for ref in ref_waits(item["m"]))
        summaries[key] = _Summary(
            identity=hash(_identity(item["v"])), version=item["v"][7], released=gone,
            refs=self._refsets.setdefault(refs, refs),
            due=int(item["ra"]) + RELEASED_KEEP_MS if gone else int(item["at"]) + self.expiry_ms)
        was_waiting = old is not None and not old.released
        if was_waiting != (not gone):
            self._count(group, partition, -1 if was_waiting else 1)
        self.settle(group, partition)

    def _count(self, group: str, partition: int, delta: int) -> None:
        slot = (tenant_of(group), partition)
        self._counts[slot] = max(0, self._counts.get(slot, 0) + delta)

    def rebuild(self, partition_of: Any) -> None:
        """After partitions were assigned and their tables recovered: index exactly what is stored for the
        partitions this worker owns now (`partition_of(group)`: where a group lives)."""
        for mapping in (self._groups, self._counts, self._waiters, self._refs_of, self._heaps, self._due,
                        self._refsets):
            mapping.clear()
        for key, value in self.state.items():
            if isinstance(value, list):
                # A group's records as one list (versions before one key per record): moved to their own keys.
                partition = partition_of(key)
                self.state.set(key, None, partition)
                for item in value:
                    self.put(key, partition, f"{key}{_SEP}{item['v'][9]}", item)
                continue
            group = key.rpartition(_SEP)[0]
            self._index(group, partition_of(group), key, value)
