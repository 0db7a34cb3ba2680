"""The Moodle sink: canonical Zoho records -> Moodle users, categories, courses, enrolments -> outcomes.

Per flush: gather events (linger or a cap), keep the newest change per record, add the tenant's parked writes,
provision per tenant (tenants in parallel, each with its own site and token), save the state, publish the
outcomes and dead letters, and only then commit the consumed offsets. A crash or an outage before the commit
replays the events; the state makes the replay write nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import KafkaException

from common.batched_consumer import BatchedConsumer, LoopMetrics, Outgoing
from schemas.codec import decode
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
from sinks.moodle.outcomes import dead_letter_message, outcome_message
from sinks.moodle.provision import Provisioner
from sinks.moodle.settings import MoodleSinkSettings, Site
from sinks.moodle.state import StateStore

log = logging.getLogger("moodle_sink.sink")

ENTITIES = ("program", "student", "teacher", "class", "enrollment")
TOPICS = tuple(canonical(e) for e in ENTITIES)
WAITING, REFUSED = "waiting", "refused"
LOOP_METRICS = LoopMetrics(sink_metrics.SKIPPED, sink_metrics.LAG, sink_metrics.FLUSH_SECONDS,
                           sink_metrics.FLUSH_FAILURES)


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


class Sink(BatchedConsumer[MoodleWrite]):
    def __init__(self, settings: MoodleSinkSettings, sites: dict[str, Site], bootstrap: str,
                 state: StateStore) -> None:
        super().__init__(bootstrap, TOPICS, decode, settings, LOOP_METRICS, (MoodleUnavailable, httpx.HTTPError), log)
        self.moodle_settings = settings
        self.sites = sites
        self.state = state
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

    async def route(self, topic: str, event: dict[str, Any]) -> list[MoodleWrite]:
        return route(topic, event, self.sites)

    async def on_start(self) -> None:
        # Writes parked by an earlier run for a refused token are tried again at once (the token may be fixed:
        # a restart is how a new token usually arrives).
        for tenant, reason in await self.state.parked_counts():
            if reason == REFUSED and tenant in self.sites:
                self._refused_until[tenant] = 0.0

    async def on_idle(self) -> None:
        if time.monotonic() >= self._next_parked_check:
            await self._retry_refused()

    async def on_close(self) -> None:
        for http in self._http:
            await http.aclose()

    async def act(self, writes: list[MoodleWrite]) -> list[Outgoing]:
        by_tenant: dict[str, list[MoodleWrite]] = {}
        for w in writes:
            by_tenant.setdefault(w.tenant, []).append(w)
        batches = await asyncio.gather(*(self._tenant(t, ws) for t, ws in by_tenant.items()))
        await self._count_parked()
        return [m for batch in batches for m in batch]

    async def _retry_refused(self) -> None:
        """Refused tenants' parked writes, tried again at the refused pace (their token may have been fixed)."""
        self._next_parked_check = time.monotonic() + max(self.moodle_settings.retry_pause_s, 0.5)
        now = time.monotonic()
        due = [t for t, until in self._refused_until.items() if now >= until]
        if not due:
            return
        try:
            batches = await asyncio.gather(*(self._tenant(t, []) for t in due))
            await self.publish([m for batch in batches for m in batch])
            await self._count_parked()
        except (MoodleUnavailable, httpx.HTTPError, KafkaException, OSError) as exc:
            log.warning("retry of refused writes failed", extra={"error": str(exc)})

    async def _tenant(self, tenant: str, new: list[MoodleWrite]) -> list[Outgoing]:
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
            self._refused_until[tenant] = time.monotonic() + self.moodle_settings.refused_retry_s
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
        messages: list[Outgoing] = []
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
