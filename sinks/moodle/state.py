"""Durable state of the Moodle sink (schema.sql): what was last written per record with its Moodle id, and the
writes parked until they can be made."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from psycopg.types.json import Jsonb

from common.pg import PgStore
from sinks.moodle.mapping import MoodleWrite

# Parked writes taken up per tenant and flush; the rest wait for the next one.
PARKED_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Written:
    kind: str
    record_key: str
    fingerprint: str
    moodle_id: str
    fields: dict[str, Any]
    source_version: int
    event_id: str


class StateStore(PgStore):
    SCHEMA = resources.files(__package__).joinpath("schema.sql").read_text()

    async def load(self, tenant: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Written]:
        """(kind, record key) -> what was last written, for those the sink has written."""
        if not keys:
            return {}
        async with self._lock:
            cur = await self._conn.execute(
                "SELECT kind, record_key, fingerprint, moodle_id, fields, source_version, event_id"
                " FROM moodle_sink_state WHERE tenant = %s AND (kind, record_key) IN"
                " (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (tenant, [k for k, _ in keys], [r for _, r in keys]))
            found = await cur.fetchall()
        return {(str(r[0]), str(r[1])): Written(str(r[0]), str(r[1]), str(r[2]), str(r[3]), dict(r[4]),
                                                int(str(r[5])), str(r[6])) for r in found}

    async def save(self, tenant: str, rows: Iterable[Written]) -> None:
        rows = list(rows)
        if not rows:
            return
        async with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO moodle_sink_state AS s (tenant, kind, record_key, fingerprint, moodle_id, fields,"
                " source_version, event_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (tenant, kind, record_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
                " moodle_id = EXCLUDED.moodle_id, fields = EXCLUDED.fields,"
                " source_version = GREATEST(s.source_version, EXCLUDED.source_version),"
                " event_id = EXCLUDED.event_id, written_at = now()",
                [(tenant, r.kind, r.record_key, r.fingerprint, r.moodle_id, Jsonb(r.fields), r.source_version,
                  r.event_id) for r in rows])

    async def forget(self, tenant: str, keys: Sequence[tuple[str, str]]) -> None:
        """Records Moodle no longer has (deleted by hand): the next change creates or links them again."""
        if not keys:
            return
        async with self._lock:
            await self._conn.execute(
                "DELETE FROM moodle_sink_state WHERE tenant = %s AND (kind, record_key) IN"
                " (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (tenant, [k for k, _ in keys], [r for _, r in keys]))

    async def courses_in(self, tenant: str, programs: Sequence[str]) -> list[Written]:
        """Courses the sink made for classes of these programs (their category may have to follow)."""
        if not programs:
            return []
        async with self._lock:
            cur = await self._conn.execute(
                "SELECT kind, record_key, fingerprint, moodle_id, fields, source_version, event_id"
                " FROM moodle_sink_state WHERE tenant = %s AND kind = 'course' AND fields->>'_program' = ANY(%s)",
                (tenant, list(programs)))
            found = await cur.fetchall()
        return [Written(str(r[0]), str(r[1]), str(r[2]), str(r[3]), dict(r[4]), int(str(r[5])), str(r[6]))
                for r in found]

    async def park(self, reason: str, writes: Iterable[MoodleWrite]) -> None:
        rows = [(w.tenant, w.kind, w.record_key, reason, Jsonb(w.to_json()), w.source_version) for w in writes]
        if not rows:
            return
        async with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            # A newer version replaces an older one; an older one never replaces a newer.
            await cur.executemany(
                "INSERT INTO moodle_sink_parked AS p (tenant, kind, record_key, reason, write, source_version)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, kind, record_key) DO UPDATE SET"
                " reason = EXCLUDED.reason, write = EXCLUDED.write, source_version = EXCLUDED.source_version,"
                " parked_at = now() WHERE p.source_version <= EXCLUDED.source_version", rows)

    async def parked(self, tenant: str) -> list[MoodleWrite]:
        async with self._lock:
            cur = await self._conn.execute(
                "SELECT write FROM moodle_sink_parked WHERE tenant = %s ORDER BY parked_at LIMIT %s",
                (tenant, PARKED_BATCH))
            found = await cur.fetchall()
        return [MoodleWrite.from_json(dict(r[0])) for r in found]

    async def unpark(self, writes: Iterable[MoodleWrite]) -> None:
        """Writes done (or superseded): gone from the parked table, unless a newer version was parked since."""
        rows = [(w.tenant, w.kind, w.record_key, w.source_version) for w in writes]
        if not rows:
            return
        async with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            await cur.executemany(
                "DELETE FROM moodle_sink_parked WHERE tenant = %s AND kind = %s AND record_key = %s"
                " AND source_version <= %s", rows)

    async def parked_counts(self) -> dict[tuple[str, str], int]:
        async with self._lock:
            cur = await self._conn.execute(
                "SELECT tenant, reason, count(*) FROM moodle_sink_parked GROUP BY tenant, reason")
            found = await cur.fetchall()
        return {(str(r[0]), str(r[1])): int(str(r[2])) for r in found}
