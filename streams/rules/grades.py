"""Grade identity, grader roles, attempts and learning outcomes (docs/domain.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

GraderRole = Literal["iv", "teacher", "other"]

# Ordering of criteria in a grade: all Pass criteria, then Merit, then Distinction, by number.
_LEVEL_ORDER = {"P": 0, "M": 1, "D": 2}
_CODE = re.compile(r"^([A-Za-z]+)\s*(\d+)$")

# Newer wins: attempt first, then time. Attempts occupy the digits above any epoch-ms value
# (< 10**13 until the year 2286), so one integer compares both.
_ATTEMPT_WEIGHT = 10**13


def composite_key(moodle_user_id: str, assignment_id: str) -> str:
    """One grade per student per assignment: `{moodle_user_id}_{assignment_id}`."""
    return f"{moodle_user_id}_{assignment_id}"


def grader_role(role_shortnames: Iterable[str]) -> GraderRole:
    """Any role containing `iv` wins over any containing `teacher`; otherwise `other`."""
    names = [name.lower() for name in role_shortnames]
    if any("iv" in name for name in names):
        return "iv"
    if any("teacher" in name for name in names):
        return "teacher"
    return "other"


@dataclass(frozen=True, slots=True)
class GraderFields:
    grader_name: str | None
    grader_moodle_id: str | None
    iv_name: str | None
    iv_moodle_id: str | None


def grader_fields(role: GraderRole, name: str | None, moodle_id: str | None) -> GraderFields:
    """An IV fills the IV fields, a teacher the grader fields, anyone else neither."""
    if role == "iv":
        return GraderFields(None, None, name, moodle_id)
    if role == "teacher":
        return GraderFields(name, moodle_id, None, None)
    return GraderFields(None, None, None, None)


def grade_version(attempt_number: int, at_ms: int) -> int:
    """A later attempt beats any earlier one whatever the clocks say; within an attempt, later wins."""
    return max(attempt_number, 0) * _ATTEMPT_WEIGHT + max(at_ms, 0) % _ATTEMPT_WEIGHT


def criterion_sort_key(code: str) -> tuple[int, int, str]:
    match = _CODE.match(code)
    if match is None:
        return (len(_LEVEL_ORDER), 0, code)
    level, number = match[1].upper(), int(match[2])
    return (_LEVEL_ORDER.get(level, len(_LEVEL_ORDER)), number, code)


def merge_outcomes(rows: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    """One row per criterion code; a later row fills what an earlier one left empty.

    Rows are dicts with a non-empty `code`; codes compare case-insensitively and come out
    upper-case, ordered P, M, D and by number, so the same outcomes always fingerprint alike.
    """
    merged: dict[str, dict[str, object]] = {}
    for row in rows:
        code = str(row["code"]).upper()
        current = merged.get(code)
        if current is None:
            merged[code] = {**row, "code": code}
            continue
        for field, value in row.items():
            if value is not None and value != "" and current.get(field) in (None, ""):
                current[field] = value
    return [merged[code] for code in sorted(merged, key=criterion_sort_key)]


# Moodle's marking workflow states and the BTEC_Grades Grade_Status picklist value each one is.
WORKFLOW_STATUS: dict[str, str] = {
    "notmarked": "Not Marked",
    "inmarking": "In Marking",
    "readyforreview": "Marking completed",
    "inreview": "In review",
    "readyforrelease": "Ready for release",
    "released": "Released",
}


def grade_status(workflow_state: str | None, released: bool | None, legacy: str | None) -> str | None:
    """Grade_Status of a Moodle grade: its workflow state's label; a released grade without a workflow is
    Released; the first plugin's free-text status is kept as it came (the sink leaves out what Zoho lacks)."""
    if workflow_state is not None:
        return WORKFLOW_STATUS.get(workflow_state.strip().lower(), workflow_state)
    if released:
        return "Released"
    return legacy
