"""Waiting records kept in memory only: what is written, when, and the commit limits that keep them re-readable.

The table here is a dict with the stage table's interface (get/set/items/forget): what is under test is which
writes `Waiting` asks for and which input offsets it says must not be committed past; the table itself, RocksDB
and its changelog, is exercised by tests/streams with a real broker.
"""

from __future__ import annotations

from typing import Any, cast

from streams.state import State
from streams.waiting import Waiting


class Table:
    def __init__(self) -> None:
        self.rows: dict[tuple[int, str], Any] = {}
        self.writes: list[tuple[str, bool]] = []  # (key, value or deletion)

    def get(self, key: str, partition: int) -> Any:
        return self.rows.get((partition, key))

    def set(self, key: str, value: Any, partition: int) -> None:
        self.writes.append((key, value is not None))
        if value is None:
            self.rows.pop((partition, key), None)
        else:
            self.rows[(partition, key)] = value

    def items(self) -> list[tuple[int, str, Any]]:
        return [(p, k, v) for (p, k), v in self.rows.items()]

    def forget(self) -> None:
        pass


def grade(event_id: str, attempt: int = 1, version: int = 1) -> list[Any]:
    event: list[Any] = [None] * 15
    event[0], event[2], event[7], event[9] = "grade", f"g-{event_id}", version, event_id
    event[10] = {"attempt_number": attempt, "grader_role": "teacher"}
    return event


def waiting(hold_ms: int = 30_000, hold_max: int = 100) -> tuple[Waiting, Table]:
    table = Table()
    return Waiting(cast(State, table), 10**9, hold_ms=hold_ms, hold_max=hold_max), table


def test_a_record_waiting_with_its_offset_is_held_and_holds_its_commit_back() -> None:
    pending, table = waiting()
    pending.add("t/s1", 2, "grade", grade("a"), ["student"], 1_000, offset=40)
    pending.add("t/s2", 2, "grade", grade("b"), ["student"], 1_000, offset=41)
    assert table.writes == []
    assert pending.limits() == {2: 40}
    assert [key for key, _ in pending.items("t/s1", 2)] == ["t/s1\x1fa"]
    # Released: gone without a write, and the commit may pass its offset.
    pending.drop("t/s1", 2, "t/s1\x1fa")
    assert table.writes == []
    assert pending.limits() == {2: 41}


def test_what_waits_too_long_or_beyond_the_count_is_written_oldest_first() -> None:
    pending, table = waiting(hold_ms=5_000, hold_max=1)
    for n, at in enumerate((1_000, 2_000, 9_000)):
        pending.add(f"t/s{n}", 0, "grade", grade(str(n)), ["student"], at, offset=10 + n)
    pending.spill(now_ms=6_500)
    # s0: held 5.5 s; then two held are one over the count: s1 as well (4.5 s), not s2.
    assert table.writes == [("t/s0\x1f0", True), ("t/s1\x1f1", True)]
    assert pending.limits() == {0: 12}
    # A written record is deleted from the table when it is released.
    pending.drop("t/s0", 0, "t/s0\x1f0")
    assert table.writes[-1] == ("t/s0\x1f0", False)


def test_without_an_offset_or_replacing_a_stored_record_it_is_written_at_once() -> None:
    pending, table = waiting()
    pending.add("t/s1", 1, "grade", grade("a", version=1), ["student"], 1_000)
    assert table.writes == [("t/s1\x1fa", True)]
    # A newer version of the same attempt replaces it: its input may lie below a commit that passed the stored one.
    pending.add("t/s1", 1, "grade", grade("a", version=2), ["student"], 2_000, offset=7)
    assert table.writes[-1] == ("t/s1\x1fa", True) and table.rows[(1, "t/s1\x1fa")]["v"][7] == 2
    assert pending.limits() == {}


def test_a_failed_batch_holds_again_what_it_spilled_and_a_rebalance_drops_what_is_held() -> None:
    pending, table = waiting(hold_ms=1_000)
    pending.add("t/s1", 3, "grade", grade("a"), ["student"], 1_000, offset=5)
    assert pending.limits() == {3: 5}
    pending.spill(now_ms=3_000)
    # The batch's state write failed (its changes discarded): the record is held again, its commit still held back.
    table.rows.clear()
    pending.rebuild(keep_held=True)
    assert pending.limits() == {3: 5} and pending.held() == 1
    assert [key for key, _ in pending.items("t/s1", 3)] == ["t/s1\x1fa"]
    # Partitions assigned anew: read again from their held-back commits, so nothing is kept.
    pending.rebuild()
    assert pending.held() == 0 and pending.limits() == {} and pending.items("t/s1", 3) == []
