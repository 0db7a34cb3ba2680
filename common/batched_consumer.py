"""Consume, gather, act, publish, commit: the at-least-once loop every outbound connector runs.

Events are gathered (from the first write, for a linger or up to a cap), handed to the connector as one batch,
the messages it derives (outcomes, dead letters) are published and acknowledged by the broker, and only then are
the consumed offsets committed. A crash or an outage anywhere before the commit replays the batch; a connector
makes that harmless with its own state. While the far side is unreachable the consumer is paused (nothing more is
fetched, memory stays bounded) and the same batch is tried again after a pause.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from common.kafka import produce_all, producer_config

W = TypeVar("W")
Partition = tuple[str, int]
# (topic, key, value)
Outgoing = tuple[str, bytes, bytes]
# Bytes -> (schema name, record); raises ValueError (or KeyError, TypeError) for what it cannot read.
Decoder = Callable[[bytes], tuple[str, dict[str, Any]]]


class LoopSettings(Protocol):
    @property
    def group_id(self) -> str: ...
    @property
    def session_timeout_ms(self) -> int: ...
    @property
    def linger_ms(self) -> int: ...
    @property
    def max_pending(self) -> int: ...
    @property
    def retry_pause_s(self) -> float: ...


@dataclass(frozen=True)
class LoopMetrics:
    skipped: Counter  # labelled by reason
    lag: Gauge  # labelled by topic and partition
    flush_seconds: Histogram
    flush_failures: Counter  # labelled by error


class BatchedConsumer(ABC, Generic[W]):
    """The loop; a connector says what an event calls for (`route`) and does a batch of it (`act`)."""

    def __init__(self, bootstrap: str, topics: Sequence[str], decode: Decoder, settings: LoopSettings,
                 metrics: LoopMetrics, transient: tuple[type[Exception], ...], log: logging.Logger) -> None:
        self.bootstrap = bootstrap
        self._decode = decode
        self.settings = settings
        self._topics = list(topics)
        self._metrics = metrics
        # Errors that mean "the far side or the broker is unreachable": the batch is kept and tried again.
        self._transient: tuple[type[Exception], ...] = (*transient, KafkaException, OSError)
        self._log = log
        self._writes: list[tuple[Partition, W]] = []
        self._offsets: dict[Partition, int] = {}
        self._consumed = 0
        # When the first event, and the first event that needs a write, came in since the last flush.
        self._first_at: float | None = None
        self._first_write_at: float | None = None
        self.paused = False
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": settings.group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": settings.session_timeout_ms,
            "statistics.interval.ms": 5000, "stats_cb": self._stats,
        })
        self.producer = Producer(producer_config(bootstrap))

    @abstractmethod
    async def route(self, topic: str, event: dict[str, Any]) -> list[W]:
        """The writes one consumed event calls for (none when the connector has nothing to do with it)."""

    @abstractmethod
    async def act(self, writes: list[W]) -> list[Outgoing]:
        """Do a batch of writes (in consumption order) and say what to publish about them; raise one of the
        transient errors to have the whole batch tried again later."""

    async def on_start(self) -> None:
        """Called once, before the first event is consumed."""

    async def on_idle(self) -> None:
        """Called between polls when no batch is due and the consumer is not paused."""

    async def on_close(self) -> None:
        """Called once the consumer is closed and the producer flushed."""

    async def run(self, stop: asyncio.Event) -> None:
        # librdkafka's calls block; they run on a thread so the connector's HTTP calls and timers go on meanwhile.
        self.consumer.subscribe(self._topics, on_revoke=self._revoked, on_lost=self._revoked)
        await self.on_start()
        try:
            while not stop.is_set():
                for msg in await asyncio.to_thread(self.consumer.consume, 500, 0.1):
                    await self._take(msg)
                if self._due():
                    await self._flush()
                elif not self.paused:
                    await self.on_idle()
            if self._consumed and not self.paused:
                await self._flush()
        finally:
            await asyncio.to_thread(self.consumer.close)
            await asyncio.to_thread(self.producer.flush, 10)
            await self.on_close()

    async def publish(self, messages: list[Outgoing]) -> None:
        await asyncio.to_thread(produce_all, self.producer, messages)

    async def _take(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self._log.warning("consume error", extra={"error": str(error)})
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None and partition is not None and offset is not None
        writes: list[W] = []
        try:
            _, event = self._decode(msg.value() or b"")
            writes = await self.route(topic, event)
        except (ValueError, KeyError, TypeError) as exc:
            self._metrics.skipped.labels(reason="undecodable").inc()
            self._log.error("event the sink cannot read skipped", extra={
                "topic": topic, "partition": partition, "offset": offset, "error": str(exc)})
        now = time.monotonic()
        if self._first_at is None:
            self._first_at = now
        if writes and self._first_write_at is None:
            self._first_write_at = now
        self._consumed += 1
        self._offsets[(topic, partition)] = max(self._offsets.get((topic, partition), 0), offset + 1)
        self._writes.extend(((topic, partition), w) for w in writes)

    def _due(self) -> bool:
        if not self._consumed or self._first_at is None:
            return False
        now = time.monotonic()
        if self.paused:
            return now >= self._first_at
        linger = self.settings.linger_ms / 1000
        if self._first_write_at is None:
            # Only events with nothing to write (other tenants', the far side's own): commit them at the linger's
            # pace.
            return now - self._first_at >= linger
        # Skipped events hold no memory and cost no call, so only the writes count toward a full batch; the
        # linger runs from the first write, so a backlog of skipped events does not cut a batch short.
        return len(self._writes) >= self.settings.max_pending or now - self._first_write_at >= linger

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Their uncommitted events go to the partitions' new owner.
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._writes = [(p, w) for p, w in self._writes if p not in gone]
        self._offsets = {p: o for p, o in self._offsets.items() if p not in gone}
        if not self._writes:
            self._first_write_at = None
        if not self._offsets:
            self._consumed = 0
            self._first_at = None

    def _stats(self, raw: str) -> None:
        for topic, data in json.loads(raw).get("topics", {}).items():
            for partition, p in data.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0:
                    self._metrics.lag.labels(topic=topic, partition=partition).set(p["consumer_lag"])

    async def _flush(self) -> None:
        started = time.monotonic()
        try:
            await self.publish(await self.act([w for _, w in self._writes]))
            offsets = [TopicPartition(t, p, o) for (t, p), o in self._offsets.items()]
            if offsets:
                await asyncio.to_thread(self.consumer.commit, offsets=offsets, asynchronous=False)
        except self._transient as exc:
            self._metrics.flush_failures.labels(error=type(exc).__name__).inc()
            self._log.warning("flush failed, retrying", extra={"error": str(exc), "events": self._consumed})
            if not self.paused:
                self.consumer.pause(self.consumer.assignment())
                self.paused = True
            self._first_at = time.monotonic() + self.settings.retry_pause_s
            return
        if self.paused:
            self.consumer.resume(self.consumer.assignment())
            self.paused = False
        self._metrics.flush_seconds.observe(time.monotonic() - started)
        self._writes.clear()
        self._offsets.clear()
        self._consumed = 0
        self._first_at = None
        self._first_write_at = None
