"""Pick, per canonical field, the first API-name variant that carries a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Resolved:
    values: dict[str, Any]
    # The API name each field came from, or the name a registrar should fill in when it is
    # absent (the first one present but empty, else the preferred one): dead letters cite it.
    sources: dict[str, str]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def resolve(record: dict[str, Any], fields: dict[str, tuple[str, ...]]) -> Resolved:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for canonical, names in fields.items():
        blank: str | None = None
        for name in names:
            value = record.get(name)
            if _empty(value):
                if blank is None and name in record:
                    blank = name
                continue
            values[canonical] = value
            sources[canonical] = name
            break
        else:
            sources[canonical] = blank or names[0]
    return Resolved(values, sources)


def resolve_rows(rows: Any, fields: dict[str, tuple[str, ...]]) -> Any:
    """Subform rows get the same treatment; anything but a list of objects is left for validation to reject."""
    if not isinstance(rows, list):
        return rows
    return [resolve(row, fields).values if isinstance(row, dict) else row for row in rows]
