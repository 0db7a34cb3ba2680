"""Stage 4, keyed by tenant/student id: the joins. Reference data arrives on every partition.

Linked Moodle enrolments come here from the Moodle side to find the class of their course.

A grade leaves as `GradeRecorded` only when its student, class → unit → program and
registration (student × program) exist; until then it waits here, and is re-checked the
moment any of those arrives (the in-memory index says which students wait on which record).
"""

from __future__ import annotations

import time
from typing import Any

import faust
from faust.types import EventT

from schemas.deadletter import WAITING_CAPACITY_EXCEEDED
from schemas.keys import SEP, EntityKey, StateKey, tenant_of
from streams import batches, waiting
from streams.app import app, config, emitted, person_pending, person_topic, refs, registrations, students
from streams.emit import dead, emit
from streams.events import CanonicalEvent, enriched
from streams.expiry import expire
from streams.joins import resolve
from streams.messages import KIND, TICK, Item, decode_batch, header, is_deletion, unpack
from streams.outbox import Outbox

MAX_WAITING_PER_STUDENT = 1000
# Only the fields the joins read are kept per reference record.
REF_FIELDS = {
    "class": ("name", "unit_id", "program_id", "moodle_course_id"),
    "unit": ("name", "program_id"),
    "program": ("name",),
    "teacher": ("name",),
}
pending = waiting.Waiting(person_pending, config.pending_expiry_s * 1000)
_STUDENT = frozenset(("student",))
# The kinds this stage keeps (reference records, students, registrations) or sends out at once (a linked Moodle
# enrolment, with its class later); every other kind waits here until what it names exists.
_KEPT = frozenset(("ref", "student", "registration", "moodle_enrollment"))


