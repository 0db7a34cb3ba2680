"""The Moodle sink: canonical Zoho records -> Moodle users, categories, courses, enrolments -> outcomes.

Per flush: gather events (linger or a cap), keep the newest change per record, add the tenant's parked writes,
provision per tenant (tenants in parallel, each with its own site and token), save the state, publish the
outcomes and dead letters, and only then commit the consumed offsets. A crash or an outage before the commit
replays the events; the state makes the replay write nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from common.kafka import produce_all, producer_config
from schemas.codec import UnknownSchemaError, decode
from schemas.topics import canonical
from sinks.moodle import sink_metrics
from sinks.moodle.client import MoodleClient, MoodleRefused, MoodleUnavailable
from sinks.moodle.mapping import (
    KIND_ORDER,
    MoodleWrite,
    class_writes,
    enrollment_write,
    program_write,
    student_write,
    teacher_write,
)
from sinks.moodle.outcomes import Message as OutMessage
from sinks.moodle.outcomes import dead_letter_message, outcome_message
from sinks.moodle.provision import Provisioner
from sinks.moodle.settings import MoodleSinkSettings, Site
from sinks.moodle.state import StateStore

log = logging.getLogger("moodle_sink.sink")

ENTITIES = ("program", "student", "teacher", "class", "enrollment")
TOPICS = tuple(canonical(e) for e in ENTITIES)
Partition = tuple[str, int]
WAITING, REFUSED = "waiting", "refused"


def route(topic: str, event: dict[str, Any], sites: dict[str, Site]) -> list[MoodleWrite]:
    """The Moodle records an event calls for (none, counted by reason, when the sink has nothing to do)."""
    site = sites.get(str(event["tenant"]))
    reason: str | None = None
    writes: list[MoodleWrite] = []
    entity = topic.removeprefix("canonical.")
    if site is None:
        reason = "no_moodle_site"
    elif event["origin"] != "zoho":
        reason = "moodle_origin"  # Moodle made it (the plugin's events of our own writes among them): no echo
    elif event.get("payload") is None:
        reason = "deleted"
    elif entity == "enrollment":
        write = enrollment_write(event, site.options, datetime.now(UTC).date())
        writes = [write] if write is not None else []
    elif str(event["event_type"]).endswith("Deleted"):
        reason = "deleted"  # people, courses and categories are never deleted by the sink
    elif entity == "student":
        write = student_write(event, site.options)
        writes = [write] if write is not None else []
    elif entity == "teacher":
        write = teacher_write(event, site.options)
        writes = [write] if write is not None else []
    elif entity == "program":
        writes = [program_write(event)]
    elif entity == "class":
        writes = class_writes(event, site.options)
    else:
        reason = "unknown_topic"
    if not writes and reason is None:
        reason = f"{entity}_not_provisioned"
    if reason is not None:
        sink_metrics.SKIPPED.labels(reason=reason).inc()
    return writes


@dataclass
class Pending:
    """Writes consumed since the last commit, newest per record, and the offsets to commit once done."""

    writes: dict[tuple[str, str, str], tuple[Partition, MoodleWrite]] = field(default_factory=dict)
    offsets: dict[Partition, int] = field(default_factory=dict)
    consumed: int = 0

    def add(self, partition: Partition, offset: int, writes: list[MoodleWrite]) -> None:
        self.consumed += 1
        self.offsets[partition] = max(self.offsets.get(partition, 0), offset + 1)
        for w in writes:
            key = (w.tenant, w.kind, w.record_key)
            held = self.writes.get(key)
            if held is None or w.source_version >= held[1].source_version:
                self.writes[key] = (partition, w)

    def drop(self, partitions: list[Partition]) -> None:
        gone = set(partitions)
        self.writes = {k: v for k, v in self.writes.items() if v[0] not in gone}
        self.offsets = {p: o for p, o in self.offsets.items() if p not in gone}

    def by_tenant(self) -> dict[str, list[MoodleWrite]]:
        out: dict[str, list[MoodleWrite]] = {}
        for _, w in self.writes.values():
            out.setdefault(w.tenant, []).append(w)
        return out

    def clear(self) -> None:
        self.writes.clear()
        self.offsets.clear()
        self.consumed = 0


class Sink:
    def __init__(self, settings: MoodleSinkSettings, sites: dict[str, Site], bootstrap: str,
                 state: StateStore) -> None:
        self.settings = settings
        self.sites = sites
        self.state = state
        self.pending = Pending()
        self._first_at: float | None = None
        self._paused = False
        # Tenant -> when its refused writes are tried again.
        self._refused_until: dict[str, float] = {}
        self._next_parked_check = 0.0
        self._http: list[httpx.AsyncClient] = []
        self.clients: dict[str, MoodleClient] = {}
        self.provisioners: dict[str, Provisioner] = {}
        for tenant, site in sites.items():
            http = httpx.AsyncClient(verify=site.verify_tls, timeout=site.timeout_s)
            self._http.append(http)
            client = MoodleClient(tenant, site.url, site.token.get_secret_value(), http, attempts=settings.attempts,
                                  backoff_base_s=settings.backoff_base_s, backoff_cap_s=settings.backoff_cap_s)
            self.clients[tenant] = client
            self.provisioners[tenant] = Provisioner(client, site.options, state)
            sink_metrics.TENANT_REFUSED.labels(tenant=tenant).set(0)
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": settings.group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": settings.session_timeout_ms,
            "statistics.interval.ms": 5000, "stats_cb": self._stats,
        })
        self.producer = Producer(producer_config(bootstrap))

    async def run(self, stop: asyncio.Event) -> None:
        # librdkafka's calls block; they run on a thread so the tenants' HTTP calls and timers go on meanwhile.
        self.consumer.subscribe(list(TOPICS), on_revoke=self._revoked, on_lost=self._revoked)
        # Writes parked by an earlier run for a refused token are tried again at once (the token may be fixed:
        # a restart is how a new token usually arrives).
        for tenant, reason in await self.state.parked_counts():
            if reason == REFUSED and tenant in self.sites:
                self._refused_until[tenant] = 0.0
        try:
            while not stop.is_set():
                for msg in await asyncio.to_thread(self.consumer.consume, 500, 0.1):
                    self._take(msg)
                if self._due():
                    await self._flush()
                elif not self._paused and time.monotonic() >= self._next_parked_check:
                    await self._retry_refused()
            if self.pending.consumed and not self._paused:
                await self._flush()
        finally:
            await asyncio.to_thread(self.consumer.close)
            await asyncio.to_thread(self.producer.flush, 10)
            for http in self._http:
                await http.aclose()

    def _take(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", extra={"error": str(error)})
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None and partition is not None and offset is not None
        writes: list[MoodleWrite] = []
        try:
            _, event = decode(msg.value() or b"")
            writes = route(topic, event, self.sites)
        except (UnknownSchemaError, ValueError, KeyError, TypeError) as exc:
            sink_metrics.SKIPPED.labels(reason="undecodable").inc()
            log.error("event the sink cannot read skipped", extra={"topic": topic, "partition": partition,
                                                                   "offset": offset, "error": str(exc)})
        if self._first_at is None:
            self._first_at = time.monotonic()
        self.pending.add((topic, partition), offset, writes)

    def _due(self) -> bool:
        if not self.pending.consumed or self._first_at is None:
            return False
        now = time.monotonic()
        if self._paused:
            return now >= self._first_at
        return len(self.pending.writes) >= self.settings.max_pending or \
            now - self._first_at >= self.settings.linger_ms / 1000

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.pending.drop([(tp.topic, tp.partition) for tp in partitions])
        if not self.pending.consumed:
            self._first_at = None

    def _stats(self, raw: str) -> None:
        for topic, data in json.loads(raw).get("topics", {}).items():
            for partition, p in data.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0:
                    sink_metrics.LAG.labels(topic=topic, partition=partition).set(p["consumer_lag"])

    # -- flushing -----------------------------------------------------------------------------------------

    async def _flush(self) -> None:
        started = time.monotonic()
        try:
            by_tenant = self.pending.by_tenant()
            batches = await asyncio.gather(*(self._tenant(t, ws) for t, ws in by_tenant.items()))
            await asyncio.to_thread(self._publish, [m for batch in batches for m in batch])
            await asyncio.to_thread(self._commit)
            await self._count_parked()
        except (MoodleUnavailable, httpx.HTTPError, KafkaException, OSError) as exc:
            # Moodle or the broker is unreachable: keep the events, stop fetching more, try again later.
            sink_metrics.FLUSH_FAILURES.labels(error=type(exc).__name__).inc()
            log.warning("flush failed, retrying", extra={"error": str(exc), "events": self.pending.consumed})
            if not self._paused:
                self.consumer.pause(self.consumer.assignment())
                self._paused = True
            self._first_at = time.monotonic() + self.settings.retry_pause_s
            return
        if self._paused:
            self.consumer.resume(self.consumer.assignment())
            self._paused = False
        sink_metrics.FLUSH_SECONDS.observe(time.monotonic() - started)
        self.pending.clear()
        self._first_at = None

    async def _retry_refused(self) -> None:
        """Refused tenants' parked writes, tried again at the refused pace (their token may have been fixed)."""
        self._next_parked_check = time.monotonic() + max(self.settings.retry_pause_s, 0.5)
        now = time.monotonic()
        due = [t for t, until in self._refused_until.items() if now >= until]
        if not due:
            return
        try:
            batches = await asyncio.gather(*(self._tenant(t, []) for t in due))
            await asyncio.to_thread(self._publish, [m for batch in batches for m in batch])
            await self._count_parked()
        except (MoodleUnavailable, httpx.HTTPError, KafkaException, OSError) as exc:
            log.warning("retry of refused writes failed", extra={"error": str(exc)})

    async def _tenant(self, tenant: str, new: list[MoodleWrite]) -> list[OutMessage]:
        if tenant in self._refused_until and time.monotonic() < self._refused_until[tenant]:
            await self.state.park(REFUSED, new)
            return []
        parked = await self.state.parked(tenant)
        newest: dict[tuple[str, str], MoodleWrite] = {}
        for w in [*parked, *new]:
            held = newest.get((w.kind, w.record_key))
            if held is None or w.source_version >= held.source_version:
                newest[(w.kind, w.record_key)] = w
        writes = sorted(newest.values(), key=lambda w: KIND_ORDER[w.kind])
        if not writes:
            return []
        try:
            result = await self.provisioners[tenant].run(tenant, writes)
        except MoodleRefused as exc:
            # No write of this tenant can succeed until its administrator fixes the token or its role: park them
            # all (nothing is lost, offsets move on), say so loudly, and let the other tenants go on.
            sink_metrics.TENANT_REFUSED.labels(tenant=tenant).set(1)
            self._refused_until[tenant] = time.monotonic() + self.settings.refused_retry_s
            log.error("moodle refuses this tenant's token", extra={
                "tenant": tenant, "wsfunction": exc.wsfunction, "code": exc.errorcode, "error": exc.message,
                "parked": len(writes)})
            await self.state.park(REFUSED, writes)
            return []
        if tenant in self._refused_until:
            del self._refused_until[tenant]
            log.info("moodle accepts this tenant's token again", extra={"tenant": tenant})
        sink_metrics.TENANT_REFUSED.labels(tenant=tenant).set(0)
        waiting = {(w.kind, w.record_key) for w in result.waiting}
        await self.state.park(WAITING, result.waiting)
        await self.state.unpark([w for w in writes if (w.kind, w.record_key) not in waiting])
        if result.waiting:
            log.info("enrolments wait for their user or course", extra={"tenant": tenant,
                                                                        "waiting": len(result.waiting)})
        messages: list[OutMessage] = []
        for outcome in result.outcomes:
            sink_metrics.OUTCOMES.labels(tenant=tenant, entity=outcome.write.entity, action=outcome.action).inc()
            messages.append(outcome_message(outcome))
            if outcome.action == "failed":
                log.warning("moodle rejected a record", extra={
                    "tenant": tenant, "entity": outcome.write.entity, "record_key": outcome.write.record_key,
                    "code": outcome.error_code, "error": outcome.error_message})
                messages.append(dead_letter_message(outcome))
        return messages

    async def _count_parked(self) -> None:
        counts = await self.state.parked_counts()
        for tenant in self.sites:
            for reason in (WAITING, REFUSED):
                sink_metrics.PARKED.labels(tenant=tenant, reason=reason).set(counts.get((tenant, reason), 0))

    def _publish(self, messages: list[OutMessage]) -> None:
        produce_all(self.producer, messages)

    def _commit(self) -> None:
        offsets = [TopicPartition(t, p, o) for (t, p), o in self.pending.offsets.items()]
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=False)
