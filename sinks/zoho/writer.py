"""Writes one tenant's changed records into Zoho and says what became of each.

Grades: one upsert per <= 100 records on the unique `Moodle_Grade_Composite_Key` (never search-then-create).
A re-grade changes the record's learning-outcome rows by id instead of appending them again (subform.py):
with the row ids the state remembers when it knows them all, else with the rows read first (one GET of each
record: Zoho documents subform row ids on a record's own read, not in list answers). A write that appended
rows to a record that already existed, or whose call may have landed twice (probe.py), is read back and
repaired by id. Enrollments: one upsert per <= 100 records on the
tenant's unique key field. A DUPLICATE_DATA answer (another unique field already holds the value) becomes an
update of the record it names. Student links are updates by id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from common.zoho.client import ZohoClient
from common.zoho.errors import ZohoRequestError
from common.zoho.results import RecordFailure, RecordResult, RecordSuccess
from sinks.zoho import sink_metrics
from sinks.zoho.mapping import GRADE_KEY, GRADES, LO_SUBFORM, Row, ZohoWrite
from sinks.zoho.probe import WriteProbe
from sinks.zoho.state import Written
from sinks.zoho.subform import RowPlan, appends, new_rows, plan, remembered

# Record reads in flight at once (the smallest edition allows 5 concurrent calls per org).
READS_AT_ONCE = 3

log = logging.getLogger("zoho_sink.writer")

Action = Literal["created", "updated", "unchanged", "failed"]
BATCH = 100


@dataclass
class Outcome:
    write: ZohoWrite
    action: Action
    zoho_id: str | None = None
    attempt: int = 0
    error_code: str | None = None
    error_message: str | None = None
    error_field: str | None = None
    # LO code -> id of every subform row the record holds after this write, when the sink knows them all.
    row_ids: dict[str, str] | None = None


@dataclass
class _Work:
    write: ZohoWrite
    zoho_id: str | None
    attempt: int = 0
    created: bool = False
    # A DUPLICATE_DATA answer: the named record still needs every field, not only its rows.
    needs_fields: bool = False
    # The rows sent were computed from the record's rows read just before: an append is then exact.
    from_read: bool = False
    # The rows sent were computed from the row ids the state remembers, without a read.
    from_memory: bool = False
    row_ids: dict[str, str] | None = None
    failure: RecordFailure | None = None
    sent: dict[str, Any] = field(default_factory=dict)


def _stale_row_id(failure: RecordFailure) -> bool:
    """A row id that is gone: an earlier landing of the same write already deleted it."""
    path = failure.details.get("json_path")
    return failure.code == "INVALID_DATA" and isinstance(path, str) and LO_SUBFORM in path


class TenantWriter:
    def __init__(self, client: ZohoClient, probe: WriteProbe, max_rounds: int = 4) -> None:
        self.client = client
        self.probe = probe
        self.max_rounds = max_rounds

    async def write(self, module: str, writes: Sequence[ZohoWrite], held: dict[str, Written]) -> list[Outcome]:
        """`held`: record key -> what this sink last wrote to that record (its Zoho id, remembered row ids)."""
        outcomes: list[Outcome] = []
        for start in range(0, len(writes), BATCH):
            chunk = writes[start:start + BATCH]
            try:
                if module == GRADES:
                    outcomes += await self._grades(chunk, held)
                elif chunk[0].upsert_key is not None:
                    outcomes += await self._upserts(module, chunk[0].upsert_key, chunk, held)
                else:
                    outcomes += await self._updates(module, chunk)
            except ZohoRequestError as exc:
                # The request itself is refused (bad module, malformed body): retrying cannot help.
                log.error("zoho refused a write request", extra={"zoho_module": module, "code": exc.code,
                                                                 "error": exc.message})
                outcomes += [Outcome(w, "failed", w.zoho_id, 1, exc.code or str(exc.status), exc.message)
                             for w in chunk]
        return outcomes

    async def _updates(self, module: str, writes: Sequence[ZohoWrite]) -> list[Outcome]:
        records = [{"id": w.zoho_id, **w.fields} for w in writes]
        results = await self.client.update(module, records)
        return [self._finished(_Work(w, w.zoho_id, 1), r) for w, r in zip(writes, results, strict=True)]

    def _finished(self, work: _Work, result: RecordResult) -> Outcome:
        if isinstance(result, RecordSuccess):
            return Outcome(work.write, "updated", result.id, work.attempt)
        return Outcome(work.write, "failed", work.zoho_id, work.attempt, result.code, result.message, result.field)

    async def _upserts(self, module: str, key: str, writes: Sequence[ZohoWrite], held: dict[str, Written]
                       ) -> list[Outcome]:
        """Records without subforms, upserted on a unique field; DUPLICATE_DATA -> update of the named record."""
        records: list[dict[str, Any]] = []
        for w in writes:
            record = dict(w.fields)
            last = held.get(w.record_key)
            if last is not None and last.ended and not w.ends and "End_Date" not in record:
                # Enrolled again: the End_Date the sink set at the unenrolment no longer holds.
                record["End_Date"] = None
            records.append(record)
        results = await self.client.upsert(module, records, [key])
        outcomes: list[Outcome | None] = []
        named: list[tuple[int, ZohoWrite, dict[str, Any]]] = []
        for i, (w, record, result) in enumerate(zip(writes, records, results, strict=True)):
            if isinstance(result, RecordSuccess):
                outcomes.append(Outcome(w, result.action, result.id, 1))
            elif result.existing_id is not None:
                log.info("DUPLICATE_DATA: updating the record Zoho names", extra={
                    "record_key": w.record_key, "zoho_id": result.existing_id, "field": result.field})
                named.append((i, w, {**record, "id": result.existing_id}))
                outcomes.append(None)
            else:
                outcomes.append(Outcome(w, "failed", None, 1, result.code, result.message, result.field))
        if named:
            updated = await self.client.update(module, [record for _, _, record in named])
            for (i, w, record), result in zip(named, updated, strict=True):
                outcomes[i] = self._finished(_Work(w, str(record["id"]), 2), result)
        return [o for o in outcomes if o is not None]

    async def _rows_of(self, ids: Sequence[str]) -> dict[str, list[Row]]:
        """The current subform rows (with their ids) of each record that exists, read one record at a time:
        Zoho documents subform row ids on a record's own GET, not in list answers. A few reads at once, well
        under the org's concurrency, which the sink's writes share."""
        gate = asyncio.Semaphore(READS_AT_ONCE)

        async def read(record_id: str) -> tuple[str, dict[str, object] | None]:
            async with gate:
                return record_id, await self.client.get(GRADES, record_id, [GRADE_KEY, LO_SUBFORM])

        found = await asyncio.gather(*(read(i) for i in dict.fromkeys(ids)))
        return {i: list(r.get(LO_SUBFORM) or []) for i, r in found if r is not None}  # type: ignore[call-overload]

    @staticmethod
    def _from_memory(last: Written | None, wanted: Sequence[Row]) -> RowPlan | None:
        """The row changes from the remembered row ids, if they need no added row (else: read the record)."""
        if last is None or last.lo_rows is None:
            return None
        rows = plan(remembered(last.lo_rows), wanted)
        return rows if rows.ids is not None else None

    async def _grades(self, writes: Sequence[ZohoWrite], held: dict[str, Written]) -> list[Outcome]:
        works: list[_Work] = []
        memory: dict[int, RowPlan] = {}
        for i, w in enumerate(writes):
            last = held.get(w.record_key)
            works.append(_Work(w, last.zoho_id if last is not None else None))
            if (rows := self._from_memory(last, w.rows or ())) is not None:
                memory[i] = rows
        current = await self._rows_of([w.zoho_id for i, w in enumerate(works) if w.zoho_id and i not in memory])
        records = []
        for i, work in enumerate(works):
            record = dict(work.write.fields)
            wanted = work.write.rows or ()
            if i in memory:
                rows = memory[i]
                work.from_read = work.from_memory = True
            elif work.zoho_id in current:
                rows = plan(current[work.zoho_id], wanted)
                work.from_read = True
            else:
                # New to us, or deleted in Zoho since: if it exists after all, the read-back below repairs it.
                work.zoho_id = None
                rows = RowPlan(new_rows(wanted), None)
            if rows.changes:
                record[LO_SUBFORM] = rows.changes
            work.sent, work.row_ids, work.attempt = record, rows.ids, 1
            records.append(record)
        mark = self.probe.mark()
        results = await self.client.upsert(GRADES, records, [GRADE_KEY])
        ambiguous = self.probe.since(mark)
        check: list[_Work] = []
        done: list[Outcome] = []
        for work, result in zip(works, results, strict=True):
            self._apply(work, result, ambiguous, check, done, first=True)
        return done + await self._repair(check, ambiguous)

    def _apply(self, work: _Work, result: RecordResult, ambiguous: bool, check: list[_Work], done: list[Outcome],
               *, first: bool) -> None:
        added = appends(work.sent.get(LO_SUBFORM))
        if isinstance(result, RecordSuccess):
            work.zoho_id = result.id
            work.created = work.created or (first and result.action == "created")
            work.needs_fields = False
            if added and (ambiguous or (result.action == "updated" and not work.from_read)):
                check.append(work)
            else:
                # A record the upsert created holds rows Zoho gave ids to that only a read returns.
                row_ids = None if result.action == "created" else work.row_ids
                done.append(Outcome(work.write, "created" if work.created else "updated", result.id, work.attempt,
                                    row_ids=row_ids))
        elif result.existing_id is not None and first:
            log.info("DUPLICATE_DATA: updating the record Zoho names", extra={
                "record_key": work.write.record_key, "zoho_id": result.existing_id, "field": result.field})
            work.zoho_id, work.needs_fields, work.from_memory = result.existing_id, True, False
            check.append(work)
        elif _stale_row_id(result) and work.zoho_id is not None:
            # A row id that is gone (deleted in Zoho, or by an earlier landing of this write): the whole record
            # was refused, so its fields go again with rows computed from a fresh read.
            work.needs_fields = True
            check.append(work)
        else:
            work.failure = result
            done.append(Outcome(work.write, "failed", work.zoho_id, work.attempt, result.code, result.message,
                                result.field))

    async def _repair(self, check: list[_Work], ambiguous: bool) -> list[Outcome]:
        """Read the rows back and send the corrections by id until every record holds exactly its rows."""
        done: list[Outcome] = []
        for _ in range(self.max_rounds):
            if not check:
                return done
            if ambiguous:
                await self.probe.settle()
            current = await self._rows_of([w.zoho_id for w in check if w.zoho_id])
            todo: list[_Work] = []
            fresh: list[_Work] = []
            for work in check:
                assert work.zoho_id is not None
                wanted = work.write.rows or ()
                if work.zoho_id not in current:
                    if work.from_memory:
                        # The record the state remembers was deleted in Zoho: create it again, as a new one.
                        work.zoho_id, work.from_memory, work.from_read, work.row_ids = None, False, False, None
                        work.sent = {**work.write.fields, **({LO_SUBFORM: new_rows(wanted)} if wanted else {})}
                        work.attempt += 1
                        fresh.append(work)
                        continue
                    done.append(Outcome(work.write, "failed", work.zoho_id, work.attempt, "NOT_FOUND",
                                        "the record to update is gone from Zoho"))
                    continue
                rows = plan(current[work.zoho_id], wanted)
                record: dict[str, Any] = {"id": work.zoho_id}
                if work.needs_fields:
                    record.update(work.write.fields)
                if rows.changes:
                    record[LO_SUBFORM] = rows.changes
                    sink_metrics.REPAIRS.labels(tenant=work.write.tenant, module=GRADES).inc()
                if len(record) == 1:
                    done.append(Outcome(work.write, "created" if work.created else "updated", work.zoho_id,
                                        work.attempt, row_ids=rows.ids))
                    continue
                work.sent, work.attempt, work.from_read, work.row_ids = record, work.attempt + 1, True, rows.ids
                todo.append(work)
            if not todo and not fresh:
                return done
            mark = self.probe.mark()
            updated = await self.client.update(GRADES, [w.sent for w in todo]) if todo else []
            inserted = await self.client.upsert(GRADES, [w.sent for w in fresh], [GRADE_KEY]) if fresh else []
            ambiguous = self.probe.since(mark)
            check = []
            for work, result in zip(todo, updated, strict=True):
                self._apply(work, result, ambiguous, check, done, first=False)
            for work, result in zip(fresh, inserted, strict=True):
                self._apply(work, result, ambiguous, check, done, first=True)
        done += [Outcome(w.write, "failed", w.zoho_id, w.attempt, "NOT_CONVERGED",
                         f"subform rows still differ after {self.max_rounds} repairs") for w in check]
        return done
