"""Stage 4, keyed by tenant/student id: the joins. Reference data arrives on every partition.

Linked Moodle enrolments come here from the Moodle side to find the class of their course.

A grade leaves as `GradeRecorded` only when its student, class → unit → program and
registration (student × program) exist; until then it waits here, and is re-checked the
moment any of those arrives.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import faust

from schemas.deadletter import WAITING_CAPACITY_EXCEEDED
from schemas.keys import EntityKey, StateKey, tenant_of
from streams import waiting
from streams.app import (
    app,
    config,
    person_pending,
    person_topic,
    refs,
    registrations,
    students,
    waiting_counts,
    waiting_on,
)
from streams.emit import dead, emit
from streams.events import CanonicalEvent, enriched
from streams.expiry import expire
from streams.joins import ref_waits, resolve
from streams.messages import KIND, event_from_avro, header

MAX_WAITING_PER_STUDENT = 1000
# Students remembered as waiting on one class, unit or program (kept after a wake, for a replayed wake).
MAX_WAITERS_PER_REF = 5000
# Only the fields the joins read are kept per reference record.
REF_FIELDS = {
    "class": ("name", "unit_id", "program_id", "moodle_course_id"),
    "unit": ("name", "program_id"),
    "program": ("name",),
    "teacher": ("name",),
}


def _lookup(tenant: str) -> Any:
    def lookup(kind: str, ident: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = refs.get(StateKey(tenant, kind, ident).text())
        return found

    return lookup


def _store_ref(ev: CanonicalEvent) -> None:
    key = StateKey(ev.tenant, ev.entity, ev.entity_id).text()
    previous = refs.get(key)
    if ev.deleted:
        if previous is not None:
            del refs[key]
        return
    if previous is not None and previous.get("_v", 0) > ev.source_version:
        return
    payload = ev.payload or {}
    stored = {f: payload.get(f) for f in REF_FIELDS[ev.entity]}
    stored["_v"] = ev.source_version
    refs[key] = stored
    if ev.entity == "class" and payload.get("moodle_course_id"):
        refs[StateKey(ev.tenant, "course", str(payload["moodle_course_id"])).text()] = {"class_id": ev.entity_id}


async def _try(student_key: str, ev: CanonicalEvent, value: bytes, kind: str) -> list[str]:
    """Emit `ev` if its dependencies exist; return what is still missing."""
    payload = ev.payload or {}
    tenant, student = EntityKey.parse(student_key)
    programs: dict[str, str] = registrations.get(student_key) or {}
    # A Moodle enrolment comes here linked: its student id is the link's, whether or not the student is here yet.
    known = ev.entity == "moodle_enrollment" or students.get(student_key) is not None
    filled, missing = resolve(ev.entity, payload, known, programs, _lookup(tenant))
    if filled is None:
        return missing
    filled["student_id"] = student
    if ev.entity == "moodle_enrollment":
        await emit(enriched(ev, filled, student, filled["class_id"]))
        return []
    event_type = "GradeRecorded" if ev.entity == "grade" else ev.event_type
    await emit(dataclasses.replace(ev, payload=filled, event_type=event_type))
    return []


def _count(tenant: str, partition: int, delta: int) -> None:
    if delta:
        key = waiting.count_key("person", tenant, partition)
        waiting_counts[key] = max(0, (waiting_counts.get(key) or 0) + delta)


async def _wait(student_key: str, ev: CanonicalEvent, value: bytes, kind: str, missing: list[str],
                partition: int) -> None:
    tenant = tenant_of(student_key)
    items = person_pending.get(student_key) or []
    tenant_waiting = waiting_counts.get(waiting.count_key("person", tenant, partition)) or 0
    if len(waiting.live(items)) >= MAX_WAITING_PER_STUDENT or tenant_waiting >= config.pending_cap:
        await dead(waiting.letter(ev, WAITING_CAPACITY_EXCEEDED, missing, "too many records waiting"))
        return
    updated = waiting.add(items, waiting.entry(kind, value, missing, int(time.time() * 1000)), ev)
    person_pending[student_key] = updated
    _count(tenant, partition, len(waiting.live(updated)) - len(waiting.live(items)))
    for ref in ref_waits(missing):
        wkey = StateKey(tenant, *ref).text()
        sids = waiting_on.get(wkey) or []
        if student_key not in sids:
            waiting_on[wkey] = [*sids, student_key][-MAX_WAITERS_PER_REF:]


async def _recheck(student_key: str, partition: int, pos: str) -> None:
    """Release what can go now; send again what input `pos` released before a crash."""
    items = person_pending.get(student_key)
    if not items:
        return
    now = int(time.time() * 1000)
    tenant = tenant_of(student_key)
    keep = []
    for item in items:
        if waiting.is_released(item):
            if item["rb"] == pos:
                value = waiting.value_of(item)
                await _try(student_key, event_from_avro(value), value, item["k"])
            keep.append(item)
            continue
        value = waiting.value_of(item)
        missing = await _try(student_key, event_from_avro(value), value, item["k"])
        if not missing:
            keep.append(waiting.released(item, pos, now))
            continue
        keep.append({**item, "m": missing})
        for ref in ref_waits(missing):
            wkey = StateKey(tenant, *ref).text()
            sids = waiting_on.get(wkey) or []
            if student_key not in sids:
                waiting_on[wkey] = [*sids, student_key][-MAX_WAITERS_PER_REF:]
    person_pending[student_key] = keep
    _count(tenant, partition, len(waiting.live(keep)) - len(waiting.live(items)))


async def _moodle_enrollment(student_key: str, ev: CanonicalEvent, value: bytes, partition: int) -> None:
    """A linked Moodle enrolment goes out with its student at once, and again with its class once the course
    names one (a Moodle course that is no Zoho class waits until expiry and then shows as a dead letter)."""
    missing = await _try(student_key, ev, value, "moodle_enrollment")
    if not missing:
        return
    student = EntityKey.parse(student_key).entity_id
    await emit(enriched(ev, {**(ev.payload or {}), "student_id": student, "class_id": None, "class_name": None},
                        student))
    if not ev.deleted:
        await _wait(student_key, ev, value, "moodle_enrollment", missing, partition)


def _never_arrived(missing: list[str]) -> str:
    return f"dependencies never arrived: {', '.join(missing)}"


@app.agent(person_topic, concurrency=1)
async def person(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        kind = header(event.headers, KIND) or ""
        if kind == "tick":
            await expire("person", person_pending, event.message.partition, _never_arrived)
            continue
        key = event.key.decode() if isinstance(event.key, bytes) else str(event.key)
        pos = waiting.position(event.message.topic, event.message.partition, event.message.offset)
        value = event.value
        ev = event_from_avro(value)
        if kind == "ref":
            _store_ref(ev)
            if event.message.partition == 0:
                # Every partition holds the record; one of them publishes it.
                await emit(ev)
            wake: set[str] = set()
            for wkey in (StateKey(ev.tenant, ev.entity, ev.entity_id).text(),
                         StateKey(ev.tenant, "course", str((ev.payload or {}).get("moodle_course_id"))).text()):
                # Kept, not deleted: a wake replayed after a crash must find the same students.
                wake.update(waiting_on.get(wkey) or [])
            for student_key in sorted(wake):
                await _recheck(student_key, event.message.partition, pos)
            continue
        if kind == "student":
            if ev.deleted:
                if students.get(key) is not None:
                    del students[key]
            else:
                students[key] = {"v": ev.source_version}
            await emit(ev)
            await _recheck(key, event.message.partition, pos)
            continue
        if kind == "registration":
            payload = ev.payload or {}
            programs = dict(registrations.get(key) or {})
            if ev.deleted:
                programs = {p: r for p, r in programs.items() if r != ev.entity_id}
            elif payload.get("program_id"):
                programs[payload["program_id"]] = ev.entity_id
            registrations[key] = programs
            await emit(ev)
            await _recheck(key, event.message.partition, pos)
            continue
        if kind == "moodle_enrollment":
            await _moodle_enrollment(key, ev, value, event.message.partition)
            continue
        if ev.deleted:
            await emit(ev)
            continue
        missing = await _try(key, ev, value, kind)
        if missing:
            await _wait(key, ev, value, kind, missing, event.message.partition)
