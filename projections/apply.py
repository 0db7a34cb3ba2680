"""Applying one batch of decoded records to a projection schema, inside the caller's transaction.

Set-based: the batch is reduced to one winner per row (newest version, then latest offset),
copied into temporary tables and merged with single INSERT … ON CONFLICT statements that
keep the stored row when it is newer. Applying the batch this way leaves the same state as
applying its events one by one, so where a batch starts and ends (a crash, a replay) does not
change the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from projections.events import (
    DEAD_LETTER_COLUMNS,
    MOODLE_OUTCOME_COLUMNS,
    OUTCOME_COLUMNS,
    DeadLetterRow,
    EntityChange,
    Outcome,
)
from projections.tables import ENTITY_TABLES, ENVELOPE, EntityTable

_TOMBSTONE_COLUMNS = ("tenant", "entity", "entity_id", "source_version", "event_id", "occurred_at")


def _ids(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _temp(table: str) -> sql.Identifier:
    return sql.Identifier(f"_in_{table}")


class Applier:
    """Writes batches into `schema` through one autocommit connection that owns its staging tables."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self.conn = conn
        self.schema = schema
        # Staging tables written since the last apply: empty after a commit, not after a savepoint.
        self._dirty: set[str] = set()

    def _q(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def prepare(self) -> None:
        # ON COMMIT DELETE ROWS: each transaction starts with empty staging tables.
        tables = [t.table for t in ENTITY_TABLES.values()]
        tables += [t.child.table for t in ENTITY_TABLES.values() if t.child is not None]
        tables += ["zoho_sync_outcome", "moodle_sync_outcome", "dead_letter", "tombstone"]
        for table in tables:
            self.conn.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS").format(
                _temp(table), self._q(table)))
        for t in ENTITY_TABLES.values():
            if t.child is not None:
                self.conn.execute(sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} AS SELECT {} FROM {} WITH NO DATA").format(
                    sql.Identifier(f"_applied_{t.table}"), _ids(t.key), self._q(t.table)))
                self.conn.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(
                    sql.Identifier(f"_applied_{t.table}")))

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self._dirty.add(table)
        with self.conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(_temp(table), _ids(columns))) as cp:
            for row in rows:
                cp.write_row(row)

    def apply(self, changes: Sequence[EntityChange], outcomes: Sequence[Outcome],
              letters: Sequence[DeadLetterRow]) -> None:
        for table in self._dirty:
            self.conn.execute(sql.SQL("TRUNCATE {}").format(_temp(table)))
        self._dirty.clear()
        by_table: dict[str, list[EntityChange]] = {}
        for change in changes:
            by_table.setdefault(change.table.entity, []).append(change)
        for entity, batch in by_table.items():
            self._apply_entity(ENTITY_TABLES[entity], batch)
        if outcomes:
            self._apply_outcomes(outcomes)
        if letters:
            self._copy("dead_letter", DEAD_LETTER_COLUMNS, (d.row for d in letters))
            self.conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} ON CONFLICT DO NOTHING").format(
                self._q("dead_letter"), _temp("dead_letter")))

    def _apply_entity(self, table: EntityTable, batch: list[EntityChange]) -> None:
        deletes: dict[tuple[str, str], EntityChange] = {}
        upserts: dict[tuple[Any, ...], EntityChange] = {}
        for change in batch:
            if change.deleted:
                best = deletes.get(change.entity_key)
                if best is None or change.order >= best.order:
                    deletes[change.entity_key] = change
            else:
                prev = upserts.get(change.key)
                if prev is None:
                    upserts[change.key] = change
                    continue
                newer, older = (change, prev) if change.order >= prev.order else (prev, change)
                if newer.row is not None and older.row is not None:
                    newer.row = table.carried(newer.row, older.row)
                upserts[change.key] = newer
        # An upsert that came before a newer delete of the same record in this batch is gone.
        survivors = [u for u in upserts.values()
                     if (d := deletes.get(u.entity_key)) is None or u.order > d.order]
        if deletes:
            self._delete(table, list(deletes.values()))
        if survivors:
            self._upsert(table, survivors)

    def _delete(self, table: EntityTable, deletes: list[EntityChange]) -> None:
        self._copy("tombstone", _TOMBSTONE_COLUMNS,
                   ((*d.entity_key[:1], table.entity, d.entity_key[1], d.version, d.event_id, d.occurred_at)
                    for d in deletes))
        self.conn.execute(sql.SQL(
            "DELETE FROM {t} x USING {d} d WHERE d.entity = %s AND x.tenant = d.tenant"
            " AND x.{id} = d.entity_id AND x.source_version <= d.source_version").format(
            t=self._q(table.table), d=_temp("tombstone"), id=sql.Identifier(table.id_column)), (table.entity,))
        self.conn.execute(sql.SQL(
            "INSERT INTO {t} AS x SELECT * FROM {d} WHERE entity = %s"
            " ON CONFLICT (tenant, entity, entity_id) DO UPDATE SET source_version = excluded.source_version,"
            " event_id = excluded.event_id, occurred_at = excluded.occurred_at"
            " WHERE excluded.source_version >= x.source_version").format(
            t=self._q("tombstone"), d=_temp("tombstone")), (table.entity,))

    def _upsert(self, table: EntityTable, rows: list[EntityChange]) -> None:
        columns = table.columns
        self._copy(table.table, columns, (r.row for r in rows if r.row is not None))
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = CASE WHEN excluded.origin = 'zoho' THEN coalesce(excluded.{0}, x.{0}) ELSE excluded.{0} END"
                    if c in table.moodle_only else "{0} = excluded.{0}").format(sql.Identifier(c))
            for c in (*ENVELOPE, *table.fields))
        merge = sql.SQL(
            "INSERT INTO {t} AS x ({cols}) SELECT {cols} FROM {s} s"
            " WHERE NOT EXISTS (SELECT 1 FROM {ts} d WHERE d.tenant = s.tenant AND d.entity = %s"
            " AND d.entity_id = s.{id} AND d.source_version > s.source_version)"
            " ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE excluded.source_version >= x.source_version").format(
            t=self._q(table.table), cols=_ids(columns), s=_temp(table.table), ts=self._q("tombstone"),
            id=sql.Identifier(table.id_column), key=_ids(table.key), updates=updates)
        if table.child is None:
            self.conn.execute(merge, (table.entity,))
            return
        applied = sql.Identifier(f"_applied_{table.table}")
        self.conn.execute(sql.SQL("TRUNCATE {}").format(applied))
        self.conn.execute(sql.SQL("WITH up AS ({merge} RETURNING {key}) INSERT INTO {a} SELECT * FROM up").format(
            merge=merge, key=_ids(table.key), a=applied),
            (table.entity,))
        child = table.child
        join = sql.SQL(" AND ").join(sql.SQL("c.{} = a.{}").format(sql.Identifier(ck), sql.Identifier(pk))
                                     for ck, pk in zip(child.parent_key, table.key, strict=True))
        self.conn.execute(sql.SQL("DELETE FROM {c} c USING {a} a WHERE {join}").format(
            c=self._q(child.table), a=applied, join=join))
        child_rows = [c for r in rows for c in r.children]
        if child_rows:
            self._copy(child.table, table.child_columns, child_rows)
            self.conn.execute(sql.SQL(
                "INSERT INTO {c} ({cols}) SELECT {ccols} FROM {s} c JOIN {a} a ON {join}").format(
                c=self._q(child.table), cols=_ids(table.child_columns),
                ccols=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(n)) for n in table.child_columns),
                s=_temp(child.table), a=applied, join=join))

    def _apply_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        self._apply_outcome_log("zoho_sync_outcome", "zoho_sync_state", OUTCOME_COLUMNS,
                                [o for o in outcomes if o.target == "zoho"])
        self._apply_outcome_log("moodle_sync_outcome", "moodle_sync_state", MOODLE_OUTCOME_COLUMNS,
                                [o for o in outcomes if o.target == "moodle"])

    def _apply_outcome_log(self, log_table: str, state_table: str, columns: tuple[str, ...],
                           outcomes: Sequence[Outcome]) -> None:
        """Every outcome into the log table, the newest per record into the state table (its first three state
        columns are the record's key)."""
        if not outcomes:
            return
        self._copy(log_table, columns, (o.row for o in outcomes))
        self.conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} ON CONFLICT DO NOTHING").format(
            self._q(log_table), _temp(log_table)))
        latest: dict[tuple[str, str, str], Outcome] = {}
        for o in outcomes:
            prev = latest.get(o.state_key)
            if prev is None or (o.occurred_at, o.position.offset) >= (prev.occurred_at, prev.position.offset):
                latest[o.state_key] = o
        state_cols = columns[2:]
        updates = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in state_cols[3:])
        self.conn.execute(sql.SQL(
            "INSERT INTO {t} AS x ({cols}) SELECT {cols} FROM {s} s"
            " WHERE (s.topic_partition, s.topic_offset) IN (SELECT * FROM unnest(%s::int[], %s::bigint[]))"
            " ON CONFLICT ({key}) DO UPDATE SET {updates}"
            " WHERE excluded.occurred_at >= x.occurred_at").format(
            t=self._q(state_table), cols=_ids(state_cols), s=_temp(log_table), key=_ids(state_cols[:3]),
            updates=updates),
            ([o.position.partition for o in latest.values()], [o.position.offset for o in latest.values()]))
