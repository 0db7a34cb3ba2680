"""Stage 3, keyed by tenant/Moodle user id: links to students, Moodle users, Moodle grades waiting for a link."""

from __future__ import annotations

import base64
import time

import faust

from schemas.deadletter import WAITING_CAPACITY_EXCEEDED
from schemas.keys import EntityKey, tenant_of
from streams import waiting
from streams.app import (
    app,
    config,
    links,
    moodle_pending,
    moodle_topic,
    moodle_users,
    person_topic,
    publish,
    waiting_counts,
)
from streams.emit import dead, emit
from streams.events import CanonicalEvent, enriched
from streams.expiry import expire
from streams.messages import EMAIL, KIND, STUDENT, event_from_avro, header

MAX_WAITING_PER_USER = 1000


async def _emit_user(key: str, value: bytes, student: str | None, method: str | None) -> None:
    user = event_from_avro(value)
    if student and user.payload is not None:
        user = enriched(user, {**user.payload, "student_id": student, "link_method": method}, student)
    await emit(user)


async def _release(key: str, student: str, partition: int, pos: str) -> None:
    """Forward the user's waiting grades; send again what input `pos` released before a crash."""
    tenant = tenant_of(key)
    items = moodle_pending.get(key) or []
    now = int(time.time() * 1000)
    keep = []
    for item in items:
        if waiting.is_released(item) and item["rb"] != pos:
            keep.append(item)
            continue
        await publish(person_topic, EntityKey(tenant, student).encode(), value=waiting.value_of(item),
                      headers={KIND: item["k"].encode()})
        keep.append(item if waiting.is_released(item) else waiting.released(item, pos, now))
    if items:
        moodle_pending[key] = keep
        count_key = waiting.count_key("moodle", tenant, partition)
        released_now = len(waiting.live(items)) - len(waiting.live(keep))
        waiting_counts[count_key] = max(0, (waiting_counts.get(count_key) or 0) - released_now)


def _unlinked(missing: list[str]) -> str:
    return "no Zoho student is linked to this Moodle user"


@app.agent(moodle_topic, concurrency=1)
async def moodle_side(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        kind = header(event.headers, KIND)
        if kind == "tick":
            await expire("moodle", moodle_pending, event.message.partition, _unlinked)
            continue
        key = event.key.decode() if isinstance(event.key, bytes) else str(event.key)
        pos = waiting.position(event.message.topic, event.message.partition, event.message.offset)
        value = event.value
        if kind == "link":
            student = header(event.headers, STUDENT)
            method = "email" if header(event.headers, EMAIL) else "student_moodle_id"
            if not student:
                continue
            current = links.get(key)
            if current is None or current["student"] != student:
                links[key] = {"student": student, "method": method}
                user = moodle_users.get(key)
                if user:
                    await _emit_user(key, base64.b64decode(user), student, method)
            await _release(key, student, event.message.partition, pos)
        elif kind == "user":
            moodle_users[key] = base64.b64encode(value).decode()
            student = header(event.headers, STUDENT)
            link = links.get(key)
            if student and (link is None or link["student"] != student):
                link = {"student": student, "method": "email"}
                links[key] = link
            await _emit_user(key, value, link["student"] if link else None, link["method"] if link else None)
            if link:
                await _release(key, link["student"], event.message.partition, pos)
        elif kind in ("enrollment", "grade"):
            ev = event_from_avro(value)
            link = links.get(key)
            # Linked records go on to the student side, which joins them with their class.
            forward = b"grade" if kind == "grade" else b"moodle_enrollment"
            if link:
                await publish(person_topic, EntityKey(ev.tenant, link["student"]).encode(), value=value,
                              headers={KIND: forward})
                continue
            if kind == "enrollment":
                # Known in the projections at once; it reaches Zoho (with its student and class) once linked.
                # An unenrolment waits too: it replaces the enrolment waiting for the same link.
                await emit(ev)
            await _hold(key, ev, value, forward.decode(), event.message.partition)


async def _hold(key: str, ev: CanonicalEvent, value: bytes, kind: str, partition: int) -> None:
    """Keep a record until its Moodle user is linked to a student (bounded per user and tenant)."""
    items = moodle_pending.get(key) or []
    count_key = waiting.count_key("moodle", ev.tenant, partition)
    tenant_waiting = waiting_counts.get(count_key) or 0
    if len(waiting.live(items)) >= MAX_WAITING_PER_USER or tenant_waiting >= config.pending_cap:
        await dead(waiting.letter(ev, WAITING_CAPACITY_EXCEEDED, ["student"], "too many records waiting"))
        return
    updated = waiting.add(items, waiting.entry(kind, value, ["student"], int(time.time() * 1000)), ev)
    moodle_pending[key] = updated
    waiting_counts[count_key] = tenant_waiting + len(waiting.live(updated)) - len(waiting.live(items))
