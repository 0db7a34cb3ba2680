"""The Zoho API credits a tenant's org has spent in the last 24 hours, shared by every process calling it.

Zoho counts credits per org over a rolling day and answers 429 once they run out, for reads and writes
alike. The sink's writes keep priority: the puller reads only while the day's spend leaves the tenant's
write reserve untouched. Spend is kept per hour (table `zoho_credit_spend`), so the window rolls.
"""

from __future__ import annotations

from common.pg import PgStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS zoho_credit_spend (
    tenant  text        NOT NULL,
    hour    timestamptz NOT NULL,
    credits bigint      NOT NULL,
    PRIMARY KEY (tenant, hour)
)
"""


class CreditLedger(PgStore):
    SCHEMA = _SCHEMA

    async def spend(self, tenant: str, credits: int) -> None:
        async with self._lock:
            await self._conn.execute(
                "INSERT INTO zoho_credit_spend (tenant, hour, credits) VALUES (%s, date_trunc('hour', now()), %s)"
                " ON CONFLICT (tenant, hour) DO UPDATE SET credits = zoho_credit_spend.credits + excluded.credits",
                (tenant, credits))

    async def spent(self, tenant: str) -> int:
        """Credits spent in the last 24 hours (whole hours); older hours are dropped on the way."""
        async with self._lock:
            await self._conn.execute("DELETE FROM zoho_credit_spend WHERE hour < now() - interval '2 days'")
            cur = await self._conn.execute(
                "SELECT coalesce(sum(credits), 0) FROM zoho_credit_spend"
                " WHERE tenant = %s AND hour > now() - interval '24 hours'", (tenant,))
            row = await cur.fetchone()
        return int(str(row[0])) if row else 0
