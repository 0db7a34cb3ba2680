"""Records waiting for a dependency: one table key per record, indexed in memory per group.

A stage keeps its waiting records by group (the stage's key: tenant/student, tenant/Moodle user), each under
its own key `<group>\x1f<event id>`, so adding, releasing or expiring one writes that record alone. An item is
`{"k": kind, "v": packed event, "m": missing when it was stored, "at": ms}`; a released record is deleted (a
stage writes its state only once its outputs are stored, streams/batches.py). What the stage asks of them (how
many wait per tenant for the cap, who waits on which reference record now, which group is due for expiry next,
which records a group holds) lives only in memory and is rebuilt from the table whenever partitions are
assigned, so no list or counter is ever written to a table, and a retry that finds something else missing
changes only the index: a record is written when it starts waiting and deleted when it stops.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, NamedTuple

from schemas.deadletter import DeadLetter, FieldError, dead_letter
from schemas.keys import StateKey, tenant_of
from streams.events import CanonicalEvent
from streams.joins import ref_waits
from streams.state import State

_SEP = "\x1f"

Item = dict[str, Any]
# Whether something a waiting record lacked (what, group, partition) exists now.
Satisfied = Callable[[str, str, int], bool]
# Whether a retry of a record lacking (reference records by state key, the rest) could release it now.
Ready = Callable[[frozenset[str], frozenset[str]], bool]


def entry(kind: str, event: list[Any], missing: list[str], now_ms: int) -> Item:
    return {"k": kind, "v": event, "m": missing, "at": now_ms}


def _identity(v: list[Any]) -> tuple[str, str, object, object]:
    # A teacher's grade and the IV's regrade of the same attempt both wait: each names its own grader, and the
    # regrade does not carry the teacher's name.
    payload = v[10] or {}
    return v[0], v[2], payload.get("attempt_number"), payload.get("grader_role")


class _Summary(NamedTuple):
    """What the index keeps in memory of one stored record: a few hundred bytes, as a college can have hundreds
    of thousands waiting (the identity as its hash, checked against the stored record on a match; the sets of
    keys shared between records). What it lacks: `refs`, reference records by state key (who waits on which
    is indexed across groups), and `local`, the rest as the joins name it ("student", "registration:<program>")."""

    identity: int
    version: int
    refs: frozenset[str]
    local: frozenset[str]
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
        # Groups to retry once a stage runs on their partition: after a rebuild, records whose stored missing list
        # names something that exists now (it arrived, and what they lack next was kept in memory only).
        self._stale: dict[int, set[str]] = {}

    # ---- what the stage asks

    def waiting(self, tenant: str, partition: int) -> int:
        """Records of `tenant` waiting in `partition`: the cap counts these."""
        return self._counts.get((tenant, partition), 0)

    def in_partition(self, partition: int) -> int:
        return sum(n for (_, p), n in self._counts.items() if p == partition)

    def live(self, group: str) -> int:
        return len(self._groups.get(group, ()))

    def waiters(self, partition: int, ref_key: str) -> set[str]:
        """The groups holding records that lack this reference record now."""
        return self._waiters.get((partition, ref_key), set())

    def items(self, group: str, partition: int, naming: frozenset[str] | None = None,
              ready: Ready | None = None) -> list[tuple[str, Item]]:
        """(key, item) of every record the group holds, in the order they were first stored; with `naming`, only
        those that lack one of these now (reference records by state key, or what the joins name, such as
        "student"), and with `ready`, only those it says a retry could release: the others are not even read.
        A record passed over still lacks something it is indexed under, whose arrival asks again."""
        out = []
        for key, summary in list(self._groups.get(group, {}).items()):
            if naming is not None and naming.isdisjoint(summary.refs) and naming.isdisjoint(summary.local):
                continue
            if ready is not None and not ready(summary.refs, summary.local):
                continue
            item = self.state.get(key, partition)
            if item is not None:
                out.append((key, item))
        return out

    def due(self, partition: int, now_ms: int) -> list[str]:
        """Groups of `partition` with a record to expire by now; `settle` reschedules each."""
        heap = self._heaps.get(partition) or []
        out = []
        while heap and heap[0][0] <= now_ms:
            due, group = heapq.heappop(heap)
            if self._due.get(group) == due:
                del self._due[group]
                out.append(group)
        return out

    def stale(self, partition: int) -> set[str]:
        """The groups of `partition` to retry since the last rebuild (each is returned once)."""
        return self._stale.pop(partition, set())

    # ---- changes

    def _same(self, group: str, partition: int, event: list[Any]) -> tuple[str, _Summary] | None:
        """The record of the group waiting for the same entity (attempt, grader) as `event`, if any."""
        identity = _identity(event)
        hashed = hash(identity)
        for key, summary in self._groups.get(group, {}).items():
            if summary.identity != hashed:
                continue
            stored = self.state.get(key, partition)
            if stored is not None and _identity(stored["v"]) == identity:
                return key, summary
        return None

    def holds(self, group: str, partition: int, event: list[Any]) -> bool:
        """Whether a version of this record already waits: storing it replaces that one, so no cap applies (an
        input read again after a restart must not be refused as one record too many)."""
        return self._same(group, partition, event) is not None

    def add(self, group: str, partition: int, kind: str, event: list[Any], missing: list[str], now_ms: int) -> None:
        """Store a waiting record, replacing an older wait for the same entity (the newer version is the one that
        matters; nothing is stored when a newer version already waits)."""
        same = self._same(group, partition, event)
        if same is not None:
            key, summary = same
            if summary.version > event[7]:
                return
            self.drop(group, partition, key)
        key = f"{group}{_SEP}{event[9]}"
        item = entry(kind, event, missing, now_ms)
        self.state.set(key, item, partition)
        self._index(group, partition, key, item)

    def lacks(self, group: str, partition: int, key: str, missing: list[str]) -> None:
        """A retried record lacks something else now: only the index changes (the stored list is a hint for a
        rebuild, which retries what it no longer describes)."""
        summary = self._groups.get(group, {}).get(key)
        if summary is None:
            return
        refs, local = self._lacking(group, missing)
        if refs != summary.refs or local != summary.local:
            self._groups[group][key] = summary._replace(refs=refs, local=local)
            self.settle(group, partition)

    def drop(self, group: str, partition: int, key: str) -> None:
        """Delete a record: released, expired or replaced."""
        self.state.set(key, None, partition)
        summaries = self._groups.get(group, {})
        if summaries.pop(key, None) is not None:
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

    def _lacking(self, group: str, missing: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        """(reference records by state key, the rest), each set shared with the records that lack the same."""
        waits = ref_waits(missing)
        tenant = tenant_of(group)
        refs = frozenset(StateKey(tenant, *ref).text() for ref in waits)
        named = {f"{kind}:{ident}" for kind, ident in waits}
        local = frozenset(m for m in missing if m not in named)
        return self._refsets.setdefault(refs, refs), self._refsets.setdefault(local, local)

    def _index(self, group: str, partition: int, key: str, item: Item) -> None:
        summaries = self._groups.setdefault(group, {})
        if key not in summaries:
            self._count(group, partition, 1)
        refs, local = self._lacking(group, item["m"])
        summaries[key] = _Summary(identity=hash(_identity(item["v"])), version=item["v"][7], refs=refs,
                                  local=local, due=int(item["at"]) + self.expiry_ms)
        self.settle(group, partition)

    def _count(self, group: str, partition: int, delta: int) -> None:
        slot = (tenant_of(group), partition)
        self._counts[slot] = max(0, self._counts.get(slot, 0) + delta)

    def rebuild(self, satisfied: Satisfied | None = None) -> None:
        """After partitions were assigned and their tables recovered: index exactly what is stored for the
        partitions this worker owns now. `satisfied(what, group, partition)`: whether something a record lacked
        (a reference record's state key, or a join's name such as "student") exists now; a record whose stored
        missing list names one is marked for a retry (`stale`), as what it lacks next was known only in memory."""
        for mapping in (self._groups, self._counts, self._waiters, self._refs_of, self._heaps, self._due,
                        self._refsets, self._stale):
            mapping.clear()
        for partition, key, value in self.state.items():
            if isinstance(value, list):
                # A group's records as one list (versions before one key per record): moved to their own keys.
                self.state.set(key, None, partition)
                for item in value:
                    self._restore(key, partition, f"{key}{_SEP}{item['v'][9]}", item, satisfied, moved=True)
                continue
            self._restore(key.rpartition(_SEP)[0], partition, key, value, satisfied, moved=False)

    def _restore(self, group: str, partition: int, key: str, item: Item, satisfied: Satisfied | None, *,
                 moved: bool) -> None:
        if "rb" in item:
            # Released, kept by versions before outputs were stored ahead of state: nothing waits any more.
            self.state.set(key, None, partition)
            return
        if moved:
            self.state.set(key, item, partition)
        self._index(group, partition, key, item)
        summary = self._groups[group][key]
        if satisfied is not None and any(satisfied(what, group, partition) for what in summary.refs | summary.local):
            self._stale.setdefault(partition, set()).add(group)
