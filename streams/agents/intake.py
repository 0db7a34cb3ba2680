"""Stage 1: raw bodies → parsed records, routed by the key of the state each one needs."""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import EventT

from schemas.deadletter import INTERNAL_ERROR, INVALID_RECORD, DeadLetter, FieldError, RawPosition, dead_letter
from schemas.keys import EntityKey
from streams import batches
from streams.app import (
    DROPPED,
    EVENTS_IN,
    PARTITIONS,
    app,
    deliveries,
    emitted,
    identity_topic,
    moodle_topic,
    person_topic,
    raw_topics,
)
from streams.emit import dead, emit
from streams.events import CanonicalEvent
from streams.messages import Item, pack
from streams.outbox import Outbox
from streams.parse import parse_raw
from streams.tenant_mappings import mappings

log = logging.getLogger(__name__)

REFERENCE = ("program", "unit", "class", "teacher")
PERSON_SIDE = ("registration", "payment", "enrollment", "grade")


def _h(headers: Any, name: str) -> str:
    value = (headers or {}).get(name)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _letter(ev: CanonicalEvent, body: bytes, reason: str, message: str, suffix: str,
            errors: tuple[FieldError, ...] = ()) -> DeadLetter:
    """A dead letter for a record that parsed but cannot go on; the raw body is kept for a retry."""
    return dead_letter(
        writer="streams",
        subject=f"{ev.event_id}:{suffix}",
        reason=reason,
        message=message,
        tenant=ev.tenant,
        source=ev.origin,
        kind=ev.entity,
        raw=ev.raw,
        received_at_ms=ev.received_at_ms,
        body=body,
        errors=errors,
        record_index=ev.record_index,
        record_id=ev.entity_id,
        delivery_id=ev.delivery_id,
    )


def _send(outbox: Outbox, topic: faust.TopicT, tenant: str, ident: str, kind: str, event: list[Any],
          student: str | None = None, email: str | None = None, partition: int | None = None) -> None:
    outbox.add(topic.get_topic_name(), Item(EntityKey(tenant, ident).text(), kind, student, email, event), partition)


async def route(ev: CanonicalEvent, body: bytes, outbox: Outbox, partition: int) -> None:
    """Send `ev` on to the stage that owns the state it needs (`partition`: the raw record's)."""
    payload = ev.payload or {}
    if ev.entity in REFERENCE:
        # Reference data is small: every person partition keeps its own copy.
        packed = pack(ev)
        for part in range(PARTITIONS):
            _send(outbox, person_topic, ev.tenant, f"ref/{ev.entity}/{ev.entity_id}", "ref", packed, partition=part)
        return
    if ev.entity == "student":
        packed = pack(ev)
        _send(outbox, person_topic, ev.tenant, ev.entity_id, "student", packed)
        email = (payload.get("academic_email") or "").strip().lower()
        if email:
            _send(outbox, identity_topic, ev.tenant, email, "student_email", packed, student=ev.entity_id)
        if payload.get("moodle_user_id"):
            _send(outbox, moodle_topic, ev.tenant, str(payload["moodle_user_id"]), "link", packed,
                  student=ev.entity_id)
        return
    if ev.entity == "moodle_user":
        email = (payload.get("email") or "").strip().lower()
        if email:
            _send(outbox, identity_topic, ev.tenant, email, "moodle_user", pack(ev), email=email)
        else:
            _send(outbox, moodle_topic, ev.tenant, ev.entity_id, "user", pack(ev))
        return
    if ev.entity == "moodle_enrollment" or (ev.entity == "grade" and ev.origin == "moodle"):
        muid = str(payload.get("moodle_user_id") or "")
        if not muid and ev.deleted:
            muid = ev.entity_id.split("_", 1)[0]
        kind = "enrollment" if ev.entity == "moodle_enrollment" else "grade"
        _send(outbox, moodle_topic, ev.tenant, muid, kind, pack(ev))
        return
    if ev.entity in PERSON_SIDE:
        student = payload.get("student_id")
        if ev.deleted and not student:
            # A delete names only the record; it needs no join, so it goes out directly.
            await emit(ev, partition)
            return
        if not student:
            await dead(_letter(ev, body, INVALID_RECORD, f"{ev.entity} {ev.entity_id} names no student", "no-student",
                               (FieldError("student_id", "a student lookup is required"),)))
            return
        _send(outbox, person_topic, ev.tenant, student, ev.entity, pack(ev))
        return
    log.error("no route for entity", extra={"entity": ev.entity})


async def _intake(event: EventT, outbox: Outbox) -> None:
    msg = event.message
    EVENTS_IN.labels(msg.topic).inc()
    headers = event.headers
    tenant = _h(headers, "tenant")
    source = _h(headers, "source") or ("zoho" if msg.topic == "raw.zoho" else "moodle")
    delivery_id = _h(headers, "delivery-id") or None
    body = event.value if isinstance(event.value, bytes) else b""
    # A redelivery is another raw record with the same id. The same record read again (a restart after a crash
    # whose table write survived but whose outputs did not) is processed again.
    if delivery_id and not deliveries.first(msg.partition, f"{source}/{tenant}/{delivery_id}",
                                            f"{msg.topic}:{msg.partition}:{msg.offset}", int(msg.timestamp * 1000)):
        DROPPED.labels("redelivery").inc()
        return
    received = _h(headers, "received-at")
    items = parse_raw(
        source="zoho" if source == "zoho" else "moodle",
        kind=_h(headers, "kind"),
        body=body,
        content_type=_h(headers, "content-type"),
        tenant=tenant,
        mapping=mappings.for_tenant(tenant),
        raw=RawPosition(msg.topic, msg.partition, msg.offset, key=event.key if isinstance(event.key, bytes)
                        else None),
        received_at_ms=int(received) if received.isdigit() else int(msg.timestamp * 1000),
        delivery_id=delivery_id,
    )
    for item in items:
        if isinstance(item, DeadLetter):
            await dead(item)
            continue
        try:
            await route(item, body, outbox, msg.partition)
        except Exception as exc:  # a bug must not stall the partition: keep the record, say why
            log.exception("routing failed", extra={"entity": item.entity, "entity_id": item.entity_id})
            await dead(_letter(item, body, INTERNAL_ERROR,
                               f"could not route {item.entity} {item.entity_id}: {type(exc).__name__}: {exc}",
                               "internal"))


@deliveries.table.on_recover
async def _forget_buckets() -> None:
    deliveries.forget()


@app.agent(raw_topics, concurrency=1)
async def intake(stream: faust.StreamT[bytes]) -> None:
    await batches.run(stream, _intake, (emitted, deliveries), stage_topic=False)
