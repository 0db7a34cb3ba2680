"""A small PostgreSQL store of a service's own state: one autocommit connection its tasks share, one statement
(or transaction) at a time, with its tables created if missing."""

from __future__ import annotations

import asyncio
from typing import Any, Self

import psycopg


class PgStore:
    # The store's CREATE TABLE IF NOT EXISTS statements, run on connect.
    SCHEMA = ""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, dsn: str) -> Self:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        if cls.SCHEMA:
            await conn.execute(cls.SCHEMA.encode())
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()
