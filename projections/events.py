"""Kafka records → what the projector applies: the one module that knows the wire format.

Everything the projector consumes is Avro single-object encoded (`schemas.codec`). A record that
does not decode, names a schema that does not belong on its topic, or carries a payload the
tables cannot hold becomes a `Rejected`, which the projector dead-letters and moves past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from projections.tables import ENTITY_TABLES, EntityTable, MalformedPayload
from schemas.codec import decode
from schemas.deadletter import MALFORMED, UNDECODABLE
from schemas.keys import tenant_of
from schemas.topics import DEADLETTER, MOODLE_OUTCOMES, ZOHO_OUTCOMES

CANONICAL_PREFIX = "canonical."


@dataclass(frozen=True, slots=True)
class Position:
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class EntityChange:
    table: EntityTable
    deleted: bool
    key: tuple[Any, ...]
    # (tenant, entity id): what a delete removes (for grades, every attempt)
    entity_key: tuple[str, str]
    version: int
    position: Position
    event_id: str
    occurred_at: datetime
    row: tuple[Any, ...] | None
    children: list[tuple[Any, ...]]

    @property
    def order(self) -> tuple[int, int]:
        # Newer wins; at the same version the later event in the log wins, as if applied one by one.
        return (self.version, self.position.offset)


@dataclass(slots=True)
class Outcome:
    state_key: tuple[str, str, str]
    occurred_at: datetime
    position: Position
    row: tuple[Any, ...]
    # Which sink reported it: zoho (zoho_sync_outcome) or moodle (moodle_sync_outcome).
    target: str = "zoho"


@dataclass(slots=True)
class DeadLetterRow:
    row: tuple[Any, ...]


@dataclass(slots=True)
class Rejected:
    position: Position
    key: bytes | None
    value: bytes
    tenant: str
    reason: str
    message: str


Decoded = EntityChange | Outcome | DeadLetterRow | Rejected

OUTCOME_COLUMNS = ("topic_partition", "topic_offset", "tenant", "module", "record_key", "action", "zoho_id",
                   "attempt", "error_code", "error_message", "event_id", "entity", "entity_id", "fingerprint",
                   "occurred_at")
MOODLE_OUTCOME_COLUMNS = ("topic_partition", "topic_offset", "tenant", "entity", "record_key", "action",
                          "moodle_id", "attempt", "error_code", "error_message", "event_id", "entity_id",
                          "occurred_at")
DEAD_LETTER_COLUMNS = ("dead_letter_id", "reason", "message", "errors", "tenant", "source", "kind", "raw_topic",
                       "raw_partition", "raw_offset", "raw_key", "record_index", "record_id", "delivery_id",
                       "content_type", "occurred_at", "received_at", "body_size")


def tenant_of_key(key: bytes | None) -> str:
    return tenant_of(key) or "unknown"


def _entity_change(table: EntityTable, record: dict[str, Any], position: Position) -> EntityChange:
    deleted = str(record["event_type"]).endswith("Deleted")
    tenant, entity_id = record["tenant"], record["entity_id"]
    if not tenant or not entity_id:
        raise MalformedPayload("event without tenant or entity id")
    payload = record["payload"]
    if payload is None and not deleted:
        raise MalformedPayload(f"{record['event_type']} without a payload")
    key = table.row_key(tenant, entity_id, payload)
    row: tuple[Any, ...] | None = None
    children: list[tuple[Any, ...]] = []
    if not deleted:
        envelope = (record["source_version"], record["origin"], record["event_id"], record["fingerprint"],
                    record["occurred_at"], record["warnings"])
        row = table.row(key, envelope, payload)
        children = table.child_rows(key, payload)
    return EntityChange(table, deleted, key, (tenant, entity_id), record["source_version"], position,
                        record["event_id"], record["occurred_at"], row, children)


def _outcome(record: dict[str, Any], position: Position) -> Outcome:
    row = (position.partition, position.offset, record["tenant"], record["module"], record["record_key"],
           record["action"], record["zoho_id"], record["attempt"], record["error_code"], record["error_message"],
           record["event_id"], record["entity"], record["entity_id"], record["fingerprint"], record["occurred_at"])
    return Outcome((record["tenant"], record["module"], record["record_key"]), record["occurred_at"], position, row)


def _moodle_outcome(record: dict[str, Any], position: Position) -> Outcome:
    row = (position.partition, position.offset, record["tenant"], record["entity"], record["record_key"],
           record["action"], record["moodle_id"], record["attempt"], record["error_code"], record["error_message"],
           record["event_id"], record["entity_id"], record["occurred_at"])
    return Outcome((record["tenant"], record["entity"], record["record_key"]), record["occurred_at"], position, row,
                   "moodle")


def _dead_letter(record: dict[str, Any]) -> DeadLetterRow:
    raw = record["raw"]
    row = (record["dead_letter_id"], record["reason"], record["message"], orjson.dumps(record["errors"]).decode(),
           record["tenant"], record["source"], record["kind"], raw["topic"], raw["partition"], raw["offset"],
           record["raw_key"], record["record_index"], record["record_id"], record["delivery_id"],
           record["content_type"], record["occurred_at"], record["received_at"], len(record["body"]))
    return DeadLetterRow(row)


def expected_schema(topic: str) -> str | None:
    if topic.startswith(CANONICAL_PREFIX):
        return topic
    return {ZOHO_OUTCOMES: "zoho.outcome", MOODLE_OUTCOMES: "moodle.outcome", DEADLETTER: "deadletter"}.get(topic)


def decode_record(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> Decoded:
    position = Position(topic, partition, offset)
    data = value or b""
    try:
        name, record = decode(data)
    except Exception as exc:  # fastavro raises many types on corrupt bodies; all mean the same here
        return Rejected(position, key, data, tenant_of_key(key), UNDECODABLE, f"{type(exc).__name__}: {exc}")
    if name != expected_schema(topic):
        return Rejected(position, key, data, tenant_of_key(key), MALFORMED, f"a {name} value on topic {topic}")
    try:
        if topic == ZOHO_OUTCOMES:
            return _outcome(record, position)
        if topic == MOODLE_OUTCOMES:
            return _moodle_outcome(record, position)
        if topic == DEADLETTER:
            return _dead_letter(record)
        return _entity_change(ENTITY_TABLES[topic[len(CANONICAL_PREFIX):]], record, position)
    except (MalformedPayload, KeyError, TypeError, ValueError) as exc:
        return Rejected(position, key, data, tenant_of_key(key), MALFORMED, f"{type(exc).__name__}: {exc}")
