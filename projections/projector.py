"""The projector: a consumer-group member applying canonical events, outcomes and dead letters.

Offsets live in PostgreSQL with the rows (never committed to Kafka): on assignment each
partition starts from the offset stored in the projection schema, and every batch checks
and advances those offsets in its own transaction. A crash at any point leaves the schema
at a batch boundary, and the next owner continues from exactly there.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from prometheus_client import start_http_server

from projections.batch import BatchWriter
from projections.deadletters import DeadLetterWriter
from projections.metrics import BATCH_SECONDS, BATCH_SIZE, EVENTS_APPLIED, EVENTS_REJECTED, FENCED, LAG
from projections.offsets import stored_offsets
from projections.settings import ProjectorSettings
from schemas.topics import CANONICAL_ENTITIES, DEADLETTER, MOODLE_OUTCOMES, ZOHO_OUTCOMES, canonical

log = logging.getLogger(__name__)

TOPICS: tuple[str, ...] = (*(canonical(e) for e in CANONICAL_ENTITIES), ZOHO_OUTCOMES, MOODLE_OUTCOMES,
                           DEADLETTER)
LAG_EVERY_S = 2.0


def consumer_config(bootstrap: str, group_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        # Offsets are PostgreSQL's business; Kafka's committed offsets are never used.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.min.bytes": 1,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "queued.max.messages.kbytes": 64 * 1024,
    }


class Projector:
    def __init__(self, settings: ProjectorSettings, bootstrap: str, dsn: str) -> None:
        self.settings = settings
        self.schema = settings.schema_name
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.writer = BatchWriter(self.conn, self.schema, DeadLetterWriter(bootstrap))
        config = consumer_config(bootstrap, settings.group_id)
        config["session.timeout.ms"] = settings.session_timeout_ms
        config["partition.assignment.strategy"] = "roundrobin"
        if settings.instance_id:
            config["group.instance.id"] = settings.instance_id
        self.consumer = Consumer(config)
        self.running = True
        self._last_lag = 0.0

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = stored_offsets(self.conn, self.schema, [(tp.topic, tp.partition) for tp in partitions])
        self.writer.positions = {tp: off for tp, off in stored.items()}
        for tp in partitions:
            tp.offset = stored[(tp.topic, tp.partition)]
        consumer.assign(partitions)
        log.info("partitions assigned", extra={"partitions": len(partitions), "schema": self.schema})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.writer.positions.pop((tp.topic, tp.partition), None)
        consumer.unassign()
        log.info("partitions revoked", extra={"partitions": len(partitions)})

    def _reseek(self) -> None:
        """Another process moved our offsets (a replay swapped in): continue from what is stored."""
        stored = stored_offsets(self.conn, self.schema, list(self.writer.positions))
        self.writer.positions = dict(stored)
        for (topic, partition), offset in stored.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))
        log.warning("offsets moved by another process; re-reading from the stored offsets")

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag < LAG_EVERY_S:
            return
        self._last_lag = now
        for (topic, partition), position in self.writer.positions.items():
            _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            if high >= 0:
                LAG.labels(topic, str(partition)).set(max(high - position, 0))

    def stop(self, *_: Any) -> None:
        self.running = False

    def _next_batch(self) -> list[Message]:
        """Every event already fetched, up to `batch_size`; when there is none, the first to arrive within
        `batch_wait_s`. librdkafka's `consume(n, timeout)` returns only once it has `n` messages or the timeout
        has passed, so a fixed wait would add up to that wait to each event's latency whenever fewer than `n`
        arrive in it; under load the fetched backlog still makes big batches."""
        msgs = self.consumer.consume(self.settings.batch_size, timeout=0)
        if msgs:
            return msgs
        first = self.consumer.consume(1, timeout=self.settings.batch_wait_s)
        if not first:
            return first
        return first + self.consumer.consume(self.settings.batch_size - 1, timeout=0)

    def run(self) -> None:
        self.consumer.subscribe(list(TOPICS), on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_revoke)
        try:
            while self.running:
                msgs = self._next_batch()
                good = []
                for m in msgs:
                    err = m.error()
                    if err is None:
                        good.append(m)
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error", extra={"error": str(err)})
                fresh = self.writer.fresh(good)
                if fresh:
                    started = time.perf_counter()
                    result = self.writer.write(fresh)
                    if result.fenced:
                        FENCED.inc()
                        self._reseek()
                        continue
                    BATCH_SECONDS.observe(time.perf_counter() - started)
                    BATCH_SIZE.observe(len(fresh))
                    for topic, n in Counter(m.topic() for m in fresh).items():
                        EVENTS_APPLIED.labels(topic).inc(n)
                    for r in result.rejected:
                        EVENTS_REJECTED.labels(r.reason).inc()
                self._update_lag()
        finally:
            self.consumer.close()
            self.conn.close()


def run(settings: ProjectorSettings, bootstrap: str, dsn: str) -> None:
    start_http_server(settings.metrics_port, addr="127.0.0.1")
    projector = Projector(settings, bootstrap, dsn)
    signal.signal(signal.SIGTERM, projector.stop)
    signal.signal(signal.SIGINT, projector.stop)
    log.info("projector started", extra={"schema": settings.schema_name, "group": settings.group_id,
                                         "metrics_port": settings.metrics_port})
    projector.run()
