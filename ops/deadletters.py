"""Dead letters as the operator sees them: listed, counted, found by id or position, shown in full."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from common.log import LogError, Record, read_at, scan
from schemas.codec import MAGIC, UnknownSchemaError, decode
from schemas.topics import DEADLETTER


@dataclass(frozen=True)
class Letter:
    record: Record
    fields: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.fields["dead_letter_id"])

    @property
    def position(self) -> str:
        return self.record.position

    @property
    def body(self) -> bytes:
        return bytes(self.fields["body"])

    @property
    def raw_position(self) -> tuple[str, int, int]:
        raw = self.fields["raw"]
        return str(raw["topic"]), int(raw["partition"]), int(raw["offset"])


def _letter(record: Record) -> Letter | None:
    try:
        name, fields = decode(record.value or b"")
    except UnknownSchemaError:
        return None  # not ours to show: the topic holds only dead letters we wrote
    return Letter(record, fields) if name == "deadletter" else None


def load(bootstrap: str, tenant: str | None = None, reason: str | None = None) -> list[Letter]:
    """Every dead letter, oldest first, each id once: at-least-once stages may write a letter twice."""
    seen: dict[str, Letter] = {}
    for record in scan(bootstrap, DEADLETTER):
        letter = _letter(record)
        if letter is None:
            continue
        if tenant is not None and letter.fields["tenant"] != tenant:
            continue
        if reason is not None and letter.fields["reason"] != reason:
            continue
        seen.setdefault(letter.id, letter)
    return sorted(seen.values(), key=lambda le: (le.record.timestamp_ms, le.record.partition, le.record.offset))


def counts_by_reason(letters: list[Letter]) -> dict[str, dict[str, int]]:
    """tenant → reason → distinct dead letters."""
    counts: Counter[tuple[str, str]] = Counter((le.fields["tenant"], le.fields["reason"]) for le in letters)
    out: dict[str, dict[str, int]] = {}
    for (tenant, reason), n in sorted(counts.items()):
        out.setdefault(tenant, {})[reason] = n
    return out


def parse_position(ref: str) -> tuple[str, int, int] | None:
    """`deadletter:2:17` → (topic, partition, offset); anything else is taken for a dead-letter id."""
    parts = ref.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    return None


def find(bootstrap: str, ref: str) -> Letter:
    position = parse_position(ref)
    if position is not None and position[0] == DEADLETTER:
        letter = _letter(read_at(bootstrap, *position))
        if letter is None:
            raise LogError(f"{ref} is not a dead letter")
        return letter
    for letter in load(bootstrap):
        if letter.id == ref:
            return letter
    raise LogError(f"no dead letter with id {ref!r}")


def summary(letter: Letter) -> dict[str, Any]:
    f = letter.fields
    raw = f["raw"]
    return {
        "id": letter.id, "position": letter.position, "tenant": f["tenant"], "reason": f["reason"],
        "source": f["source"], "kind": f["kind"], "record_id": f["record_id"], "message": f["message"],
        "raw": f"{raw['topic']}:{raw['partition']}:{raw['offset']}", "received_at": f["received_at"],
    }


def detail(letter: Letter) -> dict[str, Any]:
    """Every field, with the body decoded when it is JSON, a form or an Avro event."""
    out = {"position": letter.position, **{k: v for k, v in letter.fields.items() if k != "body"}}
    out["body"] = readable_body(letter.body, letter.fields.get("content_type"))
    return out


def readable_body(body: bytes, content_type: str | None) -> Any:
    if body[:2] == MAGIC:
        try:
            name, record = decode(body)
            return {"avro": name, "record": record}
        except UnknownSchemaError:
            pass
    if (content_type or "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode(), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            pass
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def to_json(value: Any) -> Any:
    """orjson `default`: times as ISO text, bytes as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
