"""The stage state's cache stays within its bounds in entries and in bytes, and never drops an unwritten change."""

from __future__ import annotations

from streams.state import ABSENT, Cache


def test_bounded_by_entries_least_recently_used_first() -> None:
    cache = Cache(max_entries=3, max_bytes=10**9)
    for n in range(3):
        cache.put((0, f"k{n}"), n, 10)
    assert cache.get((0, "k0")) == 0  # now the most recently used
    cache.put((0, "k3"), 3, 10)
    cache.trim()
    assert len(cache) == 3
    assert cache.get((0, "k1")) is ABSENT
    assert [cache.get((0, k)) for k in ("k0", "k2", "k3")] == [0, 2, 3]


def test_bounded_by_bytes_one_large_value_pushes_out_many_small() -> None:
    cache = Cache(max_entries=1000, max_bytes=1000)
    for n in range(50):
        cache.put((0, f"small{n}"), n, 10)
    assert cache.bytes == 500 and not cache.over()
    cache.put((1, "long waiting list"), ["..."], 900)
    cache.trim()
    assert cache.bytes <= 1000
    assert cache.get((1, "long waiting list")) == ["..."]
    assert len(cache) == 1 + 10  # the ten most recent small ones fit beside it


def test_unwritten_change_is_kept_past_the_bounds_until_written() -> None:
    cache = Cache(max_entries=2, max_bytes=100)
    cache.change((0, "a"), {"x": 1})
    cache.change((0, "b"), None)  # a deletion, also to be written
    cache.put((0, "c"), 3, 10)
    cache.put((0, "d"), 4, 10)
    cache.trim()
    assert cache.get((0, "a")) == {"x": 1} and cache.get((0, "b")) is None
    assert cache.get((0, "c")) is ABSENT and cache.get((0, "d")) is ABSENT
    cache.written((0, "a"), 200)  # its size is known once written: over the byte bound now
    cache.written((0, "b"), 1)
    cache.trim()
    assert cache.bytes <= 100 and len(cache) <= 2
    assert cache.get((0, "a")) is ABSENT


def test_rewriting_a_value_counts_its_bytes_once() -> None:
    cache = Cache(max_entries=10, max_bytes=10**6)
    cache.put((0, "k"), 1, 100)
    cache.change((0, "k"), 2)
    cache.written((0, "k"), 300)
    assert cache.bytes == 300
    cache.drop((0, "k"))
    assert cache.bytes == 0 and len(cache) == 0


def test_a_batch_of_changes_leaves_room_only_for_what_it_read_last() -> None:
    cache = Cache(max_entries=10, max_bytes=10**6)
    for n in range(1000):
        cache.change((0, f"changed{n}"), n)
    for n in range(5):
        cache.put((1, f"read{n}"), n, 10)
        cache.trim()
    # Over the bound while the changes are unwritten: whatever was read is dropped again, the changes stay.
    assert len(cache) == 1000 and cache.get((1, "read4")) is ABSENT
    for n in range(1000):
        cache.written((0, f"changed{n}"), 10)
    cache.trim()
    assert len(cache) == 10
    assert [cache.get((0, f"changed{n}")) for n in range(990, 1000)] == list(range(990, 1000))


def test_a_change_written_and_not_kept_leaves_nothing_behind() -> None:
    # Tables whose values are read back about once (waiting records) keep only what is not written yet.
    cache = Cache(max_entries=10, max_bytes=10**6)
    cache.change((0, "waiting"), {"v": 1})
    assert cache.get((0, "waiting")) == {"v": 1}
    cache.forget_dirty((0, "waiting"), 500)
    assert cache.get((0, "waiting")) is ABSENT
    assert len(cache) == 0 and cache.bytes == 0
