"""Compare two projection schemas table by table: row count and an order-independent row hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from projections.tables import PROJECTION_TABLES


@dataclass(frozen=True)
class TableSum:
    table: str
    rows: int
    digest: int


def table_sums(conn: psycopg.Connection[Any], schema: str, tenant: str | None = None) -> dict[str, TableSum]:
    """Per table: rows and the sum of each row's hash (60 bits of md5 of its text form)."""
    out: dict[str, TableSum] = {}
    for table in PROJECTION_TABLES:
        where = sql.SQL("WHERE t.tenant = %s") if tenant is not None else sql.SQL("")
        rows, digest = conn.execute(sql.SQL(
            "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)"
            " FROM {} t {}").format(sql.Identifier(schema, table), where),
            (tenant,) if tenant is not None else ()).fetchone() or (0, 0)
        out[table] = TableSum(table, int(rows), int(digest))
    return out


def compare(conn: psycopg.Connection[Any], left: str, right: str,
            tenant: str | None = None) -> list[tuple[TableSum, TableSum]]:
    """Every table's sums in both schemas; equal schemas give equal pairs."""
    a, b = table_sums(conn, left, tenant), table_sums(conn, right, tenant)
    return [(a[t], b[t]) for t in PROJECTION_TABLES]
