"""The streams worker's consumer never commits an input it has not processed (streams/consumer.py)."""

from __future__ import annotations

import uuid

import faust
from faust.types import TP

from streams.consumer import harden
from tests.infra import Infra


def _consumer(infra: Infra) -> object:
    app = faust.App(f"consumer-test-{uuid.uuid4().hex[:8]}", broker=f"kafka://{infra.bootstrap}")
    consumer = app.consumer
    harden(consumer)
    return consumer


def test_a_commit_waits_for_the_first_record_after_the_committed_offset(infra: Infra) -> None:
    consumer: object = _consumer(infra)
    tp = TP("raw.zoho", 0)
    consumer._committed_offset[tp] = 10  # type: ignore[attr-defined]
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
