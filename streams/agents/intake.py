"""Stage 1: raw bodies → parsed records, routed by the key of the state each one needs."""

from __future__ import annotations

import logging
from typing import Any

import faust

from schemas.deadletter import INTERNAL_ERROR, INVALID_RECORD, DeadLetter, FieldError, RawPosition, dead_letter
from schemas.keys import EntityKey
from streams.app import (
    EVENTS_IN,
    PARTITIONS,
    app,
    config,
    deliveries,
    identity_topic,
    moodle_topic,
    person_topic,
    publish,
    raw_topics,
)
from streams.emit import dead, emit
from streams.events import CanonicalEvent
from streams.messages import EMAIL, KIND, STUDENT
from streams.parse import parse_raw
from streams.tenant_mappings import mappings

log = logging.getLogger(__name__)

REFERENCE = ("program", "unit", "class", "teacher")
PERSON_SIDE = ("registration", "payment", "enrollment", "grade")


def _h(headers: Any, name: str) -> str:
    value = (headers or {}).get(name)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _key(tenant: str, ident: str) -> bytes:
    return EntityKey(tenant, ident).encode()


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


async def route(ev: CanonicalEvent, body: bytes) -> None:
    value = ev.to_avro()
    payload = ev.payload or {}
    if ev.entity in REFERENCE:
        # Reference data is small: every person partition keeps its own copy.
        for partition in range(PARTITIONS):
            await publish(person_topic, _key(ev.tenant, f"ref/{ev.entity}/{ev.entity_id}"), value=value,
                          partition=partition, headers={KIND: b"ref"})
        return
    if ev.entity == "student":
        await publish(person_topic, _key(ev.tenant, ev.entity_id), value=value, headers={KIND: b"student"})
        email = (payload.get("academic_email") or "").strip().lower()
        if email:
            await publish(identity_topic, _key(ev.tenant, email), value=value,
                          headers={KIND: b"student_email", STUDENT: ev.entity_id.encode()})
        if payload.get("moodle_user_id"):
            await publish(moodle_topic, _key(ev.tenant, str(payload["moodle_user_id"])), value=value,
                          headers={KIND: b"link", STUDENT: ev.entity_id.encode()})
        return
    if ev.entity == "moodle_user":
        email = (payload.get("email") or "").strip().lower()
        if email:
            await publish(identity_topic, _key(ev.tenant, email), value=value,
                          headers={KIND: b"moodle_user", EMAIL: email.encode()})
        else:
            await publish(moodle_topic, _key(ev.tenant, ev.entity_id), value=value, headers={KIND: b"user"})
        return
    if ev.entity == "moodle_enrollment" or (ev.entity == "grade" and ev.origin == "moodle"):
        muid = str(payload.get("moodle_user_id") or "")
        if not muid and ev.deleted:
            muid = ev.entity_id.split("_", 1)[0]
        kind = b"enrollment" if ev.entity == "moodle_enrollment" else b"grade"
        await publish(moodle_topic, _key(ev.tenant, muid), value=value, headers={KIND: kind})
        return
    if ev.entity in PERSON_SIDE:
        student = payload.get("student_id")
        if ev.deleted and not student:
            # A delete names only the record; it needs no join, so it goes out directly.
            await emit(ev)
            return
        if not student:
            await dead(_letter(ev, body, INVALID_RECORD, f"{ev.entity} {ev.entity_id} names no student", "no-student",
                               (FieldError("student_id", "a student lookup is required"),)))
            return
        await publish(person_topic, _key(ev.tenant, student), value=value, headers={KIND: ev.entity.encode()})
        return
    log.error("no route for entity", extra={"entity": ev.entity})


@app.agent(raw_topics, concurrency=1)
async def intake(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        msg = event.message
        EVENTS_IN.labels(msg.topic).inc()
        headers = event.headers
        tenant = _h(headers, "tenant")
        source = _h(headers, "source") or ("zoho" if msg.topic == "raw.zoho" else "moodle")
        delivery_id = _h(headers, "delivery-id") or None
        body = event.value if isinstance(event.value, bytes) else b""
        if delivery_id:
            seen_key = f"{source}/{tenant}/{delivery_id}"
            here = f"{msg.topic}:{msg.partition}:{msg.offset}"
            window = deliveries[seen_key]
            first = window.current() or window.delta(config.delivery_dedupe_s)
            # A redelivery is another raw record with the same id. The same record read again (a restart
            # after a crash whose table write survived but whose outputs did not) is processed again.
            if first and first != here:
                continue
            deliveries[seen_key] = here
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
                await route(item, body)
            except Exception as exc:  # a bug must not stall the partition: keep the record, say why
                log.exception("routing failed", extra={"entity": item.entity, "entity_id": item.entity_id})
                await dead(_letter(item, body, INTERNAL_ERROR,
                                   f"could not route {item.entity} {item.entity_id}: {type(exc).__name__}: {exc}",
                                   "internal"))

