"""Pick, per canonical field, the first API-name variant that carries a value."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# A field map (canonical → API-name variants, most preferred first) as an index of the names: which canonical
# fields each name can fill, at which preference. Field maps are a tenant's, built once and reused, so their
# indexes are kept (by identity, bounded); a record is then read key by key, not variant by variant.
Plan = dict[str, tuple[tuple[str, int], ...]]
_PLANS: dict[int, tuple[dict[str, tuple[str, ...]], Plan]] = {}
_PLANS_MAX = 256
# Below this many fields, trying each variant costs less than keeping an index.
_INDEXED_FROM = 4


def _plan(fields: dict[str, tuple[str, ...]]) -> Plan:
    kept = _PLANS.get(id(fields))
    if kept is not None and kept[0] is fields:
        return kept[1]
    plan: dict[str, list[tuple[str, int]]] = {}
    for canonical, names in fields.items():
        for rank, name in enumerate(names):
            plan.setdefault(name, []).append((canonical, rank))
    frozen = {name: tuple(hits) for name, hits in plan.items()}
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(fields)] = (fields, frozen)
    return frozen


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Sources(Mapping[str, str]):
    """The API name each field came from, or the name a registrar should fill in when it is absent (the first one
    present but empty, else the preferred one): dead letters cite it. Worked out only when asked, which is only
    for an invalid record or a warning."""

    __slots__ = ("_all", "_fields", "_found", "_record")

    def __init__(self, record: dict[str, Any], fields: dict[str, tuple[str, ...]], found: dict[str, str]) -> None:
        self._record, self._fields, self._found = record, fields, found
        self._all: dict[str, str] | None = None

    def _every(self) -> dict[str, str]:
        if self._all is None:
            every = {}
            for canonical, names in self._fields.items():
                name = self._found.get(canonical)
                if name is None:
                    name = next((n for n in names if n in self._record), names[0])
                every[canonical] = name
            self._all = every
        return self._all

    def __getitem__(self, canonical: str) -> str:
        return self._every()[canonical]

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._fields)


class Resolved:
    __slots__ = ("sources", "values")

    def __init__(self, values: dict[str, Any], sources: Mapping[str, str]) -> None:
        self.values = values
        self.sources = sources


def resolve(record: dict[str, Any], fields: dict[str, tuple[str, ...]]) -> Resolved:
    found: dict[str, str] = {}
    if len(fields) < _INDEXED_FROM:
        for canonical, names in fields.items():
            for name in names:
                if not _empty(record.get(name)):
                    found[canonical] = name
                    break
    else:
        plan = _plan(fields)
        ranks: dict[str, int] = {}
        for name, value in record.items():
            hits = plan.get(name)
            if hits is None or _empty(value):
                continue
            for canonical, rank in hits:
                if ranks.get(canonical, rank + 1) > rank:
                    ranks[canonical] = rank
                    found[canonical] = name
    # In the field map's order, as before: what iterates the values (rules, warnings) sees the same order.
    values = {canonical: record[found[canonical]] for canonical in fields if canonical in found}
    return Resolved(values, _Sources(record, fields, found))


def resolve_rows(rows: Any, fields: dict[str, tuple[str, ...]]) -> Any:
    """Subform rows get the same treatment; anything but a list of objects is left for validation to reject."""
    if not isinstance(rows, list):
        return rows
    return [resolve(row, fields).values if isinstance(row, dict) else row for row in rows]
