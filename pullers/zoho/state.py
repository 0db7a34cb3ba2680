"""Durable per-tenant, per-module pull state (watermarks) and the record of each pull run, in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from common.pg import PgStore

_SCHEMA = """
-- How far each module of each tenant has been read: records modified up to `watermark`, deletions up to
-- `deleted_watermark`. Only the puller writes it; the control plane and `mzsync status` read it.
CREATE TABLE IF NOT EXISTS zoho_pull_state (
    tenant            text        NOT NULL,
    module            text        NOT NULL,
    watermark         timestamptz,
    deleted_watermark timestamptz,
    full_done_at      timestamptz,
    last_started_at   timestamptz,
    last_finished_at  timestamptz,
    last_status       text,
    last_error        text,
    records_total     bigint      NOT NULL DEFAULT 0,
    deletions_total   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, module)
);
-- One row per pull run (periodic or asked for), kept 30 days: what a trigger's caller watches.
CREATE TABLE IF NOT EXISTS zoho_pull_run (
    run_id       text        PRIMARY KEY,
    tenant       text        NOT NULL,
    module       text,
    full_load    boolean     NOT NULL,
    trigger      text        NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    status       text        NOT NULL,
    records      bigint      NOT NULL DEFAULT 0,
    deletions    bigint      NOT NULL DEFAULT 0,
    calls        integer     NOT NULL DEFAULT 0,
    error        text
);
CREATE INDEX IF NOT EXISTS zoho_pull_run_tenant ON zoho_pull_run (tenant, requested_at DESC);
"""


@dataclass(frozen=True)
class ModuleState:
    watermark: datetime | None
    deleted_watermark: datetime | None


class PullState(PgStore):
    SCHEMA = _SCHEMA

    async def _run(self, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._lock, self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall() if cur.description else []

    async def module(self, tenant: str, module: str) -> ModuleState:
        rows = await self._run("SELECT watermark, deleted_watermark FROM zoho_pull_state"
                               " WHERE tenant = %s AND module = %s", (tenant, module))
        return ModuleState(rows[0]["watermark"], rows[0]["deleted_watermark"]) if rows else ModuleState(None, None)

    async def started(self, tenant: str, module: str, full: bool) -> None:
        reset = ", watermark = NULL" if full else ""
        await self._run(
            "INSERT INTO zoho_pull_state (tenant, module, last_started_at, last_status) VALUES (%s, %s, now(),"
            " 'running') ON CONFLICT (tenant, module) DO UPDATE SET last_started_at = now(), last_status = 'running',"
            f" last_error = NULL{reset}", (tenant, module))

    async def advanced(self, tenant: str, module: str, watermark: datetime, records: int) -> None:
        """After the page's records are in the log: never before, or a crash would skip them."""
        await self._run(
            "UPDATE zoho_pull_state SET watermark = greatest(coalesce(watermark, %s), %s),"
            " records_total = records_total + %s WHERE tenant = %s AND module = %s",
            (watermark, watermark, records, tenant, module))

    async def deletions(self, tenant: str, module: str, watermark: datetime, count: int) -> None:
        await self._run(
            "UPDATE zoho_pull_state SET deleted_watermark = greatest(coalesce(deleted_watermark, %s), %s),"
            " deletions_total = deletions_total + %s WHERE tenant = %s AND module = %s",
            (watermark, watermark, count, tenant, module))

    async def finished(self, tenant: str, module: str, status: str, error: str | None, full: bool) -> None:
        done = ", full_done_at = now()" if full and status == "done" else ""
        await self._run(f"UPDATE zoho_pull_state SET last_finished_at = now(), last_status = %s, last_error = %s{done}"
                        " WHERE tenant = %s AND module = %s", (status, error, tenant, module))

    async def run_requested(self, run_id: str, tenant: str, module: str | None, full: bool, trigger: str) -> None:
        await self._run("INSERT INTO zoho_pull_run (run_id, tenant, module, full_load, trigger, status)"
                        " VALUES (%s, %s, %s, %s, %s, 'queued') ON CONFLICT (run_id) DO NOTHING",
                        (run_id, tenant, module, full, trigger))
        await self._run("DELETE FROM zoho_pull_run WHERE requested_at < now() - interval '30 days'", ())

    async def run_progress(self, run_id: str, *, status: str, records: int = 0, deletions: int = 0, calls: int = 0,
                           error: str | None = None) -> None:
        await self._run(
            "UPDATE zoho_pull_run SET status = %s, records = records + %s, deletions = deletions + %s,"
            " calls = calls + %s, error = coalesce(%s, error),"
            " started_at = coalesce(started_at, now()),"
            " finished_at = CASE WHEN %s IN ('done', 'failed', 'paused') THEN now() ELSE finished_at END"
            " WHERE run_id = %s", (status, records, deletions, calls, error, status, run_id))

    async def unfinished(self) -> list[dict[str, Any]]:
        """Runs queued or cut short by a stop or crash: the puller takes them up again when it starts."""
        return await self._run("SELECT run_id, tenant, module, full_load, trigger FROM zoho_pull_run"
                               " WHERE status IN ('queued', 'running') ORDER BY requested_at", ())

    async def run_status(self, run_id: str) -> str | None:
        rows = await self._run("SELECT status FROM zoho_pull_run WHERE run_id = %s", (run_id,))
        return str(rows[0]["status"]) if rows else None
