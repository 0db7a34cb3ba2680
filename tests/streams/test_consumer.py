"""The streams worker's consumer never commits an input it has not processed (streams/consumer.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import Producer
from faust.types import TP

from common.kafka_admin import TopicSpec, ensure_topics
from streams.consumer import harden
from tests.infra import Infra, read_records, start_service, stop_service, wait_until


def _consumer(infra: Infra) -> object:
    app = faust.App(f"consumer-test-{uuid.uuid4().hex[:8]}", broker=f"kafka://{infra.bootstrap}")
    consumer = app.consumer
    harden(consumer)
    return consumer


def test_a_commit_waits_for_the_first_record_after_the_committed_offset(infra: Infra) -> None:
    consumer: object = _consumer(infra)
    tp = TP("raw.zoho", 0)
    consumer._committed_offset[tp] = 10  # type: ignore[attr-defined]
    consumer.assignment = lambda: {tp}  # type: ignore[attr-defined]
    # Record 10 (the next to read) was fetched but never processed; 11 and 12 were.
    consumer._acked[tp] = [11, 12]  # type: ignore[attr-defined]
    assert consumer._new_offset(tp) is None  # type: ignore[attr-defined]
    consumer._acked[tp] = [10, 11, 12]  # type: ignore[attr-defined]
    consumer._acked_index[tp] = {10, 11, 12}  # type: ignore[attr-defined]
    assert consumer._new_offset(tp) == 13  # type: ignore[attr-defined]


def test_a_record_fetched_again_after_a_seek_is_handed_out_again(infra: Infra) -> None:
    consumer: object = _consumer(infra)
    tp = TP("raw.zoho", 0)
    # faust's drain loop drops a fetched record whose offset is below the one it read last, and takes a jump
    # for a gap; with nothing remembered, neither can happen.
    consumer._read_offset[tp] = 42  # type: ignore[attr-defined]
    consumer._read_offset.update({tp: 42})  # type: ignore[attr-defined]
    assert consumer._read_offset[tp] is None  # type: ignore[attr-defined]


def test_a_revoked_partition_is_not_held_back(infra: Infra) -> None:
    consumer: Any = _consumer(infra)
    tp = TP("raw.zoho", 0)
    consumer._committed_offset[tp] = 10
    consumer._acked[tp] = [11, 12]
    consumer._acked_index[tp] = {11, 12}
    # Another worker reads it now: faust's offset comes back (and faust discards a commit for a revoked partition);
    # nothing is held back, so the partition is not read again here every few seconds.
    consumer.assignment = lambda: set()
    assert consumer._new_offset(tp) == 13


def test_a_batch_that_failed_is_read_again_and_nothing_of_it_is_lost(infra: Infra, tmp_path: Path) -> None:
    """faust acknowledges a batch even when its body raised: the consumer's next commit went past it."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"failing-batch-in-{run}", f"failing-batch-out-{run}"
    ensure_topics(infra.bootstrap, [TopicSpec(source, 2), TopicSpec(sink, 1)], 1)
    sent = [f"r{i}".encode() for i in range(60)]
    sent[25] = b"poison"  # in a batch of the first partition's or the second's, among records that are fine
    producer = Producer({"bootstrap.servers": infra.bootstrap})
    for i, value in enumerate(sent):
        producer.produce(source, value, partition=i % 2)
    assert producer.flush(10) == 0
    log = tmp_path / "worker.log"
    proc = start_service("tests.streams.failing_batch_app", {
        "TEST_APP_ID": f"failing-batch-{run}", "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap,
        "TEST_DATADIR": str(tmp_path / "data"), "TEST_SOURCE": source, "TEST_SINK": sink,
        "TEST_POISON": "poison"}, log, None, ["worker", "-l", "info"])
    try:
        def copied() -> set[bytes] | None:
            values = {r.value for r in read_records(infra.bootstrap, sink, timeout=2) if r.value is not None}
            return values if values >= set(sent) else None

        assert wait_until(copied, timeout=60, interval=1), f"records lost: see {log}"
        assert "a batch that fails" in log.read_text(errors="replace"), "the poison never failed its batch"
    finally:
        stop_service(proc)
