"""Canonical events -> the Zoho records the sink writes (BTEC_Grades; Student_Moodle_ID on BTEC_Students;
BTEC_Enrollments for tenants that enable it).

Values never exceed Zoho's field limits silently: a value that must be cut loses its tail to `limit - 3`
characters plus `...`, with a log line and a counter (docs/domain.md#field-limits).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sinks.zoho import sink_metrics
from sinks.zoho.settings import EnrollmentOptions

log = logging.getLogger("zoho_sink.mapping")

GRADES = "BTEC_Grades"
STUDENTS = "BTEC_Students"
GRADE_KEY = "Moodle_Grade_Composite_Key"
LO_SUBFORM = "Learning_Outcomes_Assessm"
LO_CODE = "LO_Code"
LO_FIELDS = ("LO_Code", "LO_Outcome_Identification", "LO_Definition", "LO_Title", "LO_Score", "LO_Feedback")

SINGLE_LINE = 255
MULTI_LINE = 2000
# Everything not listed is single-line text; Feedback and long LO texts go to the small multi-line fields.
LIMITS: dict[str, int] = {"Feedback": MULTI_LINE, "LO_Definition": MULTI_LINE, "LO_Feedback": MULTI_LINE}
LETTERS = frozenset({"D", "M", "P", "R", "RR", "F"})
GRADE_STATUS = ("Not Marked", "In Marking", "Marking completed", "In review", "Ready for release", "Released")

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ZohoWrite:
    """One record to bring into Zoho, with what it came from."""

    tenant: str
    module: str
    record_key: str
    fields: dict[str, Any]
    # The subform rows the record must end up with; None leaves the subform alone.
    rows: tuple[Row, ...] | None
    zoho_id: str | None
    source_version: int
    event_id: str
    entity: str
    entity_id: str
    raw: dict[str, Any]
    received_at_ms: int
    fingerprint: str
    # Upserted on this unique field (enrollments); grades have their own path, student links are updates by id.
    upsert_key: str | None = None
    # An unenrolment: the record gets an End_Date, and a later re-enrolment clears it again.
    ends: bool = False
    # A grade not released yet, for a tenant that writes released grades only: not written, but its grader
    # fields are kept for the record's next write.
    held: bool = False


def fingerprint(fields: dict[str, Any], rows: tuple[Row, ...] | None) -> str:
    body = json.dumps({"fields": fields, "rows": rows}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def fit(module: str, field: str, value: str | None, record_key: str) -> str | None:
    if value is None:
        return None
    limit = LIMITS.get(field, SINGLE_LINE)
    if len(value) <= limit:
        return value
    sink_metrics.TRUNCATED.labels(module=module, field=field).inc()
    log.warning("value cut to the Zoho field limit", extra={
        "zoho_module": module, "field": field, "record_key": record_key, "length": len(value), "limit": limit})
    return value[:limit - 3] + "..."


def _score(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _day(value: date | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if value is not None else None


def _status(value: str | None, record_key: str) -> str | None:
    """Grade_Status is a strict picklist: a Moodle workflow state outside it is left out, not rejected."""
    if value is None:
        return None
    for allowed in GRADE_STATUS:
        if allowed.lower() == value.strip().lower():
            return allowed
    sink_metrics.VALUES_LEFT_OUT.labels(module=GRADES, field="Grade_Status").inc()
    log.info("grade status outside the Zoho picklist left out", extra={"record_key": record_key, "value": value})
    return None


def lo_rows(outcomes: list[dict[str, Any]], record_key: str) -> tuple[Row, ...]:
    rows = []
    for lo in outcomes:
        row = {
            "LO_Code": fit(GRADES, "LO_Code", lo["code"], record_key),
            "LO_Outcome_Identification": fit(GRADES, "LO_Outcome_Identification", lo.get("identification"),
                                             record_key),
            "LO_Definition": fit(GRADES, "LO_Definition", lo.get("description"), record_key),
            "LO_Title": fit(GRADES, "LO_Title", lo.get("title"), record_key),
            "LO_Score": _score(lo.get("score")),
            "LO_Feedback": fit(GRADES, "LO_Feedback", lo.get("feedback"), record_key),
        }
        rows.append(row)
    return tuple(rows)


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    received = event["received_at"]
    return {"source_version": int(event["source_version"]), "event_id": str(event["event_id"]),
            "entity": str(event["entity"]), "entity_id": str(event["entity_id"]), "raw": dict(event["raw"]),
            "received_at_ms": int(received.timestamp() * 1000) if isinstance(received, datetime) else int(received)}


# Fields one kind of grader fills and the other leaves as it is.
PER_GRADER = ("Grader_Name", "IV_Name")


def grade_write(event: dict[str, Any]) -> ZohoWrite:
    """A joined Moodle grade as the BTEC_Grades record showing its newest attempt."""
    p = event["payload"]
    key = str(p.get("composite_key") or event["entity_id"])
    role = p.get("grader_role")
    values: dict[str, Any] = {
        GRADE_KEY: key,
        "Student": {"id": p["student_id"]},
        "Class": {"id": p["class_id"]} if p.get("class_id") else None,
        "BTEC_Unit": fit(GRADES, "BTEC_Unit", p.get("unit_name"), key),
        "Grade": p.get("letter") if p.get("letter") in LETTERS else None,
        "Grade_Status": _status(p.get("grade_status"), key),
        "Attempt_Number": p.get("attempt_number"),
        "Attempt_Date": _day(p.get("attempt_date") or p.get("graded_at")),
        "Feedback": fit(GRADES, "Feedback", p.get("feedback"), key),
        # An IV's grade fills the IV fields, a teacher's the grader fields; the other side is left as it is.
        "Grader_Name": fit(GRADES, "Grader_Name", p.get("grader_name"), key) if role == "teacher" else None,
        "IV_Name": fit(GRADES, "IV_Name", p.get("iv_name"), key) if role == "iv" else None,
        "Moodle_Grade_ID": p.get("moodle_grade_id"),
        "BTEC_Grade_Name": fit(GRADES, "BTEC_Grade_Name", p.get("grade_name"), key),
        "Student_Name": fit(GRADES, "Student_Name", p.get("student_name"), key),
        "Class_Name": fit(GRADES, "Class_Name", p.get("class_name"), key),
    }
    # Absent values are left out rather than sent as null: a partial event never blanks a field in Zoho.
    fields = {name: value for name, value in values.items() if value is not None}
    rows = lo_rows(p.get("learning_outcomes") or [], key)
    return ZohoWrite(tenant=str(event["tenant"]), module=GRADES, record_key=key, fields=fields, rows=rows,
                     zoho_id=None, fingerprint=fingerprint(fields, rows), **_envelope(event))


def link_write(event: dict[str, Any]) -> ZohoWrite:
    """A Moodle user linked to a student: the student's Student_Moodle_ID."""
    p = event["payload"]
    student = str(p["student_id"])
    fields = {"Student_Moodle_ID": str(p["moodle_user_id"])}
    return ZohoWrite(tenant=str(event["tenant"]), module=STUDENTS, record_key=student, fields=fields, rows=None,
                     zoho_id=student, fingerprint=fingerprint(fields, None), **_envelope(event))


