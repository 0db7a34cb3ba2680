"""Turn one input record into stored values, or the per-record error Zoho gives for it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from stack.zoho_emulator.errors import RecordError, invalid_data
from stack.zoho_emulator.schema import FieldSpec, ModuleSpec

# Keys Zoho accepts in a write body without them being fields of the module.
SYSTEM_KEYS = frozenset({"id", "Owner", "Created_Time", "Modified_Time", "Created_By", "Modified_By", "Layout", "Tag"})
SUBFORM_SYSTEM_KEYS = frozenset({"id", "_delete", "Parent_Id", "Created_Time", "Modified_Time", "Created_By",
                                 "Modified_By"})
MAX_SUBFORM_ROWS = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEXTUAL = ("text", "textarea", "email", "phone", "picklist")


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


class RecordValidator:
    def __init__(self, module: ModuleSpec, *, reject_unknown: bool, lookup_exists: Callable[[str, str], bool],
                 new_id: Callable[[], str]) -> None:
        self.module = module
        self.reject_unknown = reject_unknown
        self.lookup_exists = lookup_exists
        self.new_id = new_id

    def prepare(self, raw: Any, index: int, current: dict[str, Any] | None) -> dict[str, Any]:
        """Full new values of the record (current values + the validated changes)."""
        path = f"$.data[{index}]"
        if not isinstance(raw, dict):
            raise RecordError("INVALID_DATA", "invalid data", {"json_path": path, "expected_data_type": "jsonobject"})
        self._check_mandatory(raw, path, current)
        changes: dict[str, Any] = {}
        for key, value in raw.items():
            if key in SYSTEM_KEYS or key.startswith("$"):
                continue
            spec = self.module.fields.get(key)
            if spec is None:
                if self.reject_unknown:
                    raise invalid_data(key, f"{path}.{key}", "the field api name given seems to be invalid")
                continue
            if spec.type == "autonumber":
                continue  # read-only; Zoho keeps its own number
            if spec.type == "subform":
                changes[key] = self._subform(key, spec, value, f"{path}.{key}", (current or {}).get(key) or [])
            else:
                changes[key] = self._value(key, spec, value, f"{path}.{key}")
        return {**(current or {}), **changes}

    def _check_mandatory(self, raw: dict[str, Any], path: str, current: dict[str, Any] | None) -> None:
        for name, spec in self.module.fields.items():
            if not spec.mandatory or spec.type == "autonumber":
                continue
            missing = is_empty(raw.get(name)) if current is None else (name in raw and is_empty(raw[name]))
            if missing:
                raise RecordError("MANDATORY_NOT_FOUND", "required field not found",
                                  {"api_name": name, "json_path": f"{path}.{name}"})

    def _value(self, name: str, spec: FieldSpec, value: Any, path: str) -> Any:
        if value is None:
            return None
        kind = spec.type
        if kind in _TEXTUAL:
            return self._text(name, spec, value, path)
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise invalid_data(name, path, expected_data_type="integer")
            if abs(value) >= 10**9:
                raise invalid_data(name, path, maximum_length=9)
            return value
        if kind == "decimal":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise invalid_data(name, path, expected_data_type="double")
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise invalid_data(name, path, expected_data_type="boolean")
            return value
        if kind == "date":
            if not isinstance(value, str) or not _DATE.match(value) or not _parses(date.fromisoformat, value):
                raise invalid_data(name, path, expected_data_type="date")
            return value
        if kind == "datetime":
            if not isinstance(value, str) or not _parses(datetime.fromisoformat, value) \
                    or datetime.fromisoformat(value).tzinfo is None:
                raise invalid_data(name, path, expected_data_type="datetime")
            return value
        if kind == "multiselectpicklist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise invalid_data(name, path, expected_data_type="jsonarray")
            for item in value:
                self._picklist(name, spec, item, path)
            return list(value)
        if kind == "lookup":
            return self._lookup(name, spec, value, path)
        raise invalid_data(name, path)

    def _text(self, name: str, spec: FieldSpec, value: Any, path: str) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise invalid_data(name, path, expected_data_type="text")
        limit = spec.max_length
        if limit is not None and len(value) > limit:
            raise invalid_data(name, path, maximum_length=limit)
        if spec.type == "email" and value and not _EMAIL.match(value):
            raise invalid_data(name, path)
        if spec.type == "picklist":
            self._picklist(name, spec, value, path)
        return value

    def _picklist(self, name: str, spec: FieldSpec, value: str, path: str) -> None:
        if spec.values is not None and spec.reject_unknown_picklist and value not in spec.values:
            raise invalid_data(name, path, supported_values=spec.values)

    def _lookup(self, name: str, spec: FieldSpec, value: Any, path: str) -> str:
        if not isinstance(value, dict) or "id" not in value:
            raise invalid_data(name, path, expected_data_type="jsonobject")
        record_id = str(value["id"])
        if not spec.lookup or not self.lookup_exists(spec.lookup, record_id):
            raise invalid_data(name, path, "the id given seems to be invalid")
        return record_id

    def _subform(self, name: str, spec: FieldSpec, value: Any, path: str, current: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
        """v3+ semantics: rows with an id are updated or `_delete`d, rows without one appended, [] clears."""
        if value is None or value == []:
            return []
        if not isinstance(value, list):
            raise invalid_data(name, path, expected_data_type="jsonarray")
        rows = [dict(row) for row in current]
        row_fields = spec.fields or {}
        for j, row in enumerate(value):
            row_path = f"{path}[{j}]"
            if not isinstance(row, dict):
                raise RecordError("INVALID_DATA", "invalid data", {"api_name": name, "json_path": row_path,
                                                                   "expected_data_type": "jsonobject"})
            changes = self._row_changes(row, row_fields, row_path)
            if "id" in row:
                position = next((k for k, r in enumerate(rows) if r["id"] == str(row["id"])), None)
                if position is None:
                    raise invalid_data("id", f"{row_path}.id", "the id given seems to be invalid")
                if "_delete" in row:
                    del rows[position]
                else:
                    rows[position].update(changes)
            else:
                rows.append({"id": self.new_id(), **{f: None for f in row_fields}, **changes})
        if len(rows) > MAX_SUBFORM_ROWS:
            raise RecordError("LIMIT_EXCEEDED", "limit exceeded",
                              {"api_name": name, "json_path": path, "limit": MAX_SUBFORM_ROWS})
        return rows

    def _row_changes(self, row: dict[str, Any], row_fields: dict[str, FieldSpec], row_path: str) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for key, item in row.items():
            if key in SUBFORM_SYSTEM_KEYS or key.startswith("$"):
                continue
            field = row_fields.get(key)
            if field is None:
                if self.reject_unknown:
                    raise invalid_data(key, f"{row_path}.{key}", "the field api name given seems to be invalid")
                continue
            changes[key] = self._value(key, field, item, f"{row_path}.{key}")
        return changes


def _parses(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def same_value(stored: Any, given: Any, case_sensitive: bool) -> bool:
    if isinstance(stored, str) and isinstance(given, str) and not case_sensitive:
        return stored.strip().casefold() == given.strip().casefold()
    return bool(stored == given)
