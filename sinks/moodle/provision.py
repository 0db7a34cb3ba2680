"""One tenant's writes -> Moodle: categories, then users, then courses, then enrolments, each with as few calls
as Moodle allows (lookups for what the state does not know, one create or update call per 50 records).

Moodle's create and enrol functions are all-or-nothing per call and, on a production site, do not say which
record was wrong: a failed batch is split in halves until the culprit is alone, and a lone record that still
fails is looked up once more (a create that landed although its answer was lost is linked, not failed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sinks.moodle.client import MoodleClient, MoodleException, MoodleRefused
from sinks.moodle.mapping import MoodleWrite, fingerprint
from sinks.moodle.settings import SiteOptions
from sinks.moodle.state import StateStore, Written

log = logging.getLogger("moodle_sink.provision")

BATCH = 50
# Fields of a user the sink keeps up to date. Username, auth and password stay as the account has them once it
# exists: they are how the person logs in, and an account linked by idnumber or e-mail keeps the one it had.
USER_FIELDS = ("firstname", "lastname", "email", "idnumber", "city", "suspended")
COURSE_FIELDS = ("fullname", "shortname", "idnumber", "categoryid", "startdate", "enddate")
NOT_ENROLLED = "the enrolment ended before the sink enrolled anyone"
NO_ACCOUNT = "no Moodle account: the student's status does not create one"


@dataclass
class Outcome:
    write: MoodleWrite
    action: str
    moodle_id: str | None = None
    attempt: int = 1
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    # Enrolments whose user or course does not exist yet.
    waiting: list[MoodleWrite] = field(default_factory=list)


def _sent(fields: dict[str, Any]) -> dict[str, Any]:
    """What Moodle is given: the sink's own bookkeeping keys (`_…`) stay in the state."""
    return {k: v for k, v in fields.items() if not k.startswith("_")}


def _text(value: Any) -> str:
    # Moodle answers flags as JSON booleans and takes them as 0/1.
    return str(int(value)) if isinstance(value, bool) else str(value)


