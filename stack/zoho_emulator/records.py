"""Record operations of one org: insert, update, upsert, delete, get, list, search (docs/zoho-api.md#records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack.zoho_emulator.config import Behaviour
from stack.zoho_emulator.criteria import Node, matches
from stack.zoho_emulator.errors import RecordError, ZohoError, invalid_data, success_item
from stack.zoho_emulator.store import OrgStore, StoredRecord
from stack.zoho_emulator.validation import RecordValidator, is_empty, same_value


@dataclass(frozen=True)
class Change:
    """A committed write, for workflow webhooks."""

    operation: str  # insert | update | delete
    record_id: str
    data: dict[str, Any]


@dataclass
class WriteResult:
    items: list[dict[str, Any]]
    changes: list[Change]


class RecordService:
    def __init__(self, store: OrgStore, behaviour: Behaviour) -> None:
        self.store = store
        self.behaviour = behaviour

    def _validator(self, module: str) -> RecordValidator:
        return RecordValidator(
            self.store.modules[module], reject_unknown=self.behaviour.unknown_fields == "reject",
            lookup_exists=lambda target, rid: target in self.store.records and self.store.get(target, rid) is not None,
            new_id=self.store.new_id,
        )

    def insert(self, module: str, data: list[Any]) -> WriteResult:
        validator, result = self._validator(module), WriteResult([], [])
        for index, raw in enumerate(data):
            try:
                values = validator.prepare(raw, index, None)
                self._check_unique(module, values, index, None, upsert=False)
            except RecordError as err:
                result.items.append(err.item())
                continue
            record = self.store.create(module, values)
            result.items.append(success_item("record added", self.store.write_details(record)))
            result.changes.append(Change("insert", record.id, self.store.render(module, record)))
        return result

    def update(self, module: str, data: list[Any]) -> WriteResult:
        validator, result = self._validator(module), WriteResult([], [])
        for index, raw in enumerate(data):
            try:
                record = self._target(module, raw, index)
                values = validator.prepare(raw, index, record.values)
                self._check_unique(module, values, index, record.id, upsert=False)
            except RecordError as err:
                result.items.append(err.item())
                continue
            self.store.replace(module, record, values)
            result.items.append(success_item("record updated", self.store.write_details(record)))
            result.changes.append(Change("update", record.id, self.store.render(module, record)))
        return result

    def upsert(self, module: str, data: list[Any], duplicate_check_fields: list[str] | None) -> WriteResult:
        spec = self.store.modules[module]
        allowed = [spec.name_field, *[f for f in spec.unique_fields() if f != spec.name_field]]
        check_fields = duplicate_check_fields if duplicate_check_fields is not None else allowed
        for k, name in enumerate(check_fields):
            if name not in allowed:
                raise ZohoError(400, "INVALID_DATA", "the field api name given seems to be invalid",
                                {"api_name": name, "json_path": f"$.duplicate_check_fields[{k}]"})
        validator, result = self._validator(module), WriteResult([], [])
        for index, raw in enumerate(data):
            try:
                existing, field = self._match(module, raw, index, check_fields)
                values = validator.prepare(raw, index, existing.values if existing else None)
                self._check_unique(module, values, index, existing.id if existing else None, upsert=True)
            except RecordError as err:
                result.items.append(err.item())
                continue
            if existing is None:
                record = self.store.create(module, values)
                item = success_item("record added", self.store.write_details(record))
                item.update(action="insert", duplicate_field=None)
                result.changes.append(Change("insert", record.id, self.store.render(module, record)))
            else:
                record = existing
                self.store.replace(module, record, values)
                item = success_item("record updated", self.store.write_details(record))
                item.update(action="update", duplicate_field=field)
                result.changes.append(Change("update", record.id, self.store.render(module, record)))
            result.items.append(item)
        return result

    def seed(self, module: str, data: list[Any], times: list[tuple[float, float]]) -> list[str]:
        """Records that existed before the integration started: validated like an insert, no webhook, no credits.

        Unique fields are checked against an index built once, so seeding thousands of records stays linear.
        """
        spec, validator = self.store.modules[module], self._validator(module)
        taken: dict[str, set[Any]] = {name: set() for name in spec.unique_fields()}
        for record in self.store.records[module].values():
            for name, index_of in taken.items():
                index_of.add(_unique_key(record.values.get(name), spec.fields[name].case_sensitive))
        prepared = []
        for index, raw in enumerate(data):
            try:
                values = validator.prepare(raw, index, None)
            except RecordError as err:
                raise ZohoError(400, err.code, err.message, err.details) from err
            for name, seen in taken.items():
                key = _unique_key(values.get(name), spec.fields[name].case_sensitive)
                if key is not None and key in seen:
                    raise ZohoError(400, "DUPLICATE_DATA", "duplicate data",
                                    {"api_name": name, "json_path": f"$.data[{index}].{name}"})
                seen.add(key)
            prepared.append(values)
        return [self.store.create(module, values, created, modified).id
                for values, (created, modified) in zip(prepared, times, strict=True)]

    def delete(self, module: str, ids: list[str]) -> WriteResult:
        result = WriteResult([], [])
        for record_id in ids:
            record = self.store.get(module, record_id)
            if record is None:
                result.items.append(RecordError("INVALID_DATA", "record not deleted", {"id": record_id}).item())
                continue
            data = self.store.render(module, record)
            self.store.delete(module, record_id)
            result.items.append(success_item("record deleted", {"id": record_id}))
            result.changes.append(Change("delete", record_id, data))
        return result

    def get(self, module: str, record_id: str, fields: list[str] | None = None) -> dict[str, Any] | None:
        record = self.store.get(module, record_id)
        return None if record is None else self.store.render(module, record, fields)

    def search(self, module: str, node: Node, visible_after: float) -> list[StoredRecord]:
        spec = self.store.modules[module]
        found = []
        for record in self.store.records[module].values():
            if record.created > visible_after:
                continue  # not in the search index yet

            def value(name: str, record: StoredRecord = record) -> Any:
                system = {"id": record.id, "Created_Time": self.store.clock.iso(record.created),
                          "Modified_Time": self.store.clock.iso(record.modified)}
                return system[name] if name in system else record.values.get(name)

            if matches(node, value, spec):
                found.append(record)
        return found

    def _target(self, module: str, raw: Any, index: int) -> StoredRecord:
        if not isinstance(raw, dict):
            raise RecordError("INVALID_DATA", "invalid data",
                              {"json_path": f"$.data[{index}]", "expected_data_type": "jsonobject"})
        if is_empty(raw.get("id")):
            raise RecordError("MANDATORY_NOT_FOUND", "required field not found",
                              {"api_name": "id", "json_path": f"$.data[{index}].id"})
        record = self.store.get(module, str(raw["id"]))
        if record is None:
            raise invalid_data("id", f"$.data[{index}].id", "the id given seems to be invalid")
        return record

    def _match(self, module: str, raw: Any, index: int, fields: list[str]) -> tuple[StoredRecord | None, str | None]:
        """The record an upsert updates: first duplicate-check field, in the given order, that matches."""
        if not isinstance(raw, dict):
            return None, None
        spec = self.store.modules[module]
        for name in fields:
            given = raw.get(name)
            if is_empty(given):
                continue
            case_sensitive = spec.fields[name].case_sensitive if name in spec.fields else False
            found = [r for r in self.store.records[module].values()
                     if same_value(r.values.get(name), given, case_sensitive)]
            if not found:
                continue
            if len(found) > 1 and self.behaviour.upsert_multiple_matches == "duplicate_data":
                raise self._duplicate(module, name, index, found, upsert=True)
            return found[0], name
        return None, None

    def _check_unique(self, module: str, values: dict[str, Any], index: int, own_id: str | None, *,
                      upsert: bool) -> None:
        spec = self.store.modules[module]
        errors = []
        for name in spec.unique_fields():
            value = values.get(name)
            if is_empty(value):
                continue
            field = spec.fields[name]
            found = [r for r in self.store.records[module].values()
                     if r.id != own_id and same_value(r.values.get(name), value, field.case_sensitive)]
            if found:
                errors.append(self._duplicate(module, name, index, found, upsert=upsert))
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise RecordError("MULTIPLE_OR_MULTI_ERRORS", "Multiple errors in the request",
                              {"errors": [err.item() for err in errors]})

    def _duplicate(self, module: str, name: str, index: int, found: list[StoredRecord], *,
                   upsert: bool) -> RecordError:
        existing = found[0]
        duplicate: dict[str, Any] = {"Owner": {**self.store.user, "zuid": "10000001"}, "id": existing.id}
        if upsert:
            duplicate["module"] = {"api_name": module, "id": self.store.module_ids[module]}
        return RecordError("DUPLICATE_DATA", "duplicate data", {
            "api_name": name, "json_path": f"$.data[{index}].{name}", "id": existing.id,
            "more_records": len(found) > 1, "duplicate_record": duplicate,
        })


def _unique_key(value: Any, case_sensitive: bool) -> Any:
    """The value as a unique-field index holds it (None: empty, not indexed), matching `same_value`."""
    if is_empty(value):
        return None
    if isinstance(value, str) and not case_sensitive:
        return value.strip().casefold()
    return value
