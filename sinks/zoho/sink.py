"""The Zoho sink: canonical events -> batched, idempotent Zoho writes -> outcomes; offsets committed last.

Per flush: gather events (linger or a cap), collapse to the newest change per record, drop what the
state table says Zoho already holds (same fingerprint, or a newer version), write the rest per tenant
(tenants in parallel, each with its own Zoho account), save the state, publish the outcomes and dead
letters, and only then commit the consumed offsets. A crash anywhere before the commit replays the
events; the state table and the upsert key make the replay write nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from common.kafka import produce_all
from common.settings import get_settings
from common.tenants import TenantRegistry
from common.zoho.budget import CreditLedger
from common.zoho.client import ZohoClient
from common.zoho.errors import ZohoAuthError, ZohoError, ZohoRequestError
from schemas.codec import UnknownSchemaError, decode
from schemas.mapping import mapping_of
from schemas.topics import COMMANDS_ZOHO
from sinks.zoho import sink_metrics
from sinks.zoho.batching import TOPICS, Group, Pending, route, with_fields
from sinks.zoho.commands import retried_event
from sinks.zoho.mapping import ZohoWrite
from sinks.zoho.outcomes import Message as OutMessage
from sinks.zoho.outcomes import dead_letter_message, outcome_message
from sinks.zoho.probe import WriteProbe
from sinks.zoho.settings import SinkSettings, SinkTenant
from sinks.zoho.state import StateStore, Written
from sinks.zoho.writer import Outcome, TenantWriter

log = logging.getLogger("zoho_sink.sink")

OLDER = "older than the version already written to Zoho"
# Zoho's answers that mean "this app may not write there" until the org's admin changes it.
REFUSALS = frozenset({"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"})
SUPERSEDED = "superseded by a newer change in the same batch"


class Sink:
    def __init__(self, settings: SinkSettings, tenants: dict[str, SinkTenant], bootstrap: str,
                 state: StateStore, ledger: CreditLedger | None = None) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.tenants = tenants
        self.state = state
        self.pending = Pending()
        # The tenants' field mappings: which Zoho module holds the students, teachers and classes the Moodle sink
        # reports ids for.
        self._registry = TenantRegistry(get_settings(), required=False)
        # When the first event, and the first event that needs a write, came in since the last flush.
        self._first_at: float | None = None
        self._first_write_at: float | None = None
        self._paused = False
        client_settings = settings.client_settings()
        self._http: list[httpx.AsyncClient] = []
        self.writers: dict[str, TenantWriter] = {}
        for tenant, config in tenants.items():
            # A transport per tenant, so the probe sees only that tenant's writes.
            probe = WriteProbe(httpx.AsyncHTTPTransport(), settings.settle_s)
            http = httpx.AsyncClient(transport=probe, timeout=client_settings.timeout_s)
            self._http.append(http)
            client = ZohoClient(config.account, client_settings, http=http,
                                on_spend=ledger.spend if ledger is not None else None)
            self.writers[tenant] = TenantWriter(client, probe)
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": settings.group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": settings.session_timeout_ms,
            "statistics.interval.ms": 5000, "stats_cb": self._stats,
        })
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                  "linger.ms": 5})

    # -- consuming ----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        # librdkafka's calls block; they run on a thread so the tenants' HTTP calls and timers go on meanwhile.
        self.consumer.subscribe([*TOPICS, COMMANDS_ZOHO], on_revoke=self._revoked, on_lost=self._revoked)
        try:
            while not stop.is_set():
                for msg in await asyncio.to_thread(self.consumer.consume, 500, 0.1):
                    await self._take(msg)
                if self._due():
                    await self._flush()
            if self.pending.consumed and not self._paused:
                await self._flush()
        finally:
            await asyncio.to_thread(self.consumer.close)
            await asyncio.to_thread(self.producer.flush, 10)
            for http in self._http:
                await http.aclose()

    async def _take(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", extra={"error": str(error)})
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None and partition is not None and offset is not None
        write: ZohoWrite | None = None
        try:
            _, event = decode(msg.value() or b"")
            if topic == COMMANDS_ZOHO:
                write = await self._command(event)
            else:
                write = route(topic, event, self.tenants, mapping_of(self._registry.get(str(event["tenant"]))))
        except (UnknownSchemaError, ValueError, KeyError) as exc:
            sink_metrics.SKIPPED.labels(reason="undecodable").inc()
            log.error("event the sink cannot read skipped", extra={"topic": topic, "partition": partition,
                                                                   "offset": offset, "error": str(exc)})
        now = time.monotonic()
        if self._first_at is None:
            self._first_at = now
        if write is not None and self._first_write_at is None:
            self._first_write_at = now
        self.pending.add((topic, partition), offset, write)

    async def _command(self, command: dict[str, Any]) -> ZohoWrite | None:
        """A retry: the named event again, as if it had just arrived (the state holds nothing for a failed write,
        so it is written). Other commands on the topic are the puller's."""
        if command["command"] != "retry":
            return None
        found = await asyncio.to_thread(retried_event, self.bootstrap, command)
        if found is None:
            sink_metrics.SKIPPED.labels(reason="retry_event_gone").inc()
            log.warning("retry asks for an event no longer in the log", extra={
                "tenant": command["tenant"], "entity": command["entity"], "event_id": command["event_id"]})
            return None
        log.info("retrying a write on request", extra={"tenant": command["tenant"], "entity": command["entity"],
                                                       "event_id": command["event_id"], "reason": command["reason"]})
        return route(found.topic, found.event, self.tenants,
                     mapping_of(self._registry.get(str(found.event["tenant"]))))

    def _due(self) -> bool:
        if not self.pending.consumed or self._first_at is None:
            return False
        now = time.monotonic()
        if self._paused:
            return now >= self._first_at
        linger = self.settings.linger_ms / 1000
        if self._first_write_at is None:
            # Only events with nothing to write (other tenants', Zoho's own): commit them at the linger's pace.
            return now - self._first_at >= linger
        # Skipped events hold no memory and cost no call, so only the writes count toward a full batch; the
        # linger runs from the first write, so a backlog of skipped events does not cut a batch short.
        return len(self.pending.events) >= self.settings.max_pending or now - self._first_write_at >= linger

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.pending.drop((tp.topic, tp.partition) for tp in partitions)
        if not self.pending.events:
            self._first_write_at = None
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
            by_tenant: dict[str, list[Group]] = {}
            for group in self.pending.groups():
                by_tenant.setdefault(group.tenant, []).append(group)
            batches = await asyncio.gather(*(self._tenant(t, gs) for t, gs in by_tenant.items()))
            await asyncio.to_thread(self._publish, [m for batch in batches for m in batch])
            await asyncio.to_thread(self._commit)
        except (ZohoError, httpx.HTTPError, KafkaException, OSError) as exc:
            # Zoho or the broker is unreachable: keep the events, stop fetching more, try again later.
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
        self._first_write_at = None

    async def _tenant(self, tenant: str, groups: Sequence[Group]) -> list[OutMessage]:
        messages: list[OutMessage] = []
        for group in groups:
            try:
                outcomes, notes = await self._group(group)
            except (ZohoAuthError, ZohoRequestError) as exc:
                code = getattr(exc, "code", None)
                if code not in REFUSALS and getattr(exc, "status", None) != 403:
                    raise
                # The org refuses this app the module (a scope the token lacks, a profile without rights):
                # no retry fixes that. Each record fails visibly (outcome, dead letter, retry from the control
                # plane once the admin grants it); the other tenants' writes go on.
                log.error("zoho refuses this tenant's writes", extra={"tenant": tenant, "zoho_module": group.module,
                                                                      "code": code, "error": str(exc)})
                outcomes = [Outcome(w, "failed", None, 1, code, str(exc), group.module)
                            for w in group.newest.values()]
                notes = [None] * len(outcomes)
            if any(o.error_code in REFUSALS for o in outcomes):
                sink_metrics.TENANT_REFUSED.labels(tenant=tenant).set(1)
            elif any(o.action in ("created", "updated") for o in outcomes):
                sink_metrics.TENANT_REFUSED.labels(tenant=tenant).set(0)
            for outcome, note in zip(outcomes, notes, strict=True):
                sink_metrics.OUTCOMES.labels(tenant=tenant, module=group.module, action=outcome.action).inc()
                messages.append(outcome_message(outcome, note))
                if outcome.action == "failed":
                    log.warning("zoho rejected a record", extra={
                        "tenant": tenant, "zoho_module": group.module, "record_key": outcome.write.record_key,
                        "code": outcome.error_code, "error": outcome.error_message})
                    messages.append(dead_letter_message(outcome))
        return messages

    async def _group(self, group: Group) -> tuple[list[Outcome], list[str | None]]:
        kept = await self.state.held(group.tenant, group.module, list(group.newest))
        writes = [with_fields(w, {**kept.get(k, {}), **group.held.get(k, {})}) for k, w in group.newest.items()]
        await self.state.hold(group.tenant, group.module,
                              {k: f for k, f in group.held.items() if k not in group.newest})
        held = await self.state.load(group.tenant, group.module, [w.record_key for w in writes])
        outcomes: list[Outcome] = []
        notes: list[str | None] = []
        saves: list[Written] = []
        changed: list[ZohoWrite] = []
        for w in writes:
            last = held.get(w.record_key)
            if last is not None and last.source_version > w.source_version:
                outcomes.append(Outcome(w, "unchanged", last.zoho_id))
                notes.append(OLDER)
            elif last is not None and last.fingerprint == w.fingerprint:
                outcomes.append(Outcome(w, "unchanged", last.zoho_id))
                notes.append(None)
                if w.source_version > last.source_version:
                    saves.append(Written(w.record_key, w.fingerprint, last.zoho_id, w.source_version, w.event_id,
                                         last.lo_rows, last.ended))
            else:
                changed.append(w)
        # Remembered row ids hold only until the record is written again: forgotten first, saved again after a
        # write that succeeds, so a crash in between leaves them unknown (one read), never wrong.
        await self.state.forget_rows(group.tenant, group.module,
                                     [w.record_key for w in changed if (last := held.get(w.record_key))
                                      is not None and last.lo_rows is not None])
        written = await self.writers[group.tenant].write(group.module, changed, held)
        for outcome in written:
            outcomes.append(outcome)
            notes.append(None)
            if outcome.action in ("created", "updated") and outcome.zoho_id is not None:
                w = outcome.write
                saves.append(Written(w.record_key, w.fingerprint, outcome.zoho_id, w.source_version, w.event_id,
                                     outcome.row_ids, w.ends))
        await self.state.save(group.tenant, group.module, saves)
        await self.state.release(group.tenant, group.module, [s.record_key for s in saves if s.record_key in kept])
        for w in group.superseded:
            outcomes.append(Outcome(w, "unchanged"))
            notes.append(SUPERSEDED)
        return outcomes, notes

    def _publish(self, messages: list[OutMessage]) -> None:
        produce_all(self.producer, messages)

    def _commit(self) -> None:
        offsets = [TopicPartition(t, p, o) for (t, p), o in self.pending.offsets.items()]
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=False)

