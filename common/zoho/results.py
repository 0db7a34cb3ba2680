"""Per-record outcomes of a write, in input order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from common.zoho.errors import ZohoRequestError


@dataclass(frozen=True)
class RecordSuccess:
    index: int
    id: str
    action: Literal["created", "updated"]
    # Upserts only: the duplicate-check field that matched an existing record, None for an insert.
    duplicate_field: str | None = None
    modified_time: str | None = None
    ok: Literal[True] = True


@dataclass(frozen=True)
class RecordFailure:
    index: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    ok: Literal[False] = False

    @property
    def field(self) -> str | None:
        name = self.details.get("api_name")
        return name if isinstance(name, str) else None

    @property
    def existing_id(self) -> str | None:
        """For DUPLICATE_DATA: the id of the record that already holds the value."""
        if self.code != "DUPLICATE_DATA":
            return None
        duplicate = self.details.get("duplicate_record")
        found = self.details.get("id") or (duplicate.get("id") if isinstance(duplicate, dict) else None)
        return str(found) if found is not None else None


RecordResult = RecordSuccess | RecordFailure


def parse_write_items(items: Any, offset: int, expected: int, default_action: Literal["created", "updated"]
                      ) -> list[RecordResult]:
    if isinstance(items, list) and len(items) == 1 and expected > 1 and items[0].get("status") == "error":
        # A request-level error (INVALID_MODULE, LIMIT_EXCEEDED, …) comes inside data[] as one item: it is
        # every record's answer.
        item = items[0]
        details = item.get("details") if isinstance(item.get("details"), dict) else {}
        return [RecordFailure(offset + i, str(item.get("code")), str(item.get("message")), details)
                for i in range(expected)]
    if not isinstance(items, list) or len(items) != expected:
        raise ZohoRequestError(200, None, f"expected {expected} result items, got {items!r:.200}")
    results: list[RecordResult] = []
    for i, item in enumerate(items):
        details = item.get("details") if isinstance(item.get("details"), dict) else {}
        if item.get("status") == "success" and details.get("id"):
            action = item.get("action")
            kind: Literal["created", "updated"] = (
                "created" if action == "insert" else "updated" if action == "update" else default_action)
            results.append(RecordSuccess(offset + i, str(details["id"]), kind, item.get("duplicate_field"),
                                         details.get("Modified_Time")))
        else:
            results.append(RecordFailure(offset + i, str(item.get("code")), str(item.get("message")), details))
    return results
