"""In-memory records of one org, id generation, and rendering records the way GET returns them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

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
        self._counter = itertools.count(_FIRST_ID)
        self._autonumbers: dict[tuple[str, str], itertools.count[int]] = {}

    def new_id(self) -> str:
        return self._id(next(self._counter))

    def get(self, module: str, record_id: str) -> StoredRecord | None:
        return self.records[module].get(record_id)

    def create(self, module: str, values: dict[str, Any]) -> StoredRecord:
        for name, spec in self.modules[module].fields.items():
            if spec.type == "autonumber":
                counter = self._autonumbers.setdefault((module, name), itertools.count(1))
                values[name] = f"{spec.prefix}{next(counter):04d}"
        now = self.clock.now()
        record = StoredRecord(self.new_id(), values, now, now)
        self.records[module][record.id] = record
        return record

    def replace(self, record: StoredRecord, values: dict[str, Any]) -> None:
        record.values = values
        record.modified = self.clock.now()

    def delete(self, module: str, record_id: str) -> bool:
        return self.records[module].pop(record_id, None) is not None

    def display_name(self, module: str, record_id: str) -> str | None:
        record = self.records.get(module, {}).get(record_id)
        if record is None:
            return None
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
