"""Delivery ids seen lately, for dropping redeliveries at intake: RocksDB keys in time buckets, no index in memory.

A raw record's delivery id is kept under `<bucket>/<source>/<tenant>/<id>`, where the bucket is the record's
timestamp divided by the window; a record is a redelivery when another raw record with its id is in its own
bucket or the one before, so a redelivery within one window of the first is always dropped (and one up to two
windows later may be). Expiry costs nothing per key: when a partition's records reach a new bucket, everything
two buckets old is dropped from RocksDB with one range delete, and the changelog forgets it by retention (it
is compacted and deleted after three windows), so neither memory nor the recovered state grows with the
number of ids. faust's windowed tables would keep every key's timestamp in memory and write each one through
faust's per-message send path, the costliest part of intake.

Writes wait for the end of the batch like `State`'s: RocksDB and the changelog, before the batch's offsets are
acked. The same raw record read again after a crash finds its own position and is processed again.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.state import ROCKSDB_OPTIONS, Change, partition_db, send_changelog, write

_WIDTH = 12  # digits of a bucket number: keys sort by bucket


class Deliveries:
    def __init__(self, app: faust.App, name: str, partitions: int, window_s: int) -> None:
        self.app = app
        self.window_ms = window_s * 1000
        changelog = app.topic(f"{app.conf.id}-{name}-changelog", key_type=bytes, value_type=bytes,
                              key_serializer="raw", value_serializer="raw", partitions=partitions,
                              retention=3 * window_s, compacting=True, deleting=True, internal=True)
        self.table = app.Table(name, default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                               options=ROCKSDB_OPTIONS, changelog_topic=changelog)
        self._batch: dict[tuple[int, bytes], bytes] = {}
        # Per partition, the oldest bucket RocksDB may still hold (found again after partitions move).
        self._oldest: dict[int, int] = {}

    def first(self, partition: int, delivery: str, here: str, at_ms: int) -> bool:
        """Whether the raw record at `here` is the first with this delivery id lately; if so it is remembered."""
        bucket = at_ms // self.window_ms
        db = partition_db(self.table, partition)
        self._expire(partition, db, bucket)
        current, previous = (f"{b:0{_WIDTH}d}/{delivery}".encode() for b in (bucket, bucket - 1))
        for key in (current, previous):
            seen = self._batch.get((partition, key))
            if seen is None:
                seen = db.get(key)
            if seen is not None:
                return bytes(seen).decode() == here
        self._batch[(partition, current)] = here.encode()
        return True

    def _expire(self, partition: int, db: Any, bucket: int) -> None:
        oldest = self._oldest.get(partition)
        if oldest is None:
            oldest = self._oldest[partition] = self._first_bucket(db, bucket)
        if oldest < bucket - 1:
            db.delete_range(b"", f"{bucket - 1:0{_WIDTH}d}".encode())
            self._oldest[partition] = bucket - 1

    @staticmethod
    def _first_bucket(db: Any, default: int) -> int:
        it = db.iter()
        it.seek_to_first()
        first = bytes(it.key())[:_WIDTH] if it.valid() else b""
        # Bucket keys sort first; anything else (faust's own offset key) means there is none.
        return int(first) if first.isdigit() else default

    async def flush(self) -> None:
        """Write the batch's new ids to RocksDB and the changelog (before the batch's offsets are acked)."""
        if not self._batch:
            return
        batch, self._batch = self._batch, {}
        changes: list[Change] = [(key, value, partition) for (partition, key), value in batch.items()]
        write(self.table, changes)
        await send_changelog(self.app, self.table, changes)

    def discard(self) -> None:
        """A batch failed: its records are read again, and find their ids unwritten."""
        self._batch.clear()

    def forget(self) -> None:
        """Partitions moved: where each one's oldest bucket is gets looked up again."""
        self._oldest.clear()
