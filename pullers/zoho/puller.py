"""The puller's loop: every tenant on its interval, and pulls asked for on `commands.zoho`, one run per tenant at a
time (so never more concurrent calls than the sink's and one of ours), each module after the other."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaError, Message

from common.settings import get_settings
from common.tenants import TenantRegistry
from common.zoho.budget import CreditLedger
from common.zoho.client import ZohoClient
from common.zoho.errors import ZohoError
from pullers.zoho import metrics
from pullers.zoho.pull import ModulePull, OutOfCredits, Tally
from pullers.zoho.raw import RawWriter
from pullers.zoho.settings import PullerSettings, PullTenant
from pullers.zoho.state import PullState
from schemas.codec import UnknownSchemaError, decode
from schemas.mapping import accepted_modules, mapping_of
from schemas.topics import COMMANDS_ZOHO

log = logging.getLogger("zoho_puller")


@dataclass(frozen=True)
class Run:
    run_id: str
    tenant: str
    module: str | None
    full: bool
    trigger: str


def module_fields(tenant_mapping: Any, module: str) -> list[str]:
    """The API names the tenant's mapping reads from `module` (field-name variants with a space are webhook
    labels, not API names); `id` and `Modified_Time` always."""
    entity = tenant_mapping.entity_for_module(module)
    if entity is None:
        return ["Modified_Time"]
    names = ["Modified_Time"]
    for variants in tenant_mapping.entities[entity].fields.values():
        names += [v for v in variants if " " not in v and v != "id"]
    return list(dict.fromkeys(names))


class Puller:
    def __init__(self, settings: PullerSettings, tenants: dict[str, PullTenant], bootstrap: str, state: PullState,
                 ledger: CreditLedger) -> None:
        self.settings = settings
        self.tenants = {t: p for t, p in tenants.items() if p.options.enabled}
        self.state = state
        self.ledger = ledger
        self.raw = RawWriter(bootstrap)
        self.registry = TenantRegistry(get_settings(), required=False)
        self._http = httpx.AsyncClient(timeout=settings.zoho_timeout_s)
        self.clients = {t: ZohoClient(p.account, settings.client_settings(), http=self._http, on_spend=ledger.spend)
                        for t, p in self.tenants.items()}
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": settings.group_id,
                                  "enable.auto.commit": False, "auto.offset.reset": "latest"})
        self._due = {t: 0.0 for t in self.tenants}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._queue: dict[str, list[Run]] = {t: [] for t in self.tenants}

    def modules(self, tenant: str, only: str | None) -> list[str]:
        options = self.tenants[tenant].options
        secrets = self.registry.get(tenant)
        enabled = options.modules or (accepted_modules(secrets) if secrets is not None else
                                      [m.module for m in mapping_of(None).entities.values()])
        return [m for m in enabled if only is None or m == only]

    async def run(self, stop: asyncio.Event) -> None:
        for row in await self.state.unfinished():
            if row["tenant"] in self._queue:
                self._queue[row["tenant"]].append(Run(row["run_id"], row["tenant"], row["module"], row["full_load"],
                                                      row["trigger"]))
        self.consumer.subscribe([COMMANDS_ZOHO])
        try:
            while not stop.is_set():
                for msg in await asyncio.to_thread(self.consumer.consume, 100, self.settings.tick_s):
                    await self._command(msg)
                await self._schedule()
            for task in self._running.values():
                task.cancel()
        finally:
            await asyncio.to_thread(self.consumer.close)
            await self._http.aclose()

    async def _command(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", extra={"error": str(error)})
            return
        try:
            _, command = decode(msg.value() or b"")
        except (UnknownSchemaError, ValueError) as exc:
            log.error("command the puller cannot read skipped", extra={"error": str(exc)})
            return
        if command["command"] == "pull":
            tenant = str(command["tenant"])
            if tenant not in self.tenants:
                log.warning("pull asked for a tenant without a Zoho account", extra={"tenant": tenant})
            else:
                run = Run(str(command["command_id"]), tenant, command["module"], bool(command["full"]), "command")
                # Stored before the command is committed: a crash after this finds the run queued.
                await self.state.run_requested(run.run_id, run.tenant, run.module, run.full, run.trigger)
                self._queue[tenant].append(run)
        await asyncio.to_thread(lambda: self.consumer.commit(message=msg, asynchronous=False))

    async def _schedule(self) -> None:
        now = time.monotonic()
        for tenant, pull in self.tenants.items():
            if tenant in self._running and not self._running[tenant].done():
                continue
            self._running.pop(tenant, None)
            if not self._queue[tenant] and now >= self._due[tenant]:
                run = Run(uuid.uuid4().hex, tenant, None, False, "interval")
                await self.state.run_requested(run.run_id, tenant, None, False, run.trigger)
                self._queue[tenant].append(run)
            if self._queue[tenant]:
                run = self._queue[tenant].pop(0)
                self._due[tenant] = now + pull.options.interval_s
                self._running[tenant] = asyncio.create_task(self._pull(run))

    async def _fields(self, tenant: str, module: str, wanted: list[str]) -> list[str]:
        """The mapping's field names the org's module has (its metadata says which); the others are reported, as
        a mapping that names a field the org lacks reads nothing from it."""
        try:
            present = set(await self.clients[tenant].field_names(module))
        except (ZohoError, httpx.HTTPError) as exc:
            log.warning("module metadata unavailable; asking for the mapping's fields as they are",
                        extra={"tenant": tenant, "zoho_module": module, "error": str(exc)})
            return wanted
        missing = [f for f in wanted if f not in present]
        if missing:
            log.info("mapping names fields this org's module lacks", extra={"tenant": tenant, "zoho_module": module,
                                                                             "fields": missing})
        return [f for f in wanted if f in present]

    async def _pull(self, run: Run) -> None:
        pull = self.tenants[run.tenant]
        tally = Tally()
        status, error = "done", None
        started = datetime.now(UTC)

        async def progress(t: Tally) -> None:
            await self.state.run_progress(run.run_id, status="running", records=t.records - reported.records,
                                          deletions=t.deletions - reported.deletions, calls=t.calls - reported.calls)
            reported.records, reported.deletions, reported.calls = t.records, t.deletions, t.calls

        reported = Tally()
        await self.state.run_progress(run.run_id, status="running")
        mapping = mapping_of(self.registry.get(run.tenant))
        for module in self.modules(run.tenant, run.module):
            fields = await self._fields(run.tenant, module, module_fields(mapping, module))
            one = ModulePull(run.tenant, module, fields, self.clients[run.tenant], self.raw,
                             self.state, pull.budget, self.ledger.spent,
                             timedelta(seconds=pull.options.overlap_s), run.run_id, progress)
            await self.state.started(run.tenant, module, run.full)
            try:
                await one.changes(run.full, tally)
                await one.deletions(tally, started)
                await self.state.finished(run.tenant, module, "done", None, run.full)
            except OutOfCredits as exc:
                status, error = "paused", str(exc)
                await self.state.finished(run.tenant, module, "paused", error, False)
                break
            except (ZohoError, httpx.HTTPError, RuntimeError, OSError) as exc:
                # Zoho, the broker or the network failed: the watermark holds what is stored; the next run resumes.
                status, error = "failed", f"{type(exc).__name__}: {exc}"
                log.warning("pull failed", extra={"tenant": run.tenant, "zoho_module": module, "error": error})
                await self.state.finished(run.tenant, module, "failed", error, False)
        await self.state.run_progress(run.run_id, status=status, error=error)
        metrics.RUNS.labels(tenant=run.tenant, status=status).inc()
        if status == "done":
            metrics.LAST_SUCCESS.labels(tenant=run.tenant).set(time.time())
        log.info("pull finished", extra={"tenant": run.tenant, "run_id": run.run_id, "trigger": run.trigger,
                                         "full": run.full, "status": status, "records": tally.records,
                                         "deletions": tally.deletions, "calls": tally.calls})
