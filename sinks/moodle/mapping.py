"""Canonical Zoho events -> what Moodle should hold: one `MoodleWrite` per user, category, course or enrolment.

A write names its dependencies by state key (an enrolment's user and course, a course's category); the
provisioner resolves them to Moodle ids from the sink's state before it compares and writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from sinks.moodle.settings import SiteOptions

Kind = Literal["user", "category", "course", "enrolment"]
# ensure: create or link, then keep up to date; keep: update only an account that exists; suspend: suspend an
# account that exists; end: suspend or unenrol an enrolment.
Intent = Literal["ensure", "keep", "suspend", "end"]
KIND_ORDER: dict[str, int] = {"category": 0, "user": 1, "course": 2, "enrolment": 3}


@dataclass(frozen=True, slots=True)
class MoodleWrite:
    tenant: str
    kind: str
    entity: str
    record_key: str
    zoho_id: str
    fields: dict[str, Any]
    intent: str
    source_version: int
    event_id: str
    raw: dict[str, Any]
    received_at_ms: int
    # Field name -> state key of the record whose Moodle id fills it (userid, courseid, categoryid).
    deps: dict[str, str] = field(default_factory=dict)
    # A Moodle id Zoho already holds (Student_Moodle_ID, Teacher_Moodle_ID, Moodle_Class_ID).
    link_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MoodleWrite:
        return cls(**data)


def fingerprint(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def user_key(entity: str, zoho_id: str) -> str:
    return f"{entity}:{zoho_id}"


def _epoch(day: Any) -> int | None:
    if isinstance(day, datetime):
        return int(day.timestamp())
    if isinstance(day, date):
        return int(datetime.combine(day, time(), UTC).timestamp())
    if isinstance(day, int):
        # Avro's date without the logical type: days since the epoch.
        return day * 86400
    return None


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    received = event["received_at"]
    return {"source_version": int(event["source_version"]), "event_id": str(event["event_id"]),
            "raw": {k: event["raw"][k] for k in ("topic", "partition", "offset")},
            "received_at_ms": int(received.timestamp() * 1000) if isinstance(received, datetime) else int(received)}


def _names(first: str | None, last: str | None, full: str | None) -> tuple[str, str]:
    """Moodle needs both names; Zoho often holds only a full name (teachers always)."""
    if first and last:
        return first.strip(), last.strip()
    words = (full or " ".join(x for x in (first, last) if x) or "").split()
    if not words:
        return "-", "-"
    if len(words) == 1:
        return words[0], last or words[0]
    return " ".join(words[:-1]), words[-1]


def _username(value: str) -> str:
    # Moodle's PARAM_USERNAME: lower case, no spaces.
    return "".join(value.strip().lower().split())


def _account(options: SiteOptions, username: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"username": _username(username), "auth": options.auth}
    if options.createpassword:
        fields["createpassword"] = 1
    return fields


def student_write(event: dict[str, Any], options: SiteOptions) -> MoodleWrite | None:
    p = event["payload"]
    email = (p.get("academic_email") or p.get("email") or "").strip()
    if not email:
        return None
    status = p.get("status")
    if status in options.suspend_statuses:
        intent = "suspend"
    elif status in options.student_statuses:
        intent = "ensure"
    else:
        intent = "keep"
    first, last = _names(p.get("first_name"), p.get("last_name"), p.get("full_name"))
    number = p.get("student_number") or p["zoho_id"]
    username = number if options.username == "student_number" else email
    fields = {**_account(options, username), "firstname": first, "lastname": last, "email": email.lower(),
              "idnumber": str(number), "suspended": 1 if intent == "suspend" else 0}
    if p.get("city"):
        fields["city"] = p["city"]
    zoho_id = str(p["zoho_id"])
    return MoodleWrite(tenant=str(event["tenant"]), kind="user", entity="student",
                       record_key=user_key("student", zoho_id), zoho_id=zoho_id, fields=fields, intent=intent,
                       link_id=p.get("moodle_user_id") or None, **_envelope(event))


def teacher_write(event: dict[str, Any], options: SiteOptions) -> MoodleWrite | None:
    p = event["payload"]
    email = (p.get("academic_email") or p.get("email") or "").strip()
    if not email or not options.teachers:
        return None
    first, last = _names(None, None, p.get("name"))
    zoho_id = str(p["zoho_id"])
    fields = {**_account(options, email), "firstname": first, "lastname": last, "email": email.lower(),
              "idnumber": zoho_id, "suspended": 0}
    return MoodleWrite(tenant=str(event["tenant"]), kind="user", entity="teacher",
                       record_key=user_key("teacher", zoho_id), zoho_id=zoho_id, fields=fields, intent="ensure",
                       link_id=p.get("moodle_user_id") or None, **_envelope(event))


def program_write(event: dict[str, Any]) -> MoodleWrite:
    p = event["payload"]
    zoho_id = str(p["zoho_id"])
    fields = {"name": p["name"], "idnumber": zoho_id, "parent": 0}
    return MoodleWrite(tenant=str(event["tenant"]), kind="category", entity="program", record_key=zoho_id,
                       zoho_id=zoho_id, fields=fields, intent="ensure",
                       link_id=p.get("moodle_category_id") or None, **_envelope(event))


def class_writes(event: dict[str, Any], options: SiteOptions) -> list[MoodleWrite]:
    """The course, and the class teacher's enrolment in it as editing teacher."""
    p = event["payload"]
    status = p.get("status")
    if status is not None and status not in options.class_statuses:
        return []
    zoho_id = str(p["zoho_id"])
    fields: dict[str, Any] = {"fullname": p["name"], "shortname": p["name"], "idnumber": zoho_id,
                              "categoryid": options.default_category}
    start, end = _epoch(p.get("start_date")), _epoch(p.get("end_date"))
    if start is not None:
        fields["startdate"] = start
        if end is not None and end > start:
            fields["enddate"] = end
    deps = {"categoryid": str(p["program_id"])} if p.get("program_id") else {}
    tenant = str(event["tenant"])
    envelope = _envelope(event)
    writes = [MoodleWrite(tenant=tenant, kind="course", entity="class", record_key=zoho_id, zoho_id=zoho_id,
                          fields=fields, intent="ensure", deps=deps, link_id=p.get("moodle_course_id") or None,
                          **envelope)]
    if p.get("teacher_id") and options.teachers:
        writes.append(MoodleWrite(
            tenant=tenant, kind="enrolment", entity="teacher_enrolment", record_key=f"{zoho_id}:teacher",
            zoho_id=zoho_id, fields={"roleid": options.teacher_role, "suspend": 0}, intent="ensure",
            deps={"userid": user_key("teacher", str(p["teacher_id"])), "courseid": zoho_id}, **envelope))
    return writes


def enrollment_write(event: dict[str, Any], options: SiteOptions, today: date) -> MoodleWrite | None:
    p = event.get("payload")
    deleted = p is None or str(event["event_type"]).endswith("Deleted")
    if p is None:
        return None  # a deletion without its last state: nothing says which enrolment it was
    end_day = p.get("end_date")
    ended = deleted or (isinstance(end_day, date) and end_day < today)
    fields: dict[str, Any] = {"roleid": options.student_role}
    start, end = _epoch(p.get("start_date")), _epoch(end_day)
    if start is not None:
        fields["timestart"] = start
    if end is not None and not ended:
        fields["timeend"] = end
    intent = "ensure"
    if ended:
        intent = "end"
        fields = {"roleid": options.student_role, "unenrol": 1} if options.on_end == "unenrol" else \
            {**fields, "suspend": 1}
    else:
        fields["suspend"] = 0
    zoho_id = str(p["zoho_id"])
    return MoodleWrite(tenant=str(event["tenant"]), kind="enrolment", entity="enrollment", record_key=zoho_id,
                       zoho_id=zoho_id, fields=fields, intent=intent,
                       deps={"userid": user_key("student", str(p["student_id"])), "courseid": str(p["class_id"])},
                       **_envelope(event))
