"""faust's producer with every send going through confluent-kafka (librdkafka) instead of aiokafka.

Measured on the 2-core machine (bench/streams.py, faust floor): a faust agent that reads a record and sends
it on manages ~2,250-2,540 records/s with aiokafka's producer and ~4,190/s through `produce` here;
a record crosses several sends here (the next stage, table changelogs, the canonical topic), so the send
path bounds the whole pipeline. Everything else — consumer, topic creation, the partitioner used for
`key_partition` — stays faust's aiokafka driver.

Guarantees are faust's at-least-once ones: faust waits for every message attached to the offsets it is
about to commit and then calls `flush()`, which here waits for librdkafka to have every queued message
acknowledged (`acks=all`, idempotent, so a retried batch is neither duplicated nor reordered). A message
librdkafka gives up on crashes the worker before any later commit, so its input is read again.
The partitioner is `murmur2_random`, the Java client's and aiokafka's, so keys land where faust's
co-partitioned tables expect them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import confluent_kafka
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, AppT, HeadersArg, RecordMetadata

from common.settings import get_settings

log = logging.getLogger(__name__)

# How long librdkafka retries a message before reporting it failed (it also outlives a broker restart).
MESSAGE_TIMEOUT_MS = 120_000
POLL_S = 0.05

# (future or None for a fire-and-forget produce, error, message, epoch it was queued in), from a delivery report.
_Done = tuple[asyncio.Future[RecordMetadata] | None, Any, Any, int]


class LibrdkafkaProducer(aiokafka_driver.Producer):
    def __post_init__(self) -> None:
        super().__post_init__()
        self._ck: confluent_kafka.Producer | None = None
        self._done: collections.deque[_Done] = collections.deque()
        self._polling = threading.Event()
        self._poller: threading.Thread | None = None
        self._main_loop: asyncio.AbstractEventLoop | None = None
        # Messages not yet acknowledged, counted per epoch; `delivered()` starts a new epoch and waits for the
        # ones before it, however much is queued after it.
        self._epoch = 0
        self._unacked: dict[int, int] = {}
        self._barriers: list[tuple[int, asyncio.Future[None]]] = []
        self._report = self._reporter(0)

    async def on_start(self) -> None:
        await super().on_start()
        transport = cast(aiokafka_driver.Transport, self.transport)
        self._main_loop = asyncio.get_running_loop()
        self._ck = confluent_kafka.Producer({
            "bootstrap.servers": ",".join(aiokafka_driver.server_list(transport.url, transport.default_port)),
            "client.id": f"{self.app.conf.broker_client_id}-librdkafka",
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": int(self.app.conf.producer_linger_ms) or 5,
            "batch.size": int(self.app.conf.producer_max_batch_size),
            "compression.type": "lz4",
            # Bounds the worker's memory: a stage far ahead of the broker waits (BufferError, below) instead of
            # queueing up to librdkafka's default 1 GB.
            "queue.buffering.max.kbytes": 32 * 1024,
            "message.timeout.ms": MESSAGE_TIMEOUT_MS,
            # An event or a dead letter from the largest body the ingress takes must not stop the worker.
            "message.max.bytes": get_settings().max_record_bytes(),
        })
        self._polling.set()
        self._poller = threading.Thread(target=self._poll, name="librdkafka-poll", daemon=True)
        self._poller.start()

    async def on_stop(self) -> None:
        if self._ck is not None:
            await asyncio.to_thread(self._ck.flush, 30)
            self._resolve()
        self._polling.clear()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, 5)
        await super().on_stop()

    def _poll(self) -> None:
        """Serves delivery reports; the futures are resolved on the event loop, one hop per poll."""
        producer, loop = self._ck, self._main_loop
        assert producer is not None and loop is not None
        while self._polling.is_set():
            producer.poll(POLL_S)
            if self._done:
                try:
                    loop.call_soon_threadsafe(self._resolve)
                except RuntimeError:
                    return  # the loop closed under a shutdown: nothing is waiting on these reports any more

    def _resolve(self) -> None:
        done, unacked = self._done, self._unacked
        while done:
            fut, err, msg, epoch = done.popleft()
            left = unacked[epoch] - 1
            if left:
                unacked[epoch] = left
            else:
                del unacked[epoch]
            if fut is not None and fut.done():
                continue
            if err is not None:
                exc = ProducerSendError(f"delivery to {msg.topic()} failed: {err}")
                if fut is not None:
                    fut.set_exception(exc)
                for _, barrier in self._barriers:
                    if not barrier.done():
                        barrier.set_exception(exc)
                self._barriers.clear()
                log.error("message not delivered, stopping the worker", extra={"error": str(err)})
                self.add_future(self._on_irrecoverable_error(exc))
                continue
            if fut is None:
                continue
            topic, partition = msg.topic(), msg.partition()
            ts_type, ts = msg.timestamp()
            fut.set_result(RecordMetadata(topic=topic, partition=partition, topic_partition=TP(topic, partition),
                                          offset=msg.offset(), timestamp=ts / 1000.0, timestamp_type=ts_type))
        if self._barriers:
            oldest = min(unacked, default=self._epoch)
            waiting = []
            for epoch, barrier in self._barriers:
                if epoch < oldest:
                    if not barrier.done():
                        barrier.set_result(None)
                else:
                    waiting.append((epoch, barrier))
            self._barriers = waiting

    async def delivered(self) -> None:
        """Wait until every message queued before this call is acknowledged (not those queued meanwhile, as
        `flush` would): a stage writes its state only once its outputs are stored, so state never runs ahead
        of what was sent."""
        epoch = self._epoch
        self._epoch += 1
        self._report = self._reporter(self._epoch)
        if min(self._unacked, default=epoch + 1) > epoch:
            return
        barrier: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers.append((epoch, barrier))
        await barrier

    async def _on_irrecoverable_error(self, exc: BaseException) -> None:
        consumer = self.app.consumer
        if consumer is not None:
            await consumer.crash(exc)
        await self.crash(exc)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: HeadersArg | None, *,
                   transactional_id: str | None = None) -> Awaitable[RecordMetadata]:
        if transactional_id:
            raise ProducerSendError("transactions are not used by this application")
        fut: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        done, epoch = self._done, self._epoch

        def delivered(err: Any, msg: Any) -> None:
            done.append((fut, err, msg, epoch))

        await self._enqueue(topic, key, value, partition, headers, delivered, epoch, timestamp)
        return fut

    def _reporter(self, epoch: int) -> Callable[[Any, Any], None]:
        done = self._done

        def report(err: Any, msg: Any) -> None:
            done.append((None, err, msg, epoch))

        return report

    async def produce(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None,
                      headers: Mapping[str, bytes] | None = None) -> None:
        """Send without faust's per-message future and attachment: the cheap path for a stage's outputs.

        Still at-least-once: the message is queued while its input is being processed, so before that input
        is acked, and faust flushes (waits for every queued message) before it commits any offset. A failed
        delivery stops the worker like any other.
        """
        await self._enqueue(topic, key, value, partition, headers, self._report, self._epoch)

    async def _enqueue(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                       headers: HeadersArg | None, on_delivery: Callable[[Any, Any], None], epoch: int,
                       timestamp: float | None = None) -> None:
        """Queue one message; `on_delivery` reports it as queued in `epoch` (counted here once it is queued)."""
        producer = self._ck
        if producer is None:
            raise ProducerSendError("producer not started")
        kwargs: dict[str, Any] = {"on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp:
            kwargs["timestamp"] = int(timestamp * 1000)
        if headers:
            kwargs["headers"] = headers  # librdkafka takes a mapping or a list of pairs, as faust passes them
        while True:
            try:
                producer.produce(topic, value, key, **kwargs)
                self._unacked[epoch] = self._unacked.get(epoch, 0) + 1
                return
            except BufferError:
                # librdkafka's queue is full: let the poller drain it.
                await asyncio.sleep(0.005)
            except confluent_kafka.KafkaException as exc:
                raise ProducerSendError(f"Error while sending: {exc!r}") from exc

    async def flush(self) -> None:
        await self.buffer.flush()
        if self._ck is not None:
            left = await asyncio.to_thread(self._ck.flush, 60)
            self._resolve()
            if left:
                raise ProducerSendError(f"{left} messages still undelivered after 60 s")


def producer_of(app: AppT) -> LibrdkafkaProducer:
    """The app's producer, which the streams app always makes a LibrdkafkaProducer (streams/app.py)."""
    producer = app.producer
    assert isinstance(producer, LibrdkafkaProducer)
    return producer
