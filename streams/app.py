"""The faust application: topics, state tables and metrics shared by the stages in streams/agents/.

Journey of a raw body (every hop is a co-partitioned topic, so each stage's state is local; a hop carries
one message per batch and partition, see streams/messages.py):

    raw.zoho, raw.moodle ─ intake ─┬─> deadletter                          (invalid, unparseable)
                                   ├─> <app>-identity  key tenant/email    (students' emails, Moodle users)
                                   ├─> <app>-moodle    key tenant/user id  (Moodle grades, enrolments, links)
                                   └─> <app>-person    key tenant/student  (students, registrations, payments,
                                                                            enrollments, grades; reference data
                                                                            broadcast to every partition)
    identity ─> moodle (links, users) ─> person (linked Moodle grades) ─> canonical.* topics
"""

from __future__ import annotations

import logging
import sys

import faust
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from common.logs import setup_logging
from common.settings import get_settings
from schemas.topics import CANONICAL_ENTITIES, DEADLETTER, RAW_MOODLE, RAW_ZOHO, canonical
from streams.config import StreamsSettings
from streams.consumer import Stream, harden
from streams.deliveries import Deliveries
from streams.producer import LibrdkafkaProducer, producer_of
from streams.state import State
from streams.store import SHARED_ROCKSDB

settings = get_settings()
config = StreamsSettings()
PARTITIONS = settings.topic_partitions


class App(faust.App):
    def _new_producer(self) -> faust.types.ProducerT:
        # Sends through librdkafka: see streams/producer.py for why and what stays faust's.
        return LibrdkafkaProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_consumer(self) -> faust.types.ConsumerT:
        # No input committed unread: see streams/consumer.py.
        consumer = super()._new_consumer()
        harden(consumer)
        return consumer


app = App(
    config.app_id,
    broker=f"kafka://{settings.kafka_bootstrap()}",
    # faust's RocksDB store with one memory budget for all of the worker's databases (streams/store.py).
    store=SHARED_ROCKSDB,
    datadir=str(config.datadir),
    topic_partitions=PARTITIONS,
    topic_replication_factor=settings.topic_replication,
    processing_guarantee="at_least_once",
    Stream=Stream,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=10,
    broker_rebalance_timeout=10,
    broker_heartbeat_interval=2,
    broker_commit_interval=1.0,
    web_port=config.web_port,
    web_bind="127.0.0.1",
    table_cleanup_interval=60.0,
    table_standby_replicas=config.standby_replicas,
    # Batch sends a little: each produce request costs far more Python than each record in it.
    producer_linger_ms=5,
    producer_max_batch_size=256 * 1024,
    stream_buffer_maxsize=1024,
    broker_max_poll_records=config.max_poll_records or None,
    # No leader election is used (every timer runs on every worker), so no leader topic to race on.
    topic_disable_leader=True,
    # Table keys and values are JSON; topics set their own (raw bytes) serializers.
    key_serializer="json",
    value_serializer="json",
)


def _bytes_topic(name: str, internal: bool = False) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=PARTITIONS,
        internal=internal,
    )


raw_topics = app.topic(
    RAW_ZOHO, RAW_MOODLE, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
identity_topic = _bytes_topic(f"{config.app_id}-identity", internal=True)
moodle_topic = _bytes_topic(f"{config.app_id}-moodle", internal=True)
person_topic = _bytes_topic(f"{config.app_id}-person", internal=True)
deadletter_topic = _bytes_topic(DEADLETTER)
canonical_topics = {entity: _bytes_topic(canonical(entity)) for entity in CANONICAL_ENTITIES}


async def publish(topic: faust.TopicT | str, key: bytes | None, value: bytes, *, partition: int | None = None,
                  headers: dict[str, bytes] | None = None) -> None:
    """A stage's output, straight to librdkafka (LibrdkafkaProducer.produce: the same guarantee, less cost)."""
    name = topic if isinstance(topic, str) else topic.get_topic_name()
    await producer_of(app).produce(name, key, value, partition, headers)


async def delivered() -> None:
    """Wait until every output queued so far is stored by the broker (LibrdkafkaProducer.delivered)."""
    await producer_of(app).delivered()


def state(name: str, *, keeps_reads: bool = True) -> State:
    return State(app, name, PARTITIONS, config.cache_entries, config.cache_bytes, keeps_reads=keeps_reads)


# Intake: delivery ids seen lately (by the raw records' time), for dropping redeliveries.
deliveries = Deliveries(app, "delivery-ids", PARTITIONS, config.delivery_dedupe_s)

# Identity: tenant/email -> {"student", "users"}.
identities = state("identities")
# Moodle side: tenant/moodle user id -> link, last user event, waiting grades.
links = state("links")
moodle_users = state("moodle-users")
moodle_pending = state("moodle-pending", keeps_reads=False)
# Person side, keyed tenant/student id; reference data copied to every partition.
students = state("students")
registrations = state("registrations")
person_pending = state("person-pending", keeps_reads=False)
refs = state("refs")
# Last emitted fingerprint and version per tenant/entity/id, for unchanged and out-of-date records.
emitted = state("emitted")

EVENTS_IN = Counter("streams_raw_records_total", "Raw records read", ["topic"])
EVENTS_OUT = Counter("streams_canonical_events_total", "Canonical events emitted", ["entity", "event_type"])
DEAD_LETTERS = Counter("streams_dead_letters_total", "Dead letters written", ["reason"])
DROPPED = Counter("streams_dropped_total", "Records that produced nothing new", ["why"])
SKIPPED = Counter("streams_skipped_records_total", "Input records a stage never saw (offsets jumped)", ["topic"])
FAILED_BATCHES = Counter("streams_failed_batches_total", "Batches whose processing raised: not committed, their "
                         "partitions read again", ["stage"])
WAITING = Gauge("streams_waiting_records", "Records waiting for a dependency", ["stage", "partition"])


@app.task
async def json_logs() -> None:
    """Once the worker has configured logging: JSON lines, and no per-message debug records."""
    # The real stderr: faust's worker command has replaced sys.stderr with a proxy that logs what is written to
    # it, so a handler writing there logged into itself, and every line the worker logged was lost.
    setup_logging("streams", settings.log_level, sys.__stderr__)
    for noisy in ("aiokafka", "faust.topics", "faust.transport"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
    logging.getLogger(__name__).info("worker started", extra={
        "app_id": config.app_id, "partitions": PARTITIONS, "batch_max": config.batch_max,
        "max_poll_records": config.max_poll_records, "rocksdb_mb": config.rocksdb_mb})


@app.page("/metrics")
async def metrics(view: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    # aiohttp refuses a charset inside content_type; Prometheus text is UTF-8 by definition.
    return view.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split("; charset")[0])