def _lookup(tenant: str, partition: int) -> Any:
    def lookup(kind: str, ident: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = refs.get(StateKey(tenant, kind, ident).text(), partition)
        return found

    return lookup


def _store_ref(ev: CanonicalEvent, partition: int) -> None:
    key = StateKey(ev.tenant, ev.entity, ev.entity_id).text()
    previous = refs.get(key, partition)
    if ev.deleted:
        if previous is not None:
            refs.set(key, None, partition)
        return
    if previous is not None and previous.get("_v", 0) > ev.source_version:
        return
    payload = ev.payload or {}
    stored = {f: payload.get(f) for f in REF_FIELDS[ev.entity]}
    stored["_v"] = ev.source_version
    if stored != previous:
        refs.set(key, stored, partition)
    if ev.entity == "class" and payload.get("moodle_course_id"):
        course_key = StateKey(ev.tenant, "course", str(payload["moodle_course_id"])).text()
        course = {"class_id": ev.entity_id}
        if refs.get(course_key, partition) != course:
            refs.set(course_key, course, partition)


def _resolve(student_key: str, packed: list[Any], partition: int) -> tuple[dict[str, Any] | None, list[str]]:
    entity, payload = packed[0], packed[10] or {}
    programs: dict[str, str] = registrations.get(student_key, partition) or {}
    # A Moodle enrolment comes here linked: its student id is the link's, whether or not the student is here yet.
    known = entity == "moodle_enrollment" or students.get(student_key, partition) is not None
    return resolve(entity, payload, known, programs, _lookup(tenant_of(student_key), partition))


def _lacking(student_key: str, item: waiting.Item, partition: int) -> list[str]:
    return _resolve(student_key, item["v"], partition)[1]


async def _try(student_key: str, packed: list[Any], partition: int) -> list[str]:
    """Emit the packed event if its dependencies exist; return what is still missing."""
    entity = packed[0]
    filled, missing = _resolve(student_key, packed, partition)
    if filled is None:
        return missing
    student = EntityKey.parse(student_key).entity_id
    filled["student_id"] = student
    if entity == "moodle_enrollment":
        await emit(enriched(unpack(packed), filled, student, filled["class_id"]), partition)
        return []
    await emit(unpack(packed, payload=filled, event_type="GradeRecorded" if entity == "grade" else None), partition)
    return []


async def _wait(student_key: str, packed: list[Any], kind: str, missing: list[str], partition: int) -> None:
    tenant = tenant_of(student_key)
    full = (pending.live(student_key) >= MAX_WAITING_PER_STUDENT
            or pending.waiting(tenant, partition) >= config.pending_cap)
    if full and not pending.holds(student_key, partition, packed):
        await dead(waiting.letter(unpack(packed), WAITING_CAPACITY_EXCEEDED, missing, "too many records waiting"))
        return
    pending.add(student_key, partition, kind, packed, missing, int(time.time() * 1000))


def _ready(student_key: str, partition: int) -> waiting.Ready:
    """Whether a retry could release a record of this student lacking (refs, local): everything it lacks exists
    now, except that a Moodle course and the class its idnumber names stand for each other (joins: either will
    do). What a join cannot name yet ("unit:?") does not hold a retry back. A record passed over is asked
    again when what it still lacks arrives: a retry of it now would only read it back and fail."""

    def ready(refs: frozenset[str], local: frozenset[str]) -> bool:
        for what in local:
            if not what.endswith(":?") and not _satisfied(what, student_key, partition):
                return False
        if not refs:
            return True
        found = [_satisfied(ref, student_key, partition) for ref in refs]
        if any(ref.split(SEP, 2)[1] == "course" for ref in refs):
            return any(found)
        return all(found)

    return ready


async def _recheck(student_key: str, partition: int, woken_by: frozenset[str] | None = None) -> None:
    """Release what can go now. `woken_by`: what just arrived (reference records by state key, or what the
    joins name: "student", "registration:<program>"); only records that lack one of these, and nothing else
    that is still missing, are retried."""
    for key, item in pending.items(student_key, partition, woken_by, _ready(student_key, partition)):
        missing = await _try(student_key, item["v"], partition)
        if missing:
            pending.lacks(student_key, partition, key, missing)
        else:
            pending.drop(student_key, partition, key)


async def _moodle_enrollment(student_key: str, ev: CanonicalEvent, packed: list[Any], partition: int) -> None:
    """A linked Moodle enrolment goes out with its student at once, and again with its class once the course
    names one (a Moodle course that is no Zoho class waits until expiry and then shows as a dead letter)."""
    missing = await _try(student_key, packed, partition)
    if not missing:
        return
    student = EntityKey.parse(student_key).entity_id
    await emit(enriched(ev, {**(ev.payload or {}), "student_id": student, "class_id": None, "class_name": None},
                        student), partition)
    if not ev.deleted:
        await _wait(student_key, packed, "moodle_enrollment", missing, partition)


def _never_arrived(missing: list[str]) -> str:
    return f"dependencies never arrived: {', '.join(missing)}"


async def _item(item: Item, partition: int) -> None:
    key, kind, packed = item.key, item.kind, item.event
    if kind not in _KEPT:
        # Grades, enrolments, payments: unpacked only to go out (joined) or into a dead letter.
        if is_deletion(packed):
            await emit(unpack(packed), partition)
            return
        missing = await _try(key, packed, partition)
        if missing:
            await _wait(key, packed, kind, missing, partition)
        return
    ev = unpack(packed)
    if kind == "ref":
        _store_ref(ev, partition)
        if partition == 0:
            # Every partition holds the record; one of them publishes it.
            await emit(ev, partition)
        wake: set[str] = set()
        course = str((ev.payload or {}).get("moodle_course_id"))
        arrived = frozenset((StateKey(ev.tenant, ev.entity, ev.entity_id).text(),
                             StateKey(ev.tenant, "course", course).text()))
        for ref_key in arrived:
            wake.update(pending.waiters(partition, ref_key))
        for student_key in sorted(wake):
            await _recheck(student_key, partition, arrived)
        return
    if kind == "student":
        if ev.deleted:
            if students.get(key, partition) is not None:
                students.set(key, None, partition)
        elif students.get(key, partition) != {"v": ev.source_version}:
            students.set(key, {"v": ev.source_version}, partition)
        await emit(ev, partition)
        if not ev.deleted:
            await _recheck(key, partition, _STUDENT)
        return
    if kind == "registration":
        payload = ev.payload or {}
        before = registrations.get(key, partition) or {}
        programs = dict(before)
        if ev.deleted:
            programs = {p: r for p, r in programs.items() if r != ev.entity_id}
        elif payload.get("program_id"):
            programs[payload["program_id"]] = ev.entity_id
        if programs != before:
            registrations.set(key, programs or None, partition)
        await emit(ev, partition)
        if not ev.deleted:
            await _recheck(key, partition, frozenset((f"registration:{payload.get('program_id')}",
                                                      f"registration_id:{ev.entity_id}")))
        return
    await _moodle_enrollment(key, ev, packed, partition)


async def _person(event: EventT, outbox: Outbox) -> None:
    partition = event.message.partition
    for student_key in sorted(pending.stale(partition)):
        await _recheck(student_key, partition)
    if header(event.headers, KIND) == TICK:
        await expire("person", pending, partition, _never_arrived, int(event.message.timestamp * 1000), _lacking)
        return
    for item in decode_batch(event.value):
        await _item(item, partition)


def _satisfied(what: str, student_key: str, partition: int) -> bool:
    """Whether something a waiting record lacked when it was stored exists now."""
    if what == "student":
        return students.get(student_key, partition) is not None
    kind, _, ident = what.partition(":")
    if kind in ("registration", "registration_id"):
        programs: dict[str, str] = registrations.get(student_key, partition) or {}
        return ident in (programs if kind == "registration" else programs.values())
    return refs.get(what, partition) is not None


def _rebuild() -> None:
    """Partitions moved, or a batch failed: the cache may be stale and the index must cover exactly what is
    stored for the partitions owned now."""
    batches.rebuild(pending, (students, registrations, refs, emitted), _satisfied)


@person_pending.table.on_recover
async def _recovered() -> None:
    _rebuild()


@app.agent(person_topic, concurrency=1)
async def person(stream: faust.StreamT[bytes]) -> None:
    await batches.run(stream, _person, (students, registrations, person_pending, refs, emitted), reset=_rebuild)
