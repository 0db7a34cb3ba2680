"""Retry a dead letter through the normal path: append a body to its raw topic as the ingress would.

Which body:
- a fixed one from the operator (`--body-file`);
- else, for a letter written while parsing (its body is the raw body, or one record of a batch
  as JSON), that body;
- else (a later stage's letter, e.g. `unresolved_dependency`, whose body is an Avro canonical
  event) the original raw record, read back from the log at the letter's raw position. For a
  batch that is the whole batch again; its other records are dropped by the stream as unchanged.

The record never carries a `delivery-id`: the stream drops a delivery id it has seen within
`DELIVERY_DEDUPE_S`, and a retry is meant to be processed. `retry-of` names the dead letter.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from common.kafka import producer_config
from common.log import LogError, Record, read_at
from ops.deadletters import Letter
from schemas.bodies import FORM, JSON, BodyError, decode_object
from schemas.codec import MAGIC, UnknownSchemaError, decode
from schemas.deadletter import RETRYABLE_RAW_REASONS, ZOHO_REJECTED
from schemas.keys import RawKey, moodle_entity_id, zoho_record_id
from schemas.topics import RAW_MOODLE, RAW_ZOHO, canonical

RAW_TOPICS = {"zoho": RAW_ZOHO, "moodle": RAW_MOODLE}
# Letters written while parsing a raw body: their body is that raw body (or one record of a batch).
PARSE_REASONS = frozenset(RETRYABLE_RAW_REASONS)
# The Zoho sink's letter (ZOHO_REJECTED): its body is what the sink wrote to Zoho, and the stream drops the raw
# record it came from as unchanged, so only a corrected body can change anything.


@dataclass(frozen=True)
class Planned:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, str | bytes | None]]
    origin: str  # where the body came from, for the operator


@dataclass(frozen=True)
class Appended:
    topic: str
    partition: int
    offset: int
    key: str


def _original(bootstrap: str, letter: Letter) -> Record | None:
    """The raw record the letter is about; a projector's letter points at a canonical event,
    whose own raw position leads to it."""
    topic, partition, offset = letter.raw_position
    if topic not in (RAW_ZOHO, RAW_MOODLE) and topic.startswith(canonical("")):
        event = read_at(bootstrap, topic, partition, offset)
        try:
            _, fields = decode(event.value or b"")
        except UnknownSchemaError:
            return None
        raw = fields["raw"]
        topic, partition, offset = raw["topic"], raw["partition"], raw["offset"]
    if topic not in (RAW_ZOHO, RAW_MOODLE):
        return None
    return read_at(bootstrap, topic, partition, offset)


def plan(bootstrap: str, letter: Letter, fixed_body: bytes | None = None,
         content_type: str | None = None) -> Planned:
    f = letter.fields
    original = _original(bootstrap, letter)
    source = (original.header("source") if original else None) or f["source"]
    topic = original.topic if original else RAW_TOPICS.get(source)
    if topic is None:
        raise LogError(f"dead letter {letter.id} has no raw record and source {source!r}; cannot retry it")
    kind = (original.header("kind") if original else None) or f["kind"]
    tenant = (original.header("tenant") if original else None) or f["tenant"]
    original_type = (original.header("content-type") if original else None) or f.get("content_type") or JSON

    # An empty body was not kept (over the letter's size limit): the raw record holds it.
    parsed_letter = f["reason"] in PARSE_REASONS and bool(letter.body) and letter.body[:2] != MAGIC
    if fixed_body is not None:
        body, origin = fixed_body, "the fixed body"
        ctype = content_type or (JSON if _is_json(fixed_body) else original_type)
    elif f["reason"] == ZOHO_REJECTED:
        raise LogError(f"dead letter {letter.id}: Zoho rejected what the sink wrote; sending the same raw record "
                       "again changes nothing. Correct it in Moodle or Zoho, or retry with --body-file")
    elif parsed_letter:
        body, origin = letter.body, "the dead letter's body"
        # One record of a batch is stored as JSON whatever the batch's own content type was.
        same_as_raw = original is not None and original.value == body
        ctype = original_type if same_as_raw else JSON
    elif original is not None and original.value is not None:
        body, origin, ctype = original.value, f"the original raw record {original.position}", original_type
    else:
        raise LogError(f"dead letter {letter.id}: its raw record is gone and its body is not a raw body; "
                       "retry it with --body-file")

    key = _key(source, tenant, kind, body, ctype) or (original.key if original and original.key else None)
    if key is None:
        key = RawKey(tenant, kind, str(f.get("record_id") or "")).encode()
    headers = [
        ("source", source.encode()), ("tenant", tenant.encode()), ("kind", kind.encode()),
        ("content-type", ctype.encode()), ("received-at", str(int(time.time() * 1000)).encode()),
        ("request-id", uuid.uuid4().hex.encode()), ("retry-of", letter.id.encode()),
    ]
    return Planned(topic, key, body, headers, origin)


def _is_json(body: bytes) -> bool:
    try:
        decode_object(body, JSON, (JSON,))
        return True
    except BodyError:
        return False


def _key(source: str, tenant: str, kind: str, body: bytes, ctype: str) -> bytes | None:
    """The key the ingress would give this body (the record id is read from the body, as `schemas.keys` says)."""
    try:
        parsed = decode_object(body, ctype, (JSON, FORM) if source == "zoho" else (JSON,))
    except BodyError:
        return None
    entity_id = zoho_record_id(parsed) if source == "zoho" else moodle_entity_id(kind, parsed)
    return RawKey(tenant, kind, entity_id).encode()


def append(bootstrap: str, planned: Planned, timeout: float = 30.0) -> Appended:
    done: list[Appended | KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            done.append(err)
        else:
            done.append(Appended(msg.topic() or planned.topic, msg.partition() or 0, msg.offset() or 0,
                                 planned.key.decode("utf-8", "replace")))

    p = Producer(producer_config(bootstrap))
    p.produce(planned.topic, key=planned.key, value=planned.value, headers=planned.headers, on_delivery=on_delivery)
    p.flush(timeout)
    if not done:
        raise LogError(f"the broker did not acknowledge the record within {timeout:.0f}s")
    result = done[0]
    if isinstance(result, KafkaError):
        raise LogError(f"the broker refused the record: {result}")
    return result