# The Zoho field holding the Moodle id of each entity the Moodle sink provisions.
MOODLE_ID_FIELDS: dict[str, str] = {"student": "Student_Moodle_ID", "teacher": "Teacher_Moodle_ID",
                                    "class": "Moodle_Class_ID"}


def moodle_id_write(outcome: dict[str, Any], module: str) -> ZohoWrite:
    """A Moodle sink's outcome as the Moodle id field of the Zoho record it came from, updated by Zoho id.

    A student's key and fields are those of `link_write`, so the plugin's user_created event for the same account
    (linked by streams) finds the value already written: unchanged, no second call.
    """
    record_key = str(outcome["record_key"])
    fields = {MOODLE_ID_FIELDS[str(outcome["entity"])]: str(outcome["moodle_id"])}
    raw = outcome.get("raw") or {"topic": "moodle.outcomes", "partition": 0, "offset": 0}
    received = outcome.get("received_at") or outcome["occurred_at"]
    return ZohoWrite(tenant=str(outcome["tenant"]), module=module, record_key=record_key, fields=fields, rows=None,
                     zoho_id=record_key, fingerprint=fingerprint(fields, None),
                     source_version=int(outcome.get("source_version") or 0),
                     event_id=str(outcome.get("event_id") or ""), entity=str(outcome["entity"]),
                     entity_id=record_key, raw=dict(raw),
                     received_at_ms=int(received.timestamp() * 1000) if isinstance(received, datetime)
                     else int(received))


def enrollment_key(payload: dict[str, Any]) -> str:
    """One Zoho enrollment per Moodle user per course: a re-enrolment (new enrolment id) is the same record."""
    return f"{payload['moodle_user_id']}_{payload['course_id']}"


def enrollment_write(event: dict[str, Any], options: EnrollmentOptions) -> ZohoWrite:
    """A Moodle enrolment of a linked student in a mapped class as the class's enrollment record.

    An unenrolment (…Deleted) keeps the record and sets End_Date to the day it happened (or the enrolment's
    own end, if earlier): Zoho is the registrar's record of who attended which class, and Moodle unenrols
    whole courses at a term's clean-up. Dates are UTC days.
    """
    p = event["payload"]
    key = enrollment_key(p)
    ends = str(event["event_type"]).endswith("Deleted")
    end = _day(p.get("time_end"))
    if ends:
        unenrolled = _day(event["occurred_at"])
        end = min(end, unenrolled) if end and unenrolled else end or unenrolled
    values: dict[str, Any] = {
        options.key_field: key,
        "Enrolled_Students": {"id": p["student_id"]},
        "Classes": {"id": p["class_id"]},
        "Start_Date": _day(p.get("time_start")),
        "End_Date": end,
        "Enrollment_Type": options.enrollment_type,
        "Moodle_Course_ID": str(p["course_id"]),
        "Class_Name": fit(options.module, "Class_Name", p.get("class_name"), key),
    }
    # As for grades, an absent value is left out rather than blanked (the registrar may have filled it).
    fields = {name: value for name, value in values.items() if value is not None}
    return ZohoWrite(tenant=str(event["tenant"]), module=options.module, record_key=key, fields=fields, rows=None,
                     zoho_id=None, fingerprint=fingerprint(fields, None), upsert_key=options.key_field, ends=ends,
                     **_envelope(event))
