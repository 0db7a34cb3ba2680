"""Stage state: a faust table (RocksDB, raw bytes, JSON values) behind an in-memory cache bounded in entries and
in bytes (a few large values, such as a long list of waiting records, must not hold the memory that thousands
of small ones would).

Reads hit the cache first. A write changes the cache and marks the key; when the batch ends, each marked
key is written once — to the partition's RocksDB and to the table's changelog, through the cheap send path
(`LibrdkafkaProducer.produce`) instead of faust's per-message future. Keys are stored in the partition of
the record being processed, as faust's own tables do, so faust recovers them from the changelog when the
partition moves. The changelog is read from its start on recovery (this path does not record faust's
persisted offsets); it is compacted, so that costs the live keys, not the history.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import faust
import orjson
import rocksdict
from faust.types import TP
from prometheus_client import Counter

from streams.producer import producer_of

ABSENT = object()

# Per partition and table (faust opens one RocksDB each): small write buffers, as the hot keys live in `State`'s
# cache anyway; the block cache and the memtables' total are the worker's, shared (streams/store.py).
ROCKSDB_OPTIONS = {"write_buffer_size": 2 * 1024**2, "max_write_buffer_number": 2,
                   "target_file_size_base": 8 * 1024**2}


Slot = tuple[int, str]  # (partition, key)

# What a cached value costs beyond its stored bytes (the slot, the key and the decoded objects' headers): so that
# many small values are bounded as surely as a few large ones.
ENTRY_OVERHEAD = 200


def _cached_size(key: bytes | str, stored: bytes | None) -> int:
    """What a cached value counts against its table's byte bound."""
    return ENTRY_OVERHEAD + len(key) + (0 if stored is None else len(stored))

# How well each table's cache serves its reads: `rocksdb` reads cost a lookup and a JSON decode each.
READS = Counter("streams_state_reads_total", "State table reads, by where the value was found", ["table", "source"])


Change = tuple[bytes, bytes | None, int]  # (key, value or None for a delete, partition)


def write(table: faust.types.TableT, changes: list[Change]) -> None:
    """A batch's changes, each partition's at once: one RocksDB write (and write-ahead-log append) instead of
    one per key. The log stays on: the changelog's compaction drops deletions after a day, so a deletion lost
    from RocksDB by a crash could not always be recovered from it."""
    batches: dict[int, rocksdict.WriteBatch] = {}
    for key, value, partition in changes:
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = rocksdict.WriteBatch(raw_mode=True)
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    for partition, batch in batches.items():
        partition_db(table, partition).write(batch)


def partition_db(table: faust.types.TableT, partition: int) -> Any:
    """faust's RocksDB of `partition` for `table`, read and written directly: faust's store API costs a codec
    lookup and a context-variable read per call."""
    store: Any = table.data
    return store._db_for_partition(partition)


async def send_changelog(app: faust.App, table: faust.types.TableT, records: list[Change]) -> None:
    """Changes to the table's changelog, through the cheap send path."""
    producer = producer_of(app)
    topic = table.changelog_topic.get_topic_name()
    for key, value, partition in records:
        await producer.produce(topic, key, value, partition)


