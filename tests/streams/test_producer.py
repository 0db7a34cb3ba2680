"""The streams app's librdkafka producer puts every record where faust's own partitioner would, intact."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faust
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka.admin import AdminClient, NewTopic

from streams.producer import LibrdkafkaProducer
from tests.infra import Infra, read_records


@asynccontextmanager
async def _producer(infra: Infra, partitions: int) -> AsyncIterator[tuple[LibrdkafkaProducer, str]]:
    """A started producer of a faust app, and a new topic of `partitions`."""
    topic = f"producer-test-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": infra.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)
    app = faust.App(f"producer-test-{uuid.uuid4().hex[:8]}", broker=f"kafka://{infra.bootstrap}")
    producer = LibrdkafkaProducer(app.transport, loop=asyncio.get_running_loop())
    await producer.start()
    try:
        yield producer, topic
    finally:
        await producer.stop()


async def test_sends_land_on_faust_partitions_with_headers_and_are_delivered_by_flush(infra: Infra) -> None:
    async with _producer(infra, 4) as (producer, topic):
        keys = [f"t-1/{n}".encode() for n in range(40)]
        futures = [await producer.send(topic, key, b"sent " + key, None, None, {"kind": b"send"}) for key in keys]
        for key in keys:
            await producer.produce(topic, key, b"published " + key, headers={"kind": b"publish"})
        pinned = await producer.send(topic, b"t-1/pinned", b"to partition 3", 3, None, None)
        await producer.flush()
        # flush() returns only once every queued record is acknowledged: futures and fire-and-forget alike.
        assert all(f.done() and not f.exception() for f in [*futures, pinned])
        records = read_records(infra.bootstrap, topic)

    # aiokafka's partitioner (murmur2, as the Java client's) is what faust's co-partitioned tables assume.
    partitioner = DefaultPartitioner()
    expected = {key: partitioner(key, [0, 1, 2, 3], [0, 1, 2, 3]) for key in keys}
    assert len(records) == 2 * len(keys) + 1
    assert len({expected[k] for k in keys}) == 4  # the keys spread over every partition
    for rec in records:
        assert rec.key is not None and rec.value is not None
        if rec.key == b"t-1/pinned":
            assert rec.partition == 3
            continue
        assert rec.partition == expected[rec.key], rec.key
        kind = rec.headers["kind"]
        assert rec.value == (b"sent " if kind == b"send" else b"published ") + rec.key
    by_future = {(f.result().partition, f.result().offset) for f in futures}
    assert by_future <= {(r.partition, r.offset) for r in records if r.headers.get("kind") == b"send"}


async def test_delivered_returns_once_everything_queued_before_it_is_stored(infra: Infra) -> None:
    """What a stage waits for before it writes its state: the outputs queued so far, not those queued after."""
    async with _producer(infra, 2) as (producer, topic):
        await producer.delivered()  # nothing queued: returns at once
        for n in range(500):
            await producer.produce(topic, f"k{n}".encode(), b"x" * 200)
        waiter = asyncio.ensure_future(producer.delivered())
        for n in range(500, 600):  # queued after the barrier: not waited for, but still sent
            await producer.produce(topic, f"k{n}".encode(), b"y")
        await asyncio.wait_for(waiter, 30)
        stored = {rec.key for rec in read_records(infra.bootstrap, topic)}
        assert {f"k{n}".encode() for n in range(500)} <= stored
        await producer.flush()
        assert len(read_records(infra.bootstrap, topic)) == 600
