"""faust's RocksDB store with one memory budget for the whole worker.

faust opens a RocksDB per table and partition (a dozen tables × the partitions a worker owns: ~50 databases),
each with its own block cache, its own write buffers and, outside any cache, the index and filter blocks of
every file it has open — so a worker's memory grows with the number of databases and with the data written.
Here every database of the process shares one LRU block cache that also holds the index and filter blocks,
and one write-buffer manager charged to that cache: memtables are flushed when the worker's total reaches
its share, whichever table they belong to. `STREAMS_ROCKSDB_MB` sets the budget.

Used as `store=SHARED_ROCKSDB` (registered below as `mzrocksdb://`); the per-database options (write buffer
size, file sizes, bloom filters) are still faust's, from each table's `options`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import rocksdict
from faust.stores import STORES
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as FaustStore

from streams.config import StreamsSettings

_MB = 1024**2


@cache
def _shared() -> tuple[rocksdict.Cache, rocksdict.WriteBufferManager]:
    budget = StreamsSettings().rocksdb_mb * _MB
    block_cache = rocksdict.Cache(budget)
    # Memtables count against the same cache, up to half of it.
    buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(budget // 2, False, block_cache)
    return block_cache, buffers


class SharedOptions(RocksDBOptions):
    def as_options(self) -> Any:
        options = super().as_options()
        block_cache, buffers = _shared()
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(block_cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(buffers)
        return options


class Store(FaustStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rocksdb_options = SharedOptions(**(self.options or {}), use_rocksdict=True)


STORES.aliases["mzrocksdb"] = f"{__name__}:Store"
SHARED_ROCKSDB = "mzrocksdb://"
