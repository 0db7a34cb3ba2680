"""Durable record of what the sink last wrote to Zoho per record (table zoho_sink_state, schema.sql)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from psycopg.types.json import Jsonb

from common.pg import PgStore


@dataclass(frozen=True, slots=True)
class Written:
    record_key: str
    fingerprint: str
    zoho_id: str
    source_version: int
    event_id: str
    # LO code -> subform row id of every row the record holds, when all are known (see schema.sql).
    lo_rows: dict[str, str] | None = None
    ended: bool = False


class StateStore(PgStore):
    """One connection shared by the tenants of a flush, one statement or transaction at a time."""

    SCHEMA = resources.files(__package__).joinpath("schema.sql").read_text()

    async def load(self, tenant: str, module: str, keys: Sequence[str]) -> dict[str, Written]:
        if not keys:
            return {}
        async with self._lock:
            cur = await self._conn.execute(
                "SELECT record_key, fingerprint, zoho_id, source_version, event_id, lo_row_ids, ended"
                " FROM zoho_sink_state WHERE tenant = %s AND module = %s AND record_key = ANY(%s)",
                (tenant, module, list(keys)))
            found = await cur.fetchall()
        return {str(r[0]): Written(str(r[0]), str(r[1]), str(r[2]), int(str(r[3])), str(r[4]), _rows(r[5]),
                                   bool(r[6])) for r in found}

    async def save(self, tenant: str, module: str, rows: Iterable[Written]) -> None:
        rows = list(rows)
        if not rows:
            return
        async with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            # Newer wins here too: a row is only replaced by an equal or higher source version.
            await cur.executemany(
                "INSERT INTO zoho_sink_state AS s (tenant, module, record_key, fingerprint, zoho_id, source_version,"
                " event_id, lo_row_ids, ended) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (tenant, module, record_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
                " zoho_id = EXCLUDED.zoho_id, source_version = EXCLUDED.source_version,"
                " event_id = EXCLUDED.event_id, lo_row_ids = EXCLUDED.lo_row_ids, ended = EXCLUDED.ended,"
                " written_at = now()"
                " WHERE s.source_version <= EXCLUDED.source_version",
                [(tenant, module, r.record_key, r.fingerprint, r.zoho_id, r.source_version, r.event_id,
                  None if r.lo_rows is None else Jsonb(r.lo_rows), r.ended) for r in rows])

    async def forget_rows(self, tenant: str, module: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with self._lock:
            await self._conn.execute(
                "UPDATE zoho_sink_state SET lo_row_ids = NULL"
                " WHERE tenant = %s AND module = %s AND record_key = ANY(%s)", (tenant, module, list(keys)))


    async def held(self, tenant: str, module: str, keys: Sequence[str]) -> dict[str, dict[str, object]]:
        if not keys:
            return {}
        async with self._lock:
            cur = await self._conn.execute("SELECT record_key, fields FROM zoho_sink_held WHERE tenant = %s AND"
                                           " module = %s AND record_key = ANY(%s)", (tenant, module, list(keys)))
            found = await cur.fetchall()
        return {str(key): dict(fields) for key, fields in found}

    async def hold(self, tenant: str, module: str, fields: dict[str, dict[str, object]]) -> None:
        if not fields:
            return
        async with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO zoho_sink_held AS h (tenant, module, record_key, fields) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, module, record_key) DO UPDATE SET fields = h.fields || EXCLUDED.fields,"
                " held_at = now()", [(tenant, module, key, Jsonb(f)) for key, f in fields.items()])

    async def release(self, tenant: str, module: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with self._lock:
            await self._conn.execute("DELETE FROM zoho_sink_held WHERE tenant = %s AND module = %s"
                                     " AND record_key = ANY(%s)", (tenant, module, list(keys)))


def _rows(value: object) -> dict[str, str] | None:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None
