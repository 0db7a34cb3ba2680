"""In-memory records of one org, id generation, and rendering records the way GET returns them."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from stack.zoho_emulator.clock import Clock
from stack.zoho_emulator.config import OrgConfig
from stack.zoho_emulator.schema import ModuleSpec

# Where the counter of a fresh org starts; real ids of a young org look like 4876876000000412001.
_FIRST_ID = 400_001


@dataclass
class StoredRecord:
    id: str
    values: dict[str, Any]
    created: float
    modified: float


@dataclass(frozen=True)
class DeletedRecord:
    """What `GET {module}/deleted` lists: Zoho keeps the id (and, while in the recycle bin, name and users)."""

    id: str
    display_name: str | None
    deleted: float
    type: Literal["recycle", "permanent"]


SortBy = Literal["id", "Created_Time", "Modified_Time"]
SortKey = tuple[float, int]
_SORT_KEYS: dict[str, Callable[[StoredRecord], SortKey]] = {
    "id": lambda r: (0.0, int(r.id)),
    "Created_Time": lambda r: (r.created, int(r.id)),
    "Modified_Time": lambda r: (r.modified, int(r.id)),
}


def sort_key(sort_by: str, record: StoredRecord) -> SortKey:
    """Records sort by the field, then by id, so equal times still have one stable order for page tokens."""
    return _SORT_KEYS[sort_by](record)


@dataclass
class _Sorted:
    version: int
    keys: list[SortKey]
    records: list[StoredRecord]


class OrgStore:
    def __init__(self, org: OrgConfig, modules: dict[str, ModuleSpec], clock: Clock) -> None:
        self.org = org
        self.modules = modules
        self.clock = clock
        self.module_ids = {name: self._id(i + 1) for i, name in enumerate(modules)}
        owner_id = self._id(2)
        self.owner = {"name": "Emulator Admin", "id": owner_id, "email": "admin@emulator.invalid"}
        self.user = {"name": "Emulator Admin", "id": owner_id}
        self.reset()

    def _id(self, n: int) -> str:
        return f"{self.org.id_prefix}{n:012d}"

    def reset(self) -> None:
        self.records: dict[str, dict[str, StoredRecord]] = {name: {} for name in self.modules}
        # Every deletion is kept (ids are small and the deleted-records API must list them), oldest first.
        self.deleted: dict[str, list[DeletedRecord]] = {name: [] for name in self.modules}
        self._counter = itertools.count(_FIRST_ID)
        self._autonumbers: dict[tuple[str, str], itertools.count[int]] = {}
        # Bumped on every change of a module, so a sorted listing is rebuilt only when the module changed.
        self._versions: dict[str, int] = dict.fromkeys(self.modules, 0)
        self._sorted: dict[tuple[str, str], _Sorted] = {}

    def new_id(self) -> str:
        return self._id(next(self._counter))

    def get(self, module: str, record_id: str) -> StoredRecord | None:
        return self.records[module].get(record_id)

    def create(self, module: str, values: dict[str, Any], created: float | None = None,
               modified: float | None = None) -> StoredRecord:
        """A new record; `created`/`modified` only for records seeded as if they had existed before."""
        for name, spec in self.modules[module].fields.items():
            if spec.type == "autonumber":
                counter = self._autonumbers.setdefault((module, name), itertools.count(1))
                values[name] = f"{spec.prefix}{next(counter):04d}"
        now = self.clock.now()
        born = now if created is None else created
        record = StoredRecord(self.new_id(), values, born, max(born, modified) if modified is not None else born)
        self.records[module][record.id] = record
        self._versions[module] += 1
        return record

    def replace(self, module: str, record: StoredRecord, values: dict[str, Any]) -> None:
        record.values = values
        record.modified = self.clock.now()
        self._versions[module] += 1

    def delete(self, module: str, record_id: str, permanent: bool = False) -> bool:
        record = self.records[module].pop(record_id, None)
        if record is None:
            return False
        name = self.display_name_of(module, record)
        self.deleted[module].append(DeletedRecord(record_id, None if permanent else name, self.clock.now(),
                                                  "permanent" if permanent else "recycle"))
        self._versions[module] += 1
        return True

    def sorted_records(self, module: str, sort_by: str) -> tuple[list[SortKey], list[StoredRecord]]:
        """All records of the module in ascending (sort field, id) order, with their keys."""
        cached = self._sorted.get((module, sort_by))
        if cached is None or cached.version != self._versions[module]:
            records = sorted(self.records[module].values(), key=lambda r: sort_key(sort_by, r))
            cached = _Sorted(self._versions[module], [sort_key(sort_by, r) for r in records], records)
            self._sorted[(module, sort_by)] = cached
        return cached.keys, cached.records

    def walk(self, module: str, sort_by: str, descending: bool, after: SortKey | None) -> Iterator[StoredRecord]:
        """Records in the requested order, starting after the record whose key is `after` (a page cursor)."""
        keys, records = self.sorted_records(module, sort_by)
        if descending:
            start = len(keys) if after is None else bisect.bisect_left(keys, after)
            return (records[i] for i in range(start - 1, -1, -1))
        start = 0 if after is None else bisect.bisect_right(keys, after)
        return (records[i] for i in range(start, len(records)))

    def display_name(self, module: str, record_id: str) -> str | None:
        record = self.records.get(module, {}).get(record_id)
        return None if record is None else self.display_name_of(module, record)

    def display_name_of(self, module: str, record: StoredRecord) -> str | None:
        name = record.values.get(self.modules[module].name_field)
        return None if name is None else str(name)

    def write_details(self, record: StoredRecord) -> dict[str, Any]:
        """`details` of a successful insert/update item."""
        return {
            "Modified_Time": self.clock.iso(record.modified), "Modified_By": self.user,
            "Created_Time": self.clock.iso(record.created), "id": record.id, "Created_By": self.user,
            "$approval_state": "approved",
        }

    def render(self, module: str, record: StoredRecord, fields: list[str] | None = None) -> dict[str, Any]:
        spec = self.modules[module]
        out: dict[str, Any] = {"Owner": self.owner}
        for name, field in spec.fields.items():
            value = record.values.get(name)
            if field.type == "lookup" and value is not None and field.lookup:
                value = {"name": self.display_name(field.lookup, value), "id": value}
            elif field.type == "subform":
                value = [dict(row) for row in value or []]
            out[name] = value
        out.update({
            "Created_Time": self.clock.iso(record.created), "Modified_Time": self.clock.iso(record.modified),
            "Created_By": self.user, "Modified_By": self.user, "id": record.id,
        })
        if fields is not None:
            out = {key: value for key, value in out.items() if key in fields or key == "id"}
        return out
