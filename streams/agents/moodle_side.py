"""Stage 3, keyed by tenant/Moodle user id: links to students, Moodle users, Moodle grades waiting for a link."""

from __future__ import annotations

import time
from typing import Any

import faust
from faust.types import EventT

from schemas.deadletter import WAITING_CAPACITY_EXCEEDED
from schemas.keys import EntityKey, tenant_of
from streams import batches, waiting
from streams.app import app, config, emitted, links, moodle_pending, moodle_topic, moodle_users, person_topic
from streams.emit import dead, emit
from streams.events import enriched
from streams.expiry import expire
from streams.messages import KIND, TICK, Item, decode_batch, header, unpack
from streams.outbox import Outbox

MAX_WAITING_PER_USER = 1000
pending = waiting.Waiting(moodle_pending, config.pending_expiry_s * 1000)


async def _emit_user(user_event: list[Any], student: str | None, method: str | None, partition: int) -> None:
    user = unpack(user_event)
    if student and user.payload is not None:
        user = enriched(user, {**user.payload, "student_id": student, "link_method": method}, student)
    await emit(user, partition)


def _release(key: str, student: str, partition: int, outbox: Outbox) -> None:
    """Forward the user's waiting grades and enrolments to the student side."""
    tenant = tenant_of(key)
    for item_key, item in pending.items(key, partition):
        outbox.add(person_topic.get_topic_name(), Item(EntityKey(tenant, student).text(), item["k"], None, None,
                                                       item["v"]))
        pending.drop(key, partition, item_key)


def _unlinked(missing: list[str]) -> str:
    return "no Zoho student is linked to this Moodle user"


async def _item(item: Item, partition: int, outbox: Outbox) -> None:
    key = item.key
    if item.kind == "link":
        student = item.student
        method = "email" if item.email else "student_moodle_id"
        if not student:
            return
        current = links.get(key, partition)
        if current is None or current["student"] != student:
            links.set(key, {"student": student, "method": method}, partition)
            user = moodle_users.get(key, partition)
            if user:
                await _emit_user(user, student, method, partition)
        _release(key, student, partition, outbox)
    elif item.kind == "user":
        if moodle_users.get(key, partition) != item.event:
            moodle_users.set(key, item.event, partition)
        link = links.get(key, partition)
        if item.student and (link is None or link["student"] != item.student):
            link = {"student": item.student, "method": "email"}
            links.set(key, link, partition)
        await _emit_user(item.event, link["student"] if link else None, link["method"] if link else None, partition)
        if link:
            _release(key, link["student"], partition, outbox)
    elif item.kind in ("enrollment", "grade"):
        link = links.get(key, partition)
        # Linked records go on to the student side, which joins them with their class.
        forward = "grade" if item.kind == "grade" else "moodle_enrollment"
        tenant = tenant_of(key)
        if link:
            outbox.add(person_topic.get_topic_name(),
                       Item(EntityKey(tenant, link["student"]).text(), forward, None, None, item.event))
            return
        ev = unpack(item.event)
        if item.kind == "enrollment":
            # Known in the projections at once; it reaches Zoho (with its student and class) once linked.
            # An unenrolment waits too: it replaces the enrolment waiting for the same link.
            await emit(ev, partition)
        await _hold(key, item.event, forward, partition)


async def _hold(key: str, event: list[Any], kind: str, partition: int) -> None:
    """Keep a record until its Moodle user is linked to a student (bounded per user and tenant)."""
    tenant = tenant_of(key)
    full = pending.live(key) >= MAX_WAITING_PER_USER or pending.waiting(tenant, partition) >= config.pending_cap
    if full and not pending.holds(key, partition, event):
        await dead(waiting.letter(unpack(event), WAITING_CAPACITY_EXCEEDED, ["student"], "too many records waiting"))
        return
    pending.add(key, partition, kind, event, ["student"], int(time.time() * 1000))


async def _moodle_side(event: EventT, outbox: Outbox) -> None:
    msg = event.message
    if header(event.headers, KIND) == TICK:
        await expire("moodle", pending, msg.partition, _unlinked, int(msg.timestamp * 1000))
        return
    for item in decode_batch(event.value):
        await _item(item, msg.partition, outbox)


def _rebuild() -> None:
    """Partitions moved, or a batch failed: the cache may be stale and the index must cover exactly what is
    stored for the partitions owned now."""
    batches.rebuild(pending, (links, moodle_users, emitted))


@moodle_pending.table.on_recover
async def _recovered() -> None:
    _rebuild()


@app.agent(moodle_topic, concurrency=1)
async def moodle_side(stream: faust.StreamT[bytes]) -> None:
    await batches.run(stream, _moodle_side, (links, moodle_users, moodle_pending, emitted), reset=_rebuild)
