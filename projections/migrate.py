"""Versioned plain-SQL migrations (projections/migrations/*.sql) applied with yoyo, per schema.

Each projection schema carries its own migration history, so a replay's fresh schema is built
by the same files as the live one.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(name: str) -> str:
    """Schema names end up in SQL text (yoyo's search_path), so only plain identifiers pass."""
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"schema name {name!r}: use lower-case letters, digits and _")
    return name


def _yoyo_url(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query["schema"] = schema
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, urlencode(query), parts.fragment))


def migrate(dsn: str, schema: str) -> int:
    """Create `schema` if needed and apply every pending migration to it; returns how many ran."""
    schema = checked_schema(schema)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    backend = get_backend(_yoyo_url(dsn, schema))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)
