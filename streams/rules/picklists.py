"""Picklist values: case is normalised to the configured spelling; unknown values are kept and
flagged for open picklists and rejected for validated (closed) ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.mapping import fold


@dataclass(frozen=True, slots=True)
class PicklistResult:
    value: str
    status: Literal["known", "unknown"]


def normalise(value: str, canonical_by_folded: dict[str, str]) -> PicklistResult:
    """`active` → `Active` when `Active` is a configured value; whitespace runs count as one space."""
    known = canonical_by_folded.get(fold(value))
    if known is not None:
        return PicklistResult(known, "known")
    return PicklistResult(value, "unknown")