def _diff(wanted: dict[str, Any], have: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {k: wanted[k] for k in names if k in wanted and _text(have.get(k, "")) != _text(wanted[k])}


class Provisioner:
    def __init__(self, client: MoodleClient, options: SiteOptions, state: StateStore) -> None:
        self.client = client
        self.options = options
        self.state = state

    async def run(self, tenant: str, writes: Sequence[MoodleWrite]) -> Result:
        keys = {(w.kind, w.record_key) for w in writes}
        for w in writes:
            for name, dep in w.deps.items():
                keys.add(({"userid": "user", "courseid": "course", "categoryid": "category"}[name], dep))
        held = await self.state.load(tenant, sorted(keys))
        ids = {key: h.moodle_id for key, h in held.items()}
        result = Result()
        writes = list(writes)
        for kind, step in (("category", self._categories), ("user", self._users), ("course", self._courses),
                           ("enrolment", self._enrolments)):
            todo = [w for w in writes if w.kind == kind]
            if not todo:
                continue
            outcomes = await step(todo, held, ids, result)
            saves: list[Written] = []
            for o in outcomes:
                if o.action != "failed" and o.moodle_id is not None:
                    w = o.write
                    ids[(w.kind, w.record_key)] = o.moodle_id
                    fields = self._resolved(w, ids)
                    saves.append(Written(w.kind, w.record_key, fingerprint(_sent(fields)), o.moodle_id, fields,
                                         w.source_version, w.event_id))
            await self.state.save(tenant, saves)
            result.outcomes += outcomes
            if kind == "category":
                writes += await self._moved_courses(tenant, outcomes, writes, held)
        return result

    async def _moved_courses(self, tenant: str, categories: list[Outcome], writes: list[MoodleWrite],
                             held: dict[tuple[str, str], Written]) -> list[MoodleWrite]:
        """Courses made before their program had a category (in `default_category`) follow it once it exists."""
        made = {o.write.record_key: o for o in categories if o.action in ("created", "linked") and o.moodle_id}
        in_run = {w.record_key for w in writes if w.kind == "course"}
        moved: list[MoodleWrite] = []
        for last in await self.state.courses_in(tenant, sorted(made)):
            program = str(last.fields["_program"])
            cause = made[program]
            if last.record_key in in_run or str(last.fields.get("categoryid")) == cause.moodle_id:
                continue
            held[("course", last.record_key)] = last
            fields = {k: v for k, v in last.fields.items() if not k.startswith("_")}
            moved.append(MoodleWrite(
                tenant=tenant, kind="course", entity="class", record_key=last.record_key, zoho_id=last.record_key,
                fields=fields, intent="ensure", source_version=last.source_version, event_id=last.event_id,
                raw=cause.write.raw, received_at_ms=cause.write.received_at_ms, deps={"categoryid": program}))
        return moved

    def _resolved(self, w: MoodleWrite, ids: dict[tuple[str, str], str]) -> dict[str, Any]:
        fields = dict(w.fields)
        if w.kind == "course" and "categoryid" in w.deps:
            program = w.deps["categoryid"]
            fields["_program"] = program
            if (found := ids.get(("category", program))) is not None:
                fields["categoryid"] = int(found)
        if w.kind == "enrolment":
            fields["userid"] = int(ids[("user", w.deps["userid"])])
            fields["courseid"] = int(ids[("course", w.deps["courseid"])])
        return fields

    # -- batches ------------------------------------------------------------------------------------------

    async def _batched(self, items: list[tuple[MoodleWrite, dict[str, Any]]],
                       send: Callable[[list[dict[str, Any]]], Awaitable[Any]],
                       done: Callable[[MoodleWrite, dict[str, Any], Any, int], Outcome],
                       alone: Callable[[MoodleWrite, MoodleException], Awaitable[Outcome]]) -> list[Outcome]:
        """Send in calls of BATCH; a call Moodle refuses is split until the record it refuses is alone."""
        outcomes: list[Outcome] = []
        for start in range(0, len(items), BATCH):
            outcomes += await self._split(items[start:start + BATCH], send, done, alone, 1)
        return outcomes

    async def _split(self, items: list[tuple[MoodleWrite, dict[str, Any]]],
                     send: Callable[[list[dict[str, Any]]], Awaitable[Any]],
                     done: Callable[[MoodleWrite, dict[str, Any], Any, int], Outcome],
                     alone: Callable[[MoodleWrite, MoodleException], Awaitable[Outcome]],
                     attempt: int) -> list[Outcome]:
        try:
            answer = await send([record for _, record in items])
        except MoodleRefused:
            raise
        except MoodleException as exc:
            if len(items) == 1:
                outcome = await alone(items[0][0], exc)
                outcome.attempt = attempt
                return [outcome]
            half = len(items) // 2
            return (await self._split(items[:half], send, done, alone, attempt + 1)
                    + await self._split(items[half:], send, done, alone, attempt + 1))
        return [done(w, record, answer[i] if isinstance(answer, list) else None, attempt)
                for i, (w, record) in enumerate(items)]

    @staticmethod
    def _failed(w: MoodleWrite, exc: MoodleException) -> Outcome:
        return Outcome(w, "failed", None, 1, exc.errorcode, f"{exc.wsfunction}: {exc.exception}: {exc.message}")

    def _warnings(self, answer: Any, item: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        if isinstance(answer, dict):
            for warning in answer.get("warnings") or []:
                if warning.get("item") == item:
                    found[str(warning.get("itemid"))] = warning
        return found

    async def _updates(self, function: str, param: str, item: str,
                       items: list[tuple[MoodleWrite, dict[str, Any], str]]) -> list[Outcome]:
        """Update functions apply each record on its own and report failures as warnings."""
        outcomes: list[Outcome] = []
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            answer = await self.client.call(function, {param: [record for _, record, _ in chunk]})
            warnings = self._warnings(answer, item)
            for w, record, action in chunk:
                warning = warnings.get(str(record["id"]))
                if warning is None:
                    outcomes.append(Outcome(w, action, str(record["id"])))
                else:
                    code = str(warning.get("warningcode"))
                    outcomes.append(Outcome(w, "failed", str(record["id"]), 1, code,
                                            f"{function}: {warning.get('message')}"))
                    if code in ("invaliduserid", "invalidrecord"):
                        # Gone from Moodle: forgotten, so the next change creates or links it again.
                        await self.state.forget(w.tenant, [(w.kind, w.record_key)])
        return outcomes

    # -- categories ---------------------------------------------------------------------------------------

    async def _categories(self, writes: list[MoodleWrite], held: dict[tuple[str, str], Written],
                          ids: dict[tuple[str, str], str], result: Result) -> list[Outcome]:
        outcomes: list[Outcome] = []
        unknown: list[MoodleWrite] = []
        for w in writes:
            last = held.get((w.kind, w.record_key))
            if last is not None:
                # Moodle's web services have no category update the least-privilege service holds: a renamed
                # program keeps its category's name (docs/moodle-sink.md).
                outcomes.append(Outcome(w, "unchanged", last.moodle_id))
            elif w.link_id:
                outcomes.append(Outcome(w, "linked", w.link_id))
            else:
                unknown.append(w)
        if not unknown:
            return outcomes
        existing = {str(c.get("idnumber")): str(c["id"]) for c in await self.client.call("core_course_get_categories")
                    if c.get("idnumber")}
        create: list[tuple[MoodleWrite, dict[str, Any]]] = []
        for w in unknown:
            if w.record_key in existing:
                outcomes.append(Outcome(w, "linked", existing[w.record_key]))
            else:
                create.append((w, _sent(w.fields)))

        async def send(records: list[dict[str, Any]]) -> Any:
            return await self.client.call("core_course_create_categories", {"categories": records})

        def done(w: MoodleWrite, _: dict[str, Any], answer: Any, attempt: int) -> Outcome:
            return Outcome(w, "created", str(answer["id"]), attempt)

        async def alone(w: MoodleWrite, exc: MoodleException) -> Outcome:
            return self._failed(w, exc)

        return outcomes + await self._batched(create, send, done, alone)

    # -- users --------------------------------------------------------------------------------------------

    async def _lookup_users(self, writes: list[MoodleWrite]) -> dict[str, dict[str, Any]]:
        """record key -> the Moodle account it matches: by the id Zoho holds, then idnumber, email, username."""
        found: dict[str, dict[str, Any]] = {}
        for field_name, value_of in (("id", lambda w: w.link_id), ("idnumber", lambda w: w.fields["idnumber"]),
                                     ("email", lambda w: w.fields["email"]),
                                     ("username", lambda w: w.fields["username"])):
            left = [w for w in writes if w.record_key not in found and value_of(w)]
            if not left:
                continue
            values = sorted({str(value_of(w)) for w in left})
            users = await self.client.call("core_user_get_users_by_field", {"field": field_name, "values": values})
            by_value: dict[str, dict[str, Any]] = {}
            for user in users or []:
                # idnumber is not unique in Moodle: the oldest account wins, as an administrator would pick it.
                key = str(user.get(field_name, "")).lower() if field_name == "email" else str(user.get(field_name))
                by_value.setdefault(key, user)
            for w in left:
                value = str(value_of(w))
                user = by_value.get(value.lower() if field_name == "email" else value)
                if user is not None:
                    found[w.record_key] = user
        return found

    async def _users(self, writes: list[MoodleWrite], held: dict[tuple[str, str], Written],
                     ids: dict[tuple[str, str], str], result: Result) -> list[Outcome]:
        outcomes: list[Outcome] = []
        updates: list[tuple[MoodleWrite, dict[str, Any], str]] = []
        unknown: list[MoodleWrite] = []
        for w in writes:
            last = held.get((w.kind, w.record_key))
            if last is None:
                unknown.append(w)
            elif last.fingerprint == fingerprint(_sent(w.fields)):
                outcomes.append(Outcome(w, "unchanged", last.moodle_id))
            elif changed := _diff(w.fields, last.fields, USER_FIELDS):
                updates.append((w, {"id": int(last.moodle_id), **changed}, "updated"))
            else:
                outcomes.append(Outcome(w, "unchanged", last.moodle_id))
        create: list[tuple[MoodleWrite, dict[str, Any]]] = []
        if unknown:
            matches = await self._lookup_users(unknown)
            for w in unknown:
                user = matches.get(w.record_key)
                if user is not None:
                    changed = _diff(w.fields, user, USER_FIELDS)
                    if changed:
                        updates.append((w, {"id": int(user["id"]), **changed}, "linked"))
                    else:
                        outcomes.append(Outcome(w, "linked", str(user["id"])))
                elif w.intent == "ensure":
                    create.append((w, {k: v for k, v in _sent(w.fields).items() if k != "suspended"}))
                else:
                    outcomes.append(Outcome(w, "unchanged", None, 1, None, NO_ACCOUNT))

        async def send(records: list[dict[str, Any]]) -> Any:
            return await self.client.call("core_user_create_users", {"users": records})

        def done(w: MoodleWrite, _: dict[str, Any], answer: Any, attempt: int) -> Outcome:
            return Outcome(w, "created", str(answer["id"]), attempt)

        async def alone(w: MoodleWrite, exc: MoodleException) -> Outcome:
            # A create whose first answer was lost may have landed: then the account is there to link.
            again = await self._lookup_users([w])
            if w.record_key in again:
                return Outcome(w, "linked", str(again[w.record_key]["id"]))
            return self._failed(w, exc)

        outcomes += await self._batched(create, send, done, alone)
        return outcomes + await self._updates("core_user_update_users", "users", "user", updates)

    # -- courses ------------------------------------------------------------------------------------------

    async def _courses(self, writes: list[MoodleWrite], held: dict[tuple[str, str], Written],
                       ids: dict[tuple[str, str], str], result: Result) -> list[Outcome]:
        outcomes: list[Outcome] = []
        updates: list[tuple[MoodleWrite, dict[str, Any], str]] = []
        unknown: list[MoodleWrite] = []
        for w in writes:
            wanted = _sent(self._resolved(w, ids))
            last = held.get((w.kind, w.record_key))
            if last is None:
                unknown.append(w)
            elif last.fingerprint == fingerprint(wanted):
                outcomes.append(Outcome(w, "unchanged", last.moodle_id))
            elif changed := _diff(wanted, last.fields, COURSE_FIELDS):
                updates.append((w, self._course_update(int(last.moodle_id), wanted, changed), "updated"))
            else:
                outcomes.append(Outcome(w, "unchanged", last.moodle_id))
        create: list[tuple[MoodleWrite, dict[str, Any]]] = []
        if unknown:
            answer = await self.client.call("core_course_get_courses_by_field", {})
            courses = answer.get("courses", []) if isinstance(answer, dict) else []
            by_id = {str(c["id"]): c for c in courses}
            by_idnumber = {str(c["idnumber"]): c for c in courses if c.get("idnumber")}
            by_shortname = {str(c["shortname"]): c for c in courses if not c.get("idnumber")}
            for w in unknown:
                wanted = _sent(self._resolved(w, ids))
                course = (by_id.get(str(w.link_id)) if w.link_id else None) or by_idnumber.get(w.record_key) \
                    or by_shortname.get(str(wanted["shortname"]))
                if course is None and w.link_id:
                    # Zoho names a course this site does not have: made anew rather than linked to nothing.
                    log.warning("Moodle_Class_ID names no course", extra={"tenant": w.tenant, "class": w.zoho_id,
                                                                          "course_id": w.link_id})
                if course is None:
                    create.append((w, wanted))
                elif changed := _diff(wanted, course, COURSE_FIELDS):
                    updates.append((w, self._course_update(int(course["id"]), wanted, changed), "linked"))
                else:
                    outcomes.append(Outcome(w, "linked", str(course["id"])))

        async def send(records: list[dict[str, Any]]) -> Any:
            return await self.client.call("core_course_create_courses", {"courses": records})

        def done(w: MoodleWrite, _: dict[str, Any], answer: Any, attempt: int) -> Outcome:
            return Outcome(w, "created", str(answer["id"]), attempt)

        async def alone(w: MoodleWrite, exc: MoodleException) -> Outcome:
            found = await self.client.call("core_course_get_courses_by_field",
                                           {"field": "idnumber", "value": w.record_key})
            courses = found.get("courses", []) if isinstance(found, dict) else []
            if courses:
                return Outcome(w, "linked", str(courses[0]["id"]))
            return self._failed(w, exc)

        outcomes += await self._batched(create, send, done, alone)
        return outcomes + await self._updates("core_course_update_courses", "courses", "course", updates)

    @staticmethod
    def _course_update(course_id: int, wanted: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
        record = {"id": course_id, **changed}
        if "enddate" in changed and "startdate" in wanted:
            # Moodle refuses an end date sent without the start date in the same call.
            record["startdate"] = wanted["startdate"]
        return record

    # -- enrolments ---------------------------------------------------------------------------------------

    async def _enrolments(self, writes: list[MoodleWrite], held: dict[tuple[str, str], Written],
                          ids: dict[tuple[str, str], str], result: Result) -> list[Outcome]:
        outcomes: list[Outcome] = []
        enrol: list[tuple[MoodleWrite, dict[str, Any]]] = []
        unenrol: list[tuple[MoodleWrite, dict[str, Any]]] = []
        for w in writes:
            if ("user", w.deps["userid"]) not in ids or ("course", w.deps["courseid"]) not in ids:
                result.waiting.append(w)
                continue
            wanted = _sent(self._resolved(w, ids))
            last = held.get((w.kind, w.record_key))
            moodle_id = f"{wanted['userid']}:{wanted['courseid']}"
            if last is not None and last.fingerprint == fingerprint(wanted):
                outcomes.append(Outcome(w, "unchanged", last.moodle_id))
            elif w.intent == "end" and last is None:
                outcomes.append(Outcome(w, "unchanged", None, 1, None, NOT_ENROLLED))
            elif wanted.pop("unenrol", None):
                unenrol.append((w, {"userid": wanted["userid"], "courseid": wanted["courseid"]}))
            else:
                enrol.append((w, wanted))
            if last is not None and last.moodle_id != moodle_id and w.entity == "teacher_enrolment":
                # The class has another teacher now: the previous one leaves the course.
                user, course = last.moodle_id.split(":")
                unenrol.append((w, {"userid": int(user), "courseid": int(course)}))

        def sender(function: str) -> Callable[[list[dict[str, Any]]], Awaitable[Any]]:
            async def send(records: list[dict[str, Any]]) -> Any:
                return await self.client.call(function, {"enrolments": records})
            return send

        def done(w: MoodleWrite, record: dict[str, Any], _: Any, attempt: int) -> Outcome:
            action = "updated" if held.get((w.kind, w.record_key)) is not None else "created"
            return Outcome(w, action, f"{record['userid']}:{record['courseid']}", attempt)

        async def alone(w: MoodleWrite, exc: MoodleException) -> Outcome:
            return self._failed(w, exc)

        outcomes += await self._batched(enrol, sender("enrol_manual_enrol_users"), done, alone)
        ended = await self._batched(unenrol, sender("enrol_manual_unenrol_users"), done, alone)
        # A teacher replaced in a class: the enrolment of the new one is the outcome that counts.
        replaced = {id(o.write) for o in outcomes}
        return outcomes + [o for o in ended if id(o.write) not in replaced or o.action == "failed"]