class Cache:
    """Least recently used values, bounded in entries and in stored bytes; a changed value not yet written
    (dirty) is never dropped, and counts its bytes once it is written. Dirty values are kept apart from the
    clean ones, so trimming drops the oldest clean value at once however many changes a batch holds."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._clean: OrderedDict[Slot, Any] = OrderedDict()
        self._sizes: dict[Slot, int] = {}
        self.dirty: dict[Slot, Any] = {}

    def __len__(self) -> int:
        return len(self._clean) + len(self.dirty)

    def __contains__(self, slot: Slot) -> bool:
        return slot in self.dirty or slot in self._clean

    def get(self, slot: Slot) -> Any:
        """The cached value (`ABSENT` when not cached); a clean one is now the most recently used."""
        value = self.dirty.get(slot, ABSENT)
        if value is ABSENT:
            value = self._clean.get(slot, ABSENT)
            if value is not ABSENT:
                self._clean.move_to_end(slot)
        return value

    def put(self, slot: Slot, value: Any, size: int) -> None:
        """Cache a value as stored (`size` bytes), most recently used."""
        self.bytes += size - self._sizes.get(slot, 0)
        self._sizes[slot] = size
        self.dirty.pop(slot, None)
        self._clean[slot] = value
        self._clean.move_to_end(slot)

    def change(self, slot: Slot, value: Any) -> None:
        """A value to be written: kept until `written`."""
        self._clean.pop(slot, None)
        self.dirty[slot] = value

    def written(self, slot: Slot, size: int) -> None:
        """The change of `slot` is stored (`size` bytes): now a clean, most recently used value."""
        self.put(slot, self.dirty[slot], size)

    def forget_dirty(self, slot: Slot, size: int) -> None:
        """The change of `slot` is stored, and not kept (`size`: unused, as `written`'s)."""
        del self.dirty[slot]

    def over(self) -> bool:
        return len(self) > self.max_entries or self.bytes > self.max_bytes

    def trim(self) -> None:
        """Drop the least recently used clean values until within both bounds (or only dirty ones are left)."""
        while self._clean and self.over():
            slot, _ = self._clean.popitem(last=False)
            self.bytes -= self._sizes.pop(slot, 0)

    def drop(self, slot: Slot) -> None:
        del self._clean[slot]
        self.bytes -= self._sizes.pop(slot, 0)

    def clean_slots(self) -> list[Slot]:
        return list(self._clean)


class State:
    def __init__(self, app: faust.App, name: str, partitions: int, cache_entries: int, cache_bytes: int, *,
                 keeps_reads: bool = True) -> None:
        """`keeps_reads`: whether values read from RocksDB or written there stay cached. A table whose values are
        each read back about once (records waiting for a dependency: written when they start waiting, read when
        what they lack arrives, then deleted) gains nothing from the cache but its upkeep; it keeps only the
        changes not written yet."""
        self.app = app
        self.keeps_reads = keeps_reads
        # bytes key and value types: faust's raw serializer (the values are orjson, encoded here).
        self.table = app.Table(name, default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                               options=ROCKSDB_OPTIONS)
        self._cache = Cache(cache_entries, cache_bytes)
        self._hits, self._misses = READS.labels(name, "cache"), READS.labels(name, "rocksdb")

    def _db(self, partition: int) -> Any:
        return partition_db(self.table, partition)

    def get(self, key: str, partition: int) -> Any:
        """The value of `key` in `partition` (None when absent)."""
        slot = (partition, key)
        value = self._cache.get(slot)
        if value is not ABSENT:
            self._hits.inc()
            return value
        self._misses.inc()
        raw = self._db(partition).get(key.encode())
        value = None if raw is None else orjson.loads(raw)
        if not self.keeps_reads:
            return value
        self._cache.put(slot, value, _cached_size(key, raw))
        if self._cache.over():
            self._cache.trim()
        return value

    def set(self, key: str, value: Any, partition: int) -> None:
        """Change `key` (None deletes it); written when the batch ends."""
        self._cache.change((partition, key), value)

    async def flush(self) -> None:
        """Write every key changed since the last flush, once, and trim the cache to its bound."""
        # RocksDB first and without awaiting: another stage writing this table (emitted) may run at the awaits
        # below, and must find in RocksDB whatever the trim drops from the cache.
        changes: list[Change] = []
        keep = self._cache.written if self.keeps_reads else self._cache.forget_dirty
        for slot, value in list(self._cache.dirty.items()):
            partition, key = slot
            kb = key.encode()
            vb = None if value is None else orjson.dumps(value)
            changes.append((kb, vb, partition))
            keep(slot, _cached_size(kb, vb))
        write(self.table, changes)
        self._cache.trim()
        await send_changelog(self.app, self.table, changes)

    def discard(self) -> None:
        """A batch failed: drop its changes not written yet (its input is read again), and what the cache holds.
        Another stage's changes to a table they share go too: state then lags what was sent, which costs at
        most an event sent again with its own id."""
        self._cache.dirty.clear()
        self.forget()

    def forget(self) -> None:
        """Drop what the cache holds (partitions moved: another worker may have changed it), but not changes
        still to be written."""
        for slot in self._cache.clean_slots():
            self._cache.drop(slot)

    def items(self) -> list[tuple[int, str, Any]]:
        """Every (partition, key, value) of the partitions this worker owns, changes not yet written included
        (a rebalance can come while a batch waits for its outputs to be stored): to rebuild indexes."""
        store: Any = self.table.data
        actives = self.app.assignor.assigned_actives()
        topic = self.table.changelog_topic.get_topic_name()
        owned = [(p, db) for p, db in list(store._dbs.items()) if TP(topic, p) in actives]
        dirty = self._cache.dirty
        out = []
        for partition, db in owned:
            for k, v in store._visible_items(db):
                key = k.decode()
                if v is not None and (partition, key) not in dirty:
                    out.append((partition, key, orjson.loads(v)))
        mine = {p for p, _ in owned}
        out.extend((p, key, value) for (p, key), value in dirty.items() if value is not None and p in mine)
        return out
