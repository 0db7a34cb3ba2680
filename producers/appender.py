"""Append raw bodies to Kafka and hand back the broker's acknowledgement.

One idempotent confluent-kafka producer per process; a background thread serves its
delivery reports and resolves asyncio futures, so a request is answered only once the
broker has stored its record (or definitely has not).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger(__name__)


Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class Delivered:
    topic: str
    partition: int
    offset: int


class NotStored(Exception):
    """The broker did not acknowledge the record in time; the caller must answer 503."""


class TooLarge(NotStored):
    """The record is over what the producer or the broker accepts for one record: a retry cannot help (413)."""


class RawAppender:
    def __init__(self, bootstrap: str, delivery_timeout_s: float, extra: dict[str, Any] | None = None) -> None:
        self._timeout = delivery_timeout_s
        self._conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            # faust (aiokafka) hashes keys with Java's murmur2; joins need the same partitions.
            "partitioner": "murmur2_random",
            "linger.ms": 2,
            "compression.type": "lz4",
            # librdkafka gives up on a record at the same moment the request does, so a 503
            # is not followed by a late write of the same body.
            "message.timeout.ms": int(delivery_timeout_s * 1000),
            "reconnect.backoff.max.ms": 1000,
            "error_cb": self._on_error,
            "logger": logging.getLogger("librdkafka"),
            **(extra or {}),
        }
        self._producer: Producer | None = None
        self._fatal = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready_cache: tuple[float, bool] = (0.0, False)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Filled by delivery callbacks inside poll(), on the report thread only.
        self._settled: list[tuple[asyncio.Future[Delivered], Delivered | BaseException]] = []

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._producer = Producer(self._conf)
        self._thread = threading.Thread(target=self._serve_reports, name="delivery-reports", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if self._producer is not None:
            left = self._producer.flush(timeout)
            if left:
                log.error("records not delivered at shutdown", extra={"count": left})

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            # A fatal idempotence error poisons this producer; the next append builds a new one.
            log.error("fatal producer error", extra={"error": str(err)})
            self._fatal = True
        else:
            log.warning("producer error", extra={"error": str(err)})

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            producer = self._producer
            if producer is not None:
                producer.poll(0.05)
            if self._settled and self._loop is not None:
                # One wake-up of the event loop per batch of reports, not one per record.
                batch, self._settled = self._settled, []
                self._loop.call_soon_threadsafe(_settle_all, batch)

    def _current(self) -> Producer:
        with self._lock:
            if self._fatal or self._producer is None:
                old = self._producer
                self._producer = Producer(self._conf)
                self._fatal = False
                if old is not None:
                    old.flush(0)
            return self._producer

    async def append(self, topic: str, key: bytes, value: bytes, headers: Headers) -> Delivered:
        fut: asyncio.Future[Delivered] = asyncio.get_running_loop().create_future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                too_large = err.code() == KafkaError.MSG_SIZE_TOO_LARGE
                result: Delivered | BaseException = TooLarge(str(err)) if too_large else NotStored(str(err))
            else:
                result = Delivered(msg.topic() or topic, msg.partition() or 0, msg.offset() or 0)
            self._settled.append((fut, result))

        try:
            self._current().produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
        except KafkaException as exc:
            if exc.args and isinstance(exc.args[0], KafkaError) and exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                raise TooLarge(f"record over the producer's limit: {exc}") from exc
            raise NotStored(f"producer refused the record: {exc}") from exc
        except BufferError as exc:
            raise NotStored(f"producer refused the record: {exc}") from exc
        try:
            # A little slack over message.timeout.ms: librdkafka reports the failure itself.
            return await asyncio.wait_for(fut, self._timeout + 1.0)
        except TimeoutError as exc:
            raise NotStored("no delivery report within the timeout") from exc

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether the broker answers a metadata request; cached for a second."""
        checked_at, ok = self._ready_cache
        if time.monotonic() - checked_at < 1.0:
            return ok
        try:
            md = self._current().list_topics(timeout=timeout)
            ok = bool(md.brokers)
        except KafkaException:
            ok = False
        self._ready_cache = (time.monotonic(), ok)
        return ok


def _settle_all(batch: list[tuple[asyncio.Future[Delivered], Delivered | BaseException]]) -> None:
    for fut, result in batch:
        if fut.done():  # the request already gave up waiting
            continue
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)
