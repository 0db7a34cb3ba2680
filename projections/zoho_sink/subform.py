"""Subform rows to send so a record ends up with exactly the wanted rows.

Zoho appends subform rows sent without an id (reference §3), so re-sending all rows duplicates them.
Rows are matched to the record's current rows by LO code: a match is updated in place by id (only the
values that differ), a current row with no wanted counterpart is deleted by id, and only a code the
record lacks is sent without an id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.zoho_sink.mapping import LO_CODE, LO_FIELDS, Row


def _same(a: Any, b: Any) -> bool:
    return (None if a in (None, "") else str(a)) == (None if b in (None, "") else str(b))


def _differences(current: Row, wanted: Row) -> dict[str, Any]:
    return {name: wanted.get(name) for name in LO_FIELDS if not _same(current.get(name), wanted.get(name))}


def new_rows(wanted: Sequence[Row]) -> list[Row]:
    return [{k: v for k, v in row.items() if v is not None} for row in wanted]


def row_changes(current: Sequence[Row], wanted: Sequence[Row]) -> list[Row]:
    """The subform value that turns `current` into `wanted`; [] when nothing needs to change."""
    by_code: dict[str, list[Row]] = {}
    for row in current:
        by_code.setdefault(str(row.get(LO_CODE)), []).append(row)
    changes: list[Row] = []
    for want in wanted:
        candidates = by_code.get(str(want[LO_CODE]))
        if not candidates:
            changes.extend(new_rows([want]))
            continue
        # Among duplicates keep an exact match if there is one, so a repair touches as little as possible.
        keep = next((row for row in candidates if not _differences(row, want)), candidates[0])
        candidates.remove(keep)
        if diff := _differences(keep, want):
            changes.append({"id": keep["id"], **diff})
    changes.extend({"id": row["id"], "_delete": None} for rows in by_code.values() for row in rows)
    return changes


def appends(rows: Sequence[Row] | None) -> bool:
    """Whether sending `rows` adds rows (not idempotent: a repeated call would add them again)."""
    return any("id" not in row for row in rows or ())
