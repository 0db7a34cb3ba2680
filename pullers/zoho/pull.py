"""One pull of one tenant's module: what changed since the watermark, then what was deleted.

Records are read oldest change first (`sort_by=Modified_Time`) with `If-Modified-Since`, and each request
starts again from the newest change read so far (less one second), so a record modified while the pull
pages (which moves it to the end of the order) can never make another one slip between two pages. Only a run
of more than 200 records changed in the same second pages on within it, by `page_token` (past 2,000 records
Zoho pages no other way). After each page is stored in the log the watermark moves: a crash resumes there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.zoho.client import ZohoClient
from common.zoho.config import Budget
from pullers.zoho import metrics
from pullers.zoho.raw import RawWriter
from pullers.zoho.state import PullState

log = logging.getLogger("zoho_puller.pull")

# Zoho's limit of fields per list call.
MAX_FIELDS = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OutOfCredits(Exception):
    """The tenant's daily read budget is spent: the pull stops here and resumes at the watermark later."""


@dataclass
class Tally:
    records: int = 0
    deletions: int = 0
    calls: int = 0


def modified_at(record: dict[str, object]) -> datetime | None:
    return _timestamp(record.get("Modified_Time"))


def _timestamp(value: object) -> datetime | None:
    """Zoho's ISO 8601 times with their offset; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class ModulePull:
    tenant: str
    module: str
    fields: list[str]
    client: ZohoClient
    raw: RawWriter
    state: PullState
    budget: Budget
    spent: Callable[[str], Awaitable[int]]
    overlap: timedelta
    run_id: str
    on_progress: Callable[[Tally], Awaitable[None]]

    async def _allow(self, tally: Tally) -> None:
        """One more read call, if the tenant's day of credits leaves the writes' reserve untouched."""
        if not self.budget.reads_allowed(await self.spent(self.tenant), 1):
            metrics.PAUSED.labels(tenant=self.tenant).inc()
            raise OutOfCredits(f"{self.tenant}: the day's read budget is spent "
                               f"({self.budget.daily_credits} credits, {self.budget.write_reserve} kept for writes)")
        tally.calls += 1
        metrics.CALLS.labels(tenant=self.tenant, module=self.module).inc()

    async def changes(self, full: bool, tally: Tally) -> None:
        current = await self.state.module(self.tenant, self.module)
        watermark = None if full else current.watermark
        cursor = None if watermark is None else watermark - self.overlap
        fields = self.fields[:MAX_FIELDS]
        token: str | None = None
        page_no = 1
        while True:
            await self._allow(tally)
            page = await self.client.list_page(self.module, fields, page=page_no, page_token=token,
                                               modified_since=cursor)
            for record in page.records:
                self.raw.record(self.tenant, self.module, record, self.run_id)
            self.raw.flush()
            times = [t for r in page.records if (t := modified_at(r)) is not None]
            newest = max(times, default=None)
            if newest is not None:
                await self.state.advanced(self.tenant, self.module, newest, len(page.records))
            tally.records += len(page.records)
            metrics.RECORDS.labels(tenant=self.tenant, module=self.module).inc(len(page.records))
            await self.on_progress(tally)
            if not page.more:
                return
            restart = None if newest is None else newest - timedelta(seconds=1)
            if newest is not None and restart is not None and min(times) < newest \
                    and (cursor is None or restart > cursor):
                # Again from the newest change read, less a second (If-Modified-Since is strictly later, in whole
                # seconds): the records of that second come twice, which the streams drop as redeliveries.
                cursor, token, page_no = restart, None, 1
            else:
                # More than a page changed within one second: page on inside it.
                token, page_no = page.next_token, page_no + 1

    async def deletions(self, tally: Tally, started: datetime) -> None:
        """Records deleted since the deletion watermark; a first pull only sets the watermark (there was
        nothing of this tenant to delete yet)."""
        current = await self.state.module(self.tenant, self.module)
        if current.deleted_watermark is None:
            await self.state.deletions(self.tenant, self.module, started, 0)
            return
        since = current.deleted_watermark - self.overlap
        newest = current.deleted_watermark
        page_no = 1
        while True:
            await self._allow(tally)
            page = await self.client.deleted_page(self.module, page=page_no)
            older_seen = False
            count = 0
            for item in page.records:
                deleted = _timestamp(item.get("deleted_time"))
                if deleted is None or deleted < since:
                    older_seen = True
                    continue
                self.raw.deletion(self.tenant, self.module, str(item["id"]), deleted, self.run_id)
                newest = max(newest, deleted)
                count += 1
            self.raw.flush()
            await self.state.deletions(self.tenant, self.module, newest, count)
            tally.deletions += count
            metrics.DELETIONS.labels(tenant=self.tenant, module=self.module).inc(count)
            await self.on_progress(tally)
            if older_seen or not page.more:
                return
            page_no += 1

