"""Which table each canonical entity lands in, and how an event's payload becomes its row.

Table-driven: every entity is an envelope (who wrote the row, at which version) plus payload
fields copied to columns of the same name. Grades are keyed per attempt; registrations and
grades have child rows (payment schedule, learning outcomes) replaced with their parent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from operator import itemgetter
from typing import Any

import orjson

ENVELOPE = ("source_version", "origin", "event_id", "fingerprint", "occurred_at", "warnings")
_MONEY = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$")


class MalformedPayload(ValueError):
    """A payload value the table cannot hold (e.g. money that is not a decimal number)."""


def _money(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not _MONEY.match(text):
        raise MalformedPayload(f"money value {value!r} is not a decimal number")
    return text


def _json(value: Any) -> str:
    return orjson.dumps(value if value is not None else []).decode()


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class ChildTable:
    table: str
    # the parent's key as named in this table, in the parent key's order
    parent_key: tuple[str, ...]
    # payload field holding the list of child records
    source: str
    fields: tuple[str, ...]
    converters: dict[str, Converter]

    def values(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return _values(self.fields, self.converters, item)


@dataclass(frozen=True)
class EntityTable:
    entity: str
    table: str
    # columns naming one row; the first two are always (tenant, <entity id column>)
    key: tuple[str, ...]
    fields: tuple[str, ...]
    converters: dict[str, Converter]
    child: ChildTable | None = None
    # Columns only Moodle's events carry: a version from Zoho (where they have no field) leaves their values.
    moodle_only: tuple[str, ...] = ()

    @property
    def id_column(self) -> str:
        return self.key[1]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key, *ENVELOPE, *self.fields)

    @property
    def child_columns(self) -> tuple[str, ...]:
        assert self.child is not None
        return (*self.child.parent_key, "position", *self.child.fields)

    def carried(self, newer: tuple[Any, ...], older: tuple[Any, ...]) -> tuple[Any, ...]:
        """`newer`'s row with what only Moodle knows taken from `older` when `newer` came from Zoho: in one batch,
        as the merge does across batches."""
        if not self.moodle_only or newer[self._origin_at] != "zoho":
            return newer
        out = list(newer)
        for i in self._moodle_only_at:
            if out[i] is None:
                out[i] = older[i]
        return tuple(out)

    @cached_property
    def _origin_at(self) -> int:
        return self.columns.index("origin")

    @cached_property
    def _moodle_only_at(self) -> tuple[int, ...]:
        return tuple(self.columns.index(c) for c in self.moodle_only)

    def row_key(self, tenant: str, entity_id: str, payload: dict[str, Any] | None) -> tuple[Any, ...]:
        if self.entity == "grade":
            return (tenant, entity_id, int((payload or {}).get("attempt_number") or 1))
        return (tenant, entity_id)

    def row(self, key: tuple[Any, ...], envelope: tuple[Any, ...], payload: dict[str, Any]) -> tuple[Any, ...]:
        return (*key, *envelope, *_values(self.fields, self.converters, payload))

    def child_rows(self, key: tuple[Any, ...], payload: dict[str, Any]) -> list[tuple[Any, ...]]:
        child = self.child
        if child is None:
            return []
        return [(*key, position, *child.values(item)) for position, item in enumerate(payload.get(child.source) or ())]


def _values(fields: tuple[str, ...], converters: dict[str, Converter], item: dict[str, Any]) -> tuple[Any, ...]:
    # Decoded records carry every schema field, so one C-level lookup takes them all; text PostgreSQL
    # refuses (a NUL byte) fails the batch, which is then applied record by record and the culprit dead-lettered.
    values = _getter(fields)(item)
    if not converters:
        return values
    out = list(values)
    for i, f in enumerate(fields):
        if f in converters:
            out[i] = converters[f](out[i])
    return tuple(out)


@cache
def _getter(fields: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    get = itemgetter(*fields)
    return get if len(fields) > 1 else lambda item: (get(item),)


def _t(entity: str, fields: str, table: str | None = None, key: tuple[str, ...] = ("tenant", "id"),
       converters: dict[str, Converter] | None = None, child: ChildTable | None = None,
       moodle_only: str = "") -> EntityTable:
    return EntityTable(entity, table or entity, key, tuple(fields.split()), converters or {}, child,
                       tuple(moodle_only.split()))


_STUDENT = "student_number first_name last_name full_name display_name academic_email email phone city country " \
           "nationality status moodle_user_id modified_at"
_GRADE = "zoho_id composite_key student_id student_name class_id class_name unit_id unit_name program_id " \
         "registration_id moodle_user_id student_email moodle_course_id moodle_course_idnumber assignment_id " \
         "assignment_name moodle_grade_id grade_name letter raw_score max_score scale_index grade_status " \
         "attempt_date graded_at feedback grader_role grader_name grader_moodle_id iv_name iv_moodle_id modified_at " \
         "workflow_state released"

ENTITY_TABLES: dict[str, EntityTable] = {t.entity: t for t in (
    _t("student", _STUDENT),
    _t("program", "name program_code major level status moodle_category_id price modified_at",
       converters={"price": _money}),
    _t("unit", "name unit_code unit_number unit_credit unit_level major program_id program_name criteria modified_at",
       converters={"criteria": _json}),
    _t("class", "name short_name program_id program_name unit_id unit_name teacher_id teacher_name moodle_course_id "
                "status start_date end_date modified_at"),
    _t("teacher", "name email academic_email phone moodle_user_id modified_at"),
    _t("enrollment", "student_id student_name class_id class_name start_date end_date enrollment_type "
                     "moodle_course_id modified_at"),
    _t("registration", "student_id student_name program_id program_name registration_date status program_price "
                       "currency study_mode modified_at",
       converters={"program_price": _money},
       child=ChildTable("registration_installment", ("tenant", "registration_id"), "payment_schedule",
                        ("installment_no", "due_date", "amount", "status", "paid_date"), {"amount": _money})),
    _t("payment", "payment_number registration_id student_id amount payment_date method payment_type installment_no "
                  "note modified_at", converters={"amount": _money}),
    _t("grade", _GRADE, table="grade_attempt", key=("tenant", "grade_id", "attempt_number"),
       child=ChildTable("grade_learning_outcome", ("tenant", "grade_id", "attempt_number"), "learning_outcomes",
                        ("code", "title", "description", "identification", "score", "feedback", "achieved"), {}),
       # The puller brings back the grades the Zoho sink wrote: Zoho's copy has no assignment, score or course.
       moodle_only="program_id registration_id moodle_user_id student_email moodle_course_id moodle_course_idnumber "
                   "assignment_id assignment_name raw_score max_score scale_index graded_at grader_role "
                   "workflow_state released"),
    _t("moodle_user", "username email first_name last_name idnumber student_id link_method"),
    _t("moodle_enrollment", "moodle_user_id course_id course_idnumber role status time_start time_end"),
)}

# Tables whose rows only the projector writes; checksum and replay cover all of them.
LOG_TABLES = ("tombstone", "zoho_sync_outcome", "zoho_sync_state", "moodle_sync_outcome", "moodle_sync_state",
              "dead_letter")
CHILD_TABLES = tuple(t.child.table for t in ENTITY_TABLES.values() if t.child is not None)
PROJECTION_TABLES = (*(t.table for t in ENTITY_TABLES.values()), *CHILD_TABLES, *LOG_TABLES)
