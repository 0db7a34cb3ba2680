"""The Zoho sink: canonical events -> batched, idempotent Zoho writes -> outcomes; offsets committed last.

Per flush: gather events (linger or a cap), collapse to the newest change per record, drop what the
state table says Zoho already holds (same fingerprint, or a newer version), write the rest per tenant
(tenants in parallel, each with its own Zoho account), save the state, publish the outcomes and dead
letters, and only then commit the consumed offsets. A crash anywhere before the commit replays the
events; the state table and the upsert key make the replay write nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from common.batched_consumer import BatchedConsumer, LoopMetrics, Outgoing
from common.settings import get_settings
from common.tenants import TenantRegistry
from common.zoho.budget import CreditLedger
from common.zoho.client import ZohoClient
from common.zoho.errors import ZohoAuthError, ZohoError, ZohoRequestError
from schemas.codec import decode
from schemas.mapping import mapping_of
from schemas.topics import COMMANDS_ZOHO
from sinks.zoho import sink_metrics
from sinks.zoho.batching import TOPICS, Group, groups, route, with_fields
from sinks.zoho.commands import retried_event
from sinks.zoho.mapping import ZohoWrite
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
LOOP_METRICS = LoopMetrics(sink_metrics.SKIPPED, sink_metrics.LAG, sink_metrics.FLUSH_SECONDS,
                           sink_metrics.FLUSH_FAILURES)


class Sink(BatchedConsumer[ZohoWrite]):
    def __init__(self, settings: SinkSettings, tenants: dict[str, SinkTenant], bootstrap: str,
                 state: StateStore, ledger: CreditLedger | None = None) -> None:
        super().__init__(bootstrap, [*TOPICS, COMMANDS_ZOHO], decode, settings, LOOP_METRICS,
                         (ZohoError, httpx.HTTPError), log)
        self.tenants = tenants
        self.state = state
        # The tenants' field mappings: which Zoho module holds the students, teachers and classes the Moodle sink
        # reports ids for.
        self._registry = TenantRegistry(get_settings(), required=False)
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

    async def route(self, topic: str, event: dict[str, Any]) -> list[ZohoWrite]:
        if topic == COMMANDS_ZOHO:
            write = await self._command(event)
        else:
            write = route(topic, event, self.tenants, mapping_of(self._registry.get(str(event["tenant"]))))
        return [] if write is None else [write]

    async def on_close(self) -> None:
        for http in self._http:
            await http.aclose()

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

    async def act(self, writes: list[ZohoWrite]) -> list[Outgoing]:
        by_tenant: dict[str, list[Group]] = {}
        for group in groups(writes):
            by_tenant.setdefault(group.tenant, []).append(group)
        batches = await asyncio.gather(*(self._tenant(t, gs) for t, gs in by_tenant.items()))
        return [m for batch in batches for m in batch]

    async def _tenant(self, tenant: str, tenant_groups: Sequence[Group]) -> list[Outgoing]:
        messages: list[Outgoing] = []
        for group in tenant_groups:
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
