"""Stage state: a faust table (RocksDB, raw bytes, JSON values) behind a bounded in-memory cache.

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

from streams.producer import LibrdkafkaProducer

_ABSENT = object()

# Per partition and table (faust opens one RocksDB each, with its own cache): faust's defaults (64 MB write
# buffers ×3, a 2 GB block cache) let a worker's memory grow with the data; the hot keys live in `State`'s
# cache anyway, so RocksDB gets little memory of its own.
ROCKSDB_OPTIONS = {"write_buffer_size": 2 * 1024**2, "max_write_buffer_number": 2, "block_cache_size": 1024**2,
                   "block_cache_compressed_size": 1024**2, "target_file_size_base": 8 * 1024**2}


class State:
    def __init__(self, app: faust.App, name: str, partitions: int, cache_entries: int) -> None:
        self.app = app
        # bytes key and value types: faust's raw serializer (the values are orjson, encoded here).
        self.table = app.Table(name, default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                               options=ROCKSDB_OPTIONS)
        self.cache_entries = cache_entries
        self._cache: OrderedDict[tuple[int, str], Any] = OrderedDict()
        self._dirty: set[tuple[int, str]] = set()

    def _db(self, partition: int) -> Any:
        """faust's RocksDB of `partition` for this table, read and written directly: faust's store API costs a
        codec lookup and a context-variable read per call."""
        store: Any = self.table.data
        return store._db_for_partition(partition)

    def get(self, key: str, partition: int) -> Any:
        """The value of `key` in `partition` (None when absent)."""
        slot = (partition, key)
        value = self._cache.get(slot, _ABSENT)
        if value is not _ABSENT:
            self._cache.move_to_end(slot)
            return value
        raw = self._db(partition).get(key.encode())
        value = None if raw is None else orjson.loads(raw)
        self._cache[slot] = value
        if len(self._cache) > self.cache_entries and not self._dirty:
            self._cache.popitem(last=False)
        return value

    def set(self, key: str, value: Any, partition: int) -> None:
        """Change `key` (None deletes it); written when the batch ends."""
        slot = (partition, key)
        self._cache[slot] = value
        self._cache.move_to_end(slot)
        self._dirty.add(slot)

    async def flush(self) -> None:
        """Write every key changed since the last flush, once, and trim the cache to its bound."""
        # RocksDB first and without awaiting: another stage writing this table (emitted) may run at the awaits
        # below, and must find in RocksDB whatever the trim drops from the cache.
        sends: list[tuple[bytes, bytes | None, int]] = []
        for slot in self._dirty:
            partition, key = slot
            value = self._cache[slot]
            kb = key.encode()
            db = self._db(partition)
            if value is None:
                db.delete(kb)
                sends.append((kb, None, partition))
            else:
                vb = orjson.dumps(value)
                db.put(kb, vb)
                sends.append((kb, vb, partition))
        self._dirty.clear()
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)
        if sends:
            producer = self.app.producer
            assert isinstance(producer, LibrdkafkaProducer)
            topic = self.table.changelog_topic.get_topic_name()
            for key_bytes, value_bytes, partition in sends:
                await producer.produce(topic, key_bytes, value_bytes, partition)

    def forget(self) -> None:
        """Drop what the cache holds (partitions moved: another worker may have changed it), but not changes
        still to be written."""
        for slot in [slot for slot in self._cache if slot not in self._dirty]:
            del self._cache[slot]

    def items(self) -> list[tuple[str, Any]]:
        """Every stored (key, value) of the partitions this worker owns (after recovery, to rebuild indexes)."""
        out = []
        for k, v in self.table.data.items():
            if v is not None:
                out.append((k.decode(), orjson.loads(v)))
        return out
