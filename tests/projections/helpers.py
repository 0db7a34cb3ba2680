"""Running the projector against the test stack, and waiting for it to catch up."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from projections.checksum import compare
from projections.offsets import stored_offsets
from projections.replay import end_offsets
from tests.infra import Infra, free_port, start_service


def new_schema() -> str:
    return f"pt_{uuid.uuid4().hex[:10]}"


def start_projector(infra: Infra, schema: str, log: Path, group: str | None = None,
                    instance: str | None = None, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap, "DATABASE_URL": infra.database_url,
           "PROJECTIONS_SCHEMA": schema, "PROJECTOR_GROUP_ID": group or f"g-{schema}",
           "PROJECTOR_METRICS_PORT": str(free_port()), "PROJECTOR_SESSION_TIMEOUT_MS": "6000", **(extra or {})}
    if instance:
        env["PROJECTOR_INSTANCE_ID"] = instance
    return start_service("projections", env, log, None, args=["run"])


def applied(infra: Infra, schema: str) -> dict[tuple[str, int], int]:
    with psycopg.connect(infra.database_url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{schema}.projector_offset",)).fetchone()
        if not exists or exists[0] is None:
            return {}
        return stored_offsets(conn, schema, end_offsets(infra.bootstrap))


def wait_caught_up(infra: Infra, schema: str, timeout: float = 90.0) -> None:
    """Until the schema's stored offsets reach the end of every topic the projector reads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ends = end_offsets(infra.bootstrap)
        have = applied(infra, schema)
        if have and all(have.get(tp, 0) >= end for tp, end in ends.items()):
            return
        time.sleep(0.3)
    raise AssertionError(f"{schema} did not catch up within {timeout}s")


def differences(infra: Infra, left: str, right: str, tenant: str) -> list[str]:
    with psycopg.connect(infra.database_url) as conn:
        return [f"{a.table}: {a.rows} vs {b.rows} rows" for a, b in compare(conn, left, right, tenant)
                if (a.rows, a.digest) != (b.rows, b.digest)]


def query(infra: Infra, schema: str, text: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(infra.database_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        return conn.execute(text, params).fetchall()
