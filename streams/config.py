"""Settings of the stream processors (environment variables, like every service)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import PROJECT_ROOT


class StreamsSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # A new app id is a new generation: it re-reads raw.* from offset 0 with fresh state.
    app_id: str = Field(default="mzsync-streams-v1", alias="STREAMS_APP_ID")
    datadir: Path = Field(default=PROJECT_ROOT / ".stack" / "streams", alias="STREAMS_DATADIR")
    web_port: int = Field(default=6066, alias="STREAMS_WEB_PORT")
    # A record waiting for a dependency leaves as a dead letter after this long.
    pending_expiry_s: int = Field(default=30 * 24 * 3600, alias="PENDING_EXPIRY_S")
    # Per tenant and partition; beyond it new waiting records go to the dead-letter topic.
    pending_cap: int = Field(default=50_000, alias="PENDING_CAP")
    tick_interval_s: float = Field(default=30.0, alias="STREAMS_TICK_INTERVAL_S")
    delivery_dedupe_s: int = Field(default=24 * 3600, alias="DELIVERY_DEDUPE_S")
    # A stage handles up to this many records at once (state written and next-stage messages sent once per
    # batch), waiting at most batch_wait_s for a batch to fill.
    batch_max: int = Field(default=500, alias="STREAMS_BATCH_MAX")
    batch_wait_s: float = Field(default=0.02, alias="STREAMS_BATCH_WAIT_S")
    # Records faust takes from its Kafka client at a time (0: everything fetched). What it takes becomes Python
    # objects held until a stage reaches them; what it leaves stays in the client's fetched bytes, and a
    # partition with records left is not fetched again.
    max_poll_records: int = Field(default=500, alias="STREAMS_MAX_POLL_RECORDS")
    # glibc malloc arenas of the worker (0: glibc's default, eight per core): on 100,000 sorted records two cost
    # no CPU one could measure (streams/__main__.py).
    malloc_arenas: int = Field(default=2, alias="STREAMS_MALLOC_ARENAS")
    # RocksDB's memory, all tables and partitions of a worker together: block cache, index and filter blocks,
    # and (up to half of it) memtables (streams/store.py). 32 MB rather than 64 MB: a worker's peak after a
    # million records 237 MB instead of 262 MB, for ~3 % more CPU per event (docs/benchmarks.md).
    rocksdb_mb: int = Field(default=32, alias="STREAMS_ROCKSDB_MB")
    # faust keeps standby copies of other workers' tables: on one host that costs CPU and memory and buys no
    # availability (both copies die with the host), so none by default; 1 where workers run on separate hosts.
    standby_replicas: int = Field(default=0, alias="STREAMS_STANDBY_REPLICAS")
    # Entries kept in memory per state table (the rest is read from RocksDB when needed). Measured on 100,000
    # shuffled records (streams_state_reads_total): with 2,000, 60 % of the students' and registrations' reads
    # go to RocksDB; 20,000 made that 4 % but saved no CPU one could measure and cost 30 MB more RSS at peak.
    cache_entries: int = Field(default=2_000, alias="STREAMS_CACHE_ENTRIES")
    # ... and at most this many bytes per table: stored keys and values, plus state.ENTRY_OVERHEAD each.
    cache_bytes: int = Field(default=8 * 1024**2, alias="STREAMS_CACHE_BYTES")
    # Allocations between two young-generation garbage collections (Python's default: 700). A stage allocates
    # tens of objects per record and a worker holds millions (caches, the waiting index), so the default ran a
    # collection every few records and a full one every couple of seconds: ~9 % of a shuffled run's CPU, ~1 %
    # at 50,000 (bench/streams.py). Only cyclic garbage waits longer; reference counting frees the rest at once.
    gc_gen0: int = Field(default=50_000, alias="STREAMS_GC_GEN0")
