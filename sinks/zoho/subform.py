"""Subform rows to send so a record ends up with exactly the wanted rows.

Zoho appends subform rows sent without an id (docs/zoho-api.md#subforms), so re-sending all rows duplicates them.
Rows are matched to the record's current rows by LO code: a match is updated in place by id (only the
values that differ). A wanted code the record lacks takes over a current row that is no longer wanted
(all its values rewritten by id), and only when none is left is it sent without an id; current rows
still left over are deleted by id.

Taking over rows keeps every row id known to the sink: Zoho returns the id of an added row only on a
later read, so an added row makes the next re-grade read the record first, while a re-grade that only
changes rows by id leaves rows whose ids the sink already has (`RowPlan.ids`, kept in its state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sinks.zoho.mapping import LO_CODE, LO_FIELDS, Row


class _Unknown:
    """A value the sink does not know (remembered rows hold ids and codes only): never equal to anything."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class RowPlan:
    # The subform value that turns the current rows into the wanted ones; [] when nothing needs to change.
    changes: list[Row]
    # LO code -> id of every row the record holds once `changes` is applied; None when a row is added
    # (its id is unknown until read) or a code repeats.
    ids: dict[str, str] | None


def _same(a: Any, b: Any) -> bool:
    if a is UNKNOWN or b is UNKNOWN:
        return False
    return (None if a in (None, "") else str(a)) == (None if b in (None, "") else str(b))


def _differences(current: Row, wanted: Row) -> dict[str, Any]:
    return {name: wanted.get(name) for name in LO_FIELDS if not _same(current.get(name), wanted.get(name))}


def new_rows(wanted: Sequence[Row]) -> list[Row]:
    return [{k: v for k, v in row.items() if v is not None} for row in wanted]


def remembered(ids: Mapping[str, str]) -> list[Row]:
    """Rows as the state remembers them: id and code, every other value unknown (so all of them are sent)."""
    return [{"id": row_id, LO_CODE: code, **{f: UNKNOWN for f in LO_FIELDS if f != LO_CODE}}
            for code, row_id in ids.items()]


def plan(current: Sequence[Row], wanted: Sequence[Row]) -> RowPlan:
    by_code: dict[str, list[Row]] = {}
    for row in current:
        by_code.setdefault(str(row.get(LO_CODE)), []).append(row)
    changes: list[Row] = []
    ids: dict[str, str] = {}
    known = len({str(w[LO_CODE]) for w in wanted}) == len(wanted)
    unmatched: list[Row] = []
    used: set[str] = set()
    for want in wanted:
        candidates = by_code.get(str(want[LO_CODE]))
        if not candidates:
            unmatched.append(want)
            continue
        # Among duplicates keep an exact match if there is one, so a repair touches as little as possible.
        keep = next((row for row in candidates if not _differences(row, want)), candidates[0])
        candidates.remove(keep)
        used.add(str(keep["id"]))
        ids[str(want[LO_CODE])] = str(keep["id"])
        if diff := _differences(keep, want):
            changes.append({"id": keep["id"], **diff})
    spare = [row for row in current if str(row["id"]) not in used]
    for want in unmatched:
        if spare:
            row = spare.pop(0)
            ids[str(want[LO_CODE])] = str(row["id"])
            changes.append({"id": row["id"], **_differences(row, want)})
        else:
            known = False
            changes.extend(new_rows([want]))
    changes.extend({"id": row["id"], "_delete": None} for row in spare)
    return RowPlan(changes, ids if known else None)


def appends(rows: Sequence[Row] | None) -> bool:
    """Whether sending `rows` adds rows (not idempotent: a repeated call would add them again)."""
    return any("id" not in row for row in rows or ())
