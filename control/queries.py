"""What the control plane reads from the projections: one tenant's rows only, always."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.errors import UndefinedTable
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

# How the control plane's connections show in pg_stat_activity.
APPLICATION_NAME = "mzsync-control"


class ProjectionQueries:
    def __init__(self, dsn: str, schema: str) -> None:
        # Opened on first use, so the service starts (and says why it is not ready) while the database is down.
        # Each connection is checked as it is handed out: one the server closed while idle (a restart, an
        # administrator's terminate) is replaced there, not answered as a 503 to the next few callers.
        self._pool = AsyncConnectionPool(dsn, min_size=0, max_size=4, open=False, timeout=5,
                                           kwargs={"autocommit": True, "application_name": APPLICATION_NAME},
                                           check=AsyncConnectionPool.check_connection)
        self._schema = sql.Identifier(schema)
        self._opened = False

    async def _rows(self, query: sql.SQL | sql.Composed, params: dict[str, Any]) -> list[dict[str, Any]]:
        if not self._opened:
            await self._pool.open()
            self._opened = True
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    async def reachable(self) -> bool:
        try:
            await self._rows(sql.SQL("SELECT 1 AS ok"), {})
        except Exception:  # any failure to answer means not ready; the reason is in the pool's log
            return False
        return True

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()

    async def sync_history(self, tenant: str, action: str | None, module: str | None, since: datetime | None,
                           limit: int) -> list[dict[str, Any]]:
        query = sql.SQL(
            "SELECT topic_partition, topic_offset, module, record_key, action, zoho_id, attempt, error_code,"
            " error_message, event_id, entity, entity_id, occurred_at FROM {}.zoho_sync_outcome"
            " WHERE tenant = %(tenant)s AND (%(action)s::text IS NULL OR action = %(action)s)"
            " AND (%(module)s::text IS NULL OR module = %(module)s)"
            " AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)"
            " ORDER BY occurred_at DESC, topic_partition, topic_offset DESC LIMIT %(limit)s"
        ).format(self._schema)
        return await self._rows(query, {"tenant": tenant, "action": action, "module": module, "since": since,
                                        "limit": limit})

    async def moodle_sync_history(self, tenant: str, action: str | None, entity: str | None,
                                  since: datetime | None, limit: int) -> list[dict[str, Any]]:
        """The Moodle sink's outcomes: what became of each Zoho record in Moodle."""
        query = sql.SQL(
            "SELECT topic_partition, topic_offset, entity, record_key, action, moodle_id, attempt, error_code,"
            " error_message, event_id, entity_id, occurred_at FROM {}.moodle_sync_outcome"
            " WHERE tenant = %(tenant)s AND (%(action)s::text IS NULL OR action = %(action)s)"
            " AND (%(entity)s::text IS NULL OR entity = %(entity)s)"
            " AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)"
            " ORDER BY occurred_at DESC, topic_partition, topic_offset DESC LIMIT %(limit)s"
        ).format(self._schema)
        return await self._rows(query, {"tenant": tenant, "action": action, "entity": entity, "since": since,
                                        "limit": limit})

    async def outcome(self, tenant: str, partition: int, offset: int) -> dict[str, Any] | None:
        query = sql.SQL(
            "SELECT module, record_key, action, event_id, entity, entity_id FROM {}.zoho_sync_outcome"
            " WHERE tenant = %(tenant)s AND topic_partition = %(p)s AND topic_offset = %(o)s"
        ).format(self._schema)
        rows = await self._rows(query, {"tenant": tenant, "p": partition, "o": offset})
        return rows[0] if rows else None

    async def pulls(self, tenant: str, runs: int = 20) -> dict[str, Any]:
        """The Zoho puller's watermarks per module and its latest runs (empty before its first start)."""
        try:
            modules = await self._rows(sql.SQL(
                "SELECT module, watermark, deleted_watermark, full_done_at, last_started_at, last_finished_at,"
                " last_status, last_error, records_total, deletions_total FROM zoho_pull_state"
                " WHERE tenant = %(t)s ORDER BY module"), {"t": tenant})
            recent = await self._rows(sql.SQL(
                "SELECT run_id, module, full_load, trigger, requested_at, started_at, finished_at, status, records,"
                " deletions, calls, error FROM zoho_pull_run WHERE tenant = %(t)s"
                " ORDER BY requested_at DESC LIMIT %(n)s"), {"t": tenant, "n": runs})
        except UndefinedTable:
            return {"modules": [], "runs": []}
        return {"modules": modules, "runs": recent}

    async def status(self, tenant: str) -> dict[str, Any]:
        waiting = await self._rows(sql.SQL(
            "SELECT entity, missing_entity, count(*) AS n FROM {}.pending_dependency WHERE tenant = %(t)s"
            " GROUP BY 1, 2 ORDER BY 1, 2").format(self._schema), {"t": tenant})
        dead = await self._rows(sql.SQL(
            "SELECT reason, count(*) AS n FROM {}.dead_letter WHERE tenant = %(t)s GROUP BY 1 ORDER BY 1"
        ).format(self._schema), {"t": tenant})
        outcomes = await self._rows(sql.SQL(
            "SELECT action, count(*) AS n FROM {}.zoho_sync_outcome WHERE tenant = %(t)s GROUP BY 1 ORDER BY 1"
        ).format(self._schema), {"t": tenant})
        moodle = await self._rows(sql.SQL(
            "SELECT action, count(*) AS n FROM {}.moodle_sync_outcome WHERE tenant = %(t)s GROUP BY 1 ORDER BY 1"
        ).format(self._schema), {"t": tenant})
        return {
            "waiting_for_dependencies": [dict(r) for r in waiting],
            "dead_letters_by_reason": {r["reason"]: r["n"] for r in dead},
            "zoho_outcomes": {r["action"]: r["n"] for r in outcomes},
            "moodle_outcomes": {r["action"]: r["n"] for r in moodle},
        }
