"""`python -m streams worker -l info`: a faust worker running every stage."""

from __future__ import annotations

import ctypes
import gc

from common.kafka_admin import ensure_topics
from common.settings import get_settings
from schemas.topics import TopicSpec
from streams import (
    agents,  # noqa: F401  (registers the agents)
    ticks,  # noqa: F401  (registers the timer)
)
from streams.app import PARTITIONS, app, config, identity_topic, moodle_topic, person_topic

# Re-keyed copies of raw records: a new generation rebuilds them from raw.*, so a week is plenty.
INTERNAL_RETENTION = {"retention.ms": str(7 * 24 * 3600 * 1000)}


# glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8


def cap_malloc_arenas(arenas: int) -> None:
    """glibc gives threads that allocate at the same time arenas of their own (up to eight per core), each
    holding on to what was freed in it: with the Kafka clients' and RocksDB's threads, tens of MB of RSS that
    do no work. Set before any thread starts; nothing to do on another C library."""
    if arenas <= 0:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_ARENA_MAX, arenas)


def internal_topics() -> list[TopicSpec]:
    """The stage topics and every table's changelog, as faust itself would create them."""
    specs = [TopicSpec(t.get_topic_name(), PARTITIONS, INTERNAL_RETENTION)
             for t in (identity_topic, moodle_topic, person_topic)]
    for table in app.tables.values():
        log = table.changelog_topic
        policy = ",".join(p for p, on in (("compact", log.compacting), ("delete", log.deleting)) if on)
        config = {"cleanup.policy": policy or "delete"}
        if log.retention:
            config["retention.ms"] = str(int(log.retention * 1000))
        specs.append(TopicSpec(log.get_topic_name(), PARTITIONS, config))
    return specs


if __name__ == "__main__":
    cap_malloc_arenas(config.malloc_arenas)
    # Created before the consumer subscribes: a topic faust creates while joining the group is left out of
    # the assignment ("Ignoring missing topic") and stays unread until the next rebalance.
    ensure_topics(get_settings().kafka_bootstrap(), internal_topics(), get_settings().topic_replication)
    gc.set_threshold(config.gc_gen0, 20, 100)
    # What is loaded by now (modules, schemas, faust's machinery) lives as long as the worker: never scanned again.
    gc.freeze()
    app.main()
