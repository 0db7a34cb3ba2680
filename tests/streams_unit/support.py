"""Calling parse_raw the way the faust intake agent does, with sensible test defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from schemas.deadletter import DeadLetter
from schemas.mapping import DEFAULT_MAPPING, TenantMapping
from streams.events import CanonicalEvent
from streams.parse import Parsed, RawPosition, parse_raw

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
RECEIVED_AT = 1_762_060_000_000
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def parse(
    source: Literal["zoho", "moodle"],
    kind: str,
    body: bytes | dict[str, Any] | list[Any],
    *,
    content_type: str = JSON,
    tenant: str = "college-a",
    mapping: TenantMapping = DEFAULT_MAPPING,
    offset: int = 42,
    delivery_id: str | None = None,
) -> list[Parsed]:
    raw_body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_raw(
        source=source, kind=kind, body=raw_body, content_type=content_type, tenant=tenant, mapping=mapping,
        raw=RawPosition(f"raw.{source}", 3, offset), received_at_ms=RECEIVED_AT, delivery_id=delivery_id,
    )


def events(out: list[Parsed]) -> list[CanonicalEvent]:
    return [item for item in out if isinstance(item, CanonicalEvent)]


def dead(out: list[Parsed]) -> list[DeadLetter]:
    return [item for item in out if isinstance(item, DeadLetter)]


def one_event(out: list[Parsed]) -> CanonicalEvent:
    assert len(out) == 1 and isinstance(out[0], CanonicalEvent), out
    return out[0]


def one_dead(out: list[Parsed]) -> DeadLetter:
    assert len(out) == 1 and isinstance(out[0], DeadLetter), out
    return out[0]


def sample(path: str) -> bytes:
    return (SAMPLES / path).read_bytes()


def student(**fields: Any) -> dict[str, Any]:
    """A valid BTEC_Students record; keyword arguments override or (with None) remove fields."""
    record: dict[str, Any] = {
        "id": "4876876000000412001",
        "Name": "STU-0001",
        "First_Name": "Lina",
        "Last_Name": "Haddad",
        "Academic_Email": "lina.haddad@abchorizon.com",
        "Status": "Active",
        "Modified_Time": "2026-11-02T09:14:03+03:00",
    }
    for key, value in fields.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def zoho_event(module: str, data: dict[str, Any], operation: str = "update") -> dict[str, Any]:
    return {
        "notification_id": "4876876000001203045",
        "timestamp": "2026-11-02T09:14:05+03:00",
        "module": module,
        "operation": operation,
        "record_id": data.get("id", ""),
        "data": data,
    }
