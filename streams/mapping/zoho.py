"""Zoho records → canonical payloads, driven by the tenant's field mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.deadletter import FieldError
from schemas.grades import letter_from_text
from schemas.mapping import CRITERIA_CODES, TenantMapping
from streams.mapping.errors import render, validate
from streams.mapping.fields import resolve, resolve_rows
from streams.rules.emails import on_domains
from streams.rules.grades import merge_outcomes
from streams.rules.picklists import normalise
from streams.sources.types import Lookup, to_id
from streams.sources.zoho import (
    ZohoClass,
    ZohoEnrollment,
    ZohoGrade,
    ZohoPayment,
    ZohoProgram,
    ZohoRecord,
    ZohoRegistration,
    ZohoStudent,
    ZohoTeacher,
    ZohoUnit,
)


@dataclass(frozen=True, slots=True)
class Mapped:
    entity_id: str
    payload: dict[str, Any]
    modified_at_ms: int | None
    # Grades order by attempt before time.
    attempt_number: int | None
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Invalid:
    record_id: str | None
    errors: tuple[FieldError, ...]


# Canonical fields whose picklist value replaces the model's text in the payload.
Picks = dict[str, str]


def _id(ref: Lookup | None) -> str | None:
    return None if ref is None else ref.id


def _name(ref: Lookup | None) -> str | None:
    return None if ref is None else ref.name


def _student(m: ZohoStudent, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    joined = " ".join(part for part in (m.first_name, m.last_name) if part) or None
    return {
        "zoho_id": m.zoho_id, "student_number": m.student_number, "first_name": m.first_name,
        "last_name": m.last_name, "full_name": m.full_name or joined or m.display_name,
        "display_name": m.display_name, "academic_email": m.academic_email, "email": m.email, "phone": m.phone,
        "city": m.city, "country": m.country, "nationality": m.nationality, "status": picks.get("status", m.status),
        "moodle_user_id": m.moodle_user_id, "modified_at": m.modified_at,
    }


def _program(m: ZohoProgram, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    return {
        "zoho_id": m.zoho_id, "name": m.name, "program_code": m.program_code, "major": m.major, "level": m.level,
        "status": picks.get("status", m.status), "moodle_category_id": m.moodle_category_id, "price": m.price,
        "modified_at": m.modified_at,
    }


def _unit(m: ZohoUnit, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    # Criteria texts are plain fields (P1_description …); the resolved record carries them by code.
    criteria = [
        {"code": code, "description": text}
        for code in CRITERIA_CODES
        if isinstance(text := values.get(code), str) and (text := text.strip())
    ]
    return {
        "zoho_id": m.zoho_id, "name": m.name, "unit_code": m.unit_code, "unit_number": m.unit_number,
        "unit_credit": m.unit_credit, "unit_level": m.unit_level, "major": m.major, "program_id": _id(m.program),
        "program_name": _name(m.program), "criteria": criteria, "modified_at": m.modified_at,
    }


def _class(m: ZohoClass, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    return {
        "zoho_id": m.zoho_id, "name": m.name, "short_name": m.short_name, "program_id": _id(m.program),
        "program_name": _name(m.program), "unit_id": _id(m.unit), "unit_name": _name(m.unit),
        "teacher_id": _id(m.teacher), "teacher_name": _name(m.teacher), "moodle_course_id": m.moodle_course_id,
        "status": picks.get("status", m.status), "start_date": m.start_date, "end_date": m.end_date,
        "modified_at": m.modified_at,
    }


def _teacher(m: ZohoTeacher, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    return {
        "zoho_id": m.zoho_id, "name": m.name, "email": m.email, "academic_email": m.academic_email,
        "phone": m.phone, "moodle_user_id": m.moodle_user_id, "modified_at": m.modified_at,
    }


def _enrollment(m: ZohoEnrollment, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    return {
        "zoho_id": m.zoho_id, "student_id": m.student.id, "student_name": m.student.name or m.student_name,
        "class_id": m.class_.id, "class_name": m.class_.name or m.class_name, "start_date": m.start_date,
        "end_date": m.end_date, "enrollment_type": picks.get("enrollment_type", m.enrollment_type),
        "moodle_course_id": m.moodle_course_id, "modified_at": m.modified_at,
    }


def _registration(m: ZohoRegistration, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    schedule = sorted(
        (row.model_dump() for row in m.payment_schedule),
        key=lambda row: (row["installment_no"] is None, row["installment_no"] or 0),
    )
    return {
        "zoho_id": m.zoho_id, "student_id": m.student.id, "student_name": m.student.name,
        "program_id": m.program.id, "program_name": m.program.name, "registration_date": m.registration_date,
        "status": picks.get("status", m.status), "program_price": m.program_price,
        "currency": picks.get("currency", m.currency), "study_mode": picks.get("study_mode", m.study_mode),
        "payment_schedule": schedule, "modified_at": m.modified_at,
    }


def _payment(m: ZohoPayment, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    return {
        "zoho_id": m.zoho_id, "payment_number": m.payment_number, "registration_id": m.registration.id,
        "student_id": _id(m.student), "amount": m.amount, "payment_date": m.payment_date,
        "method": picks.get("method", m.method), "payment_type": picks.get("payment_type", m.payment_type),
        "installment_no": m.installment_no, "note": m.note, "modified_at": m.modified_at,
    }


def _grade(m: ZohoGrade, picks: Picks, values: dict[str, Any], warn: list[str]) -> dict[str, Any]:
    letter = None
    if m.grade is not None:
        letter = letter_from_text(m.grade)
        if letter is None:
            warn.append(f"grade: unknown Grade value {m.grade!r} kept out of the letter")
    outcomes = []
    for index, row in enumerate(m.learning_outcomes):
        if row.code is None:
            warn.append(f"learning_outcomes[{index}]: row without LO_Code skipped")
            continue
        achieved = None if row.score is None else row.score >= 1.0
        outcomes.append({**row.model_dump(), "achieved": achieved})
    return {
        "zoho_id": m.zoho_id, "composite_key": m.composite_key, "student_id": _id(m.student),
        "student_name": _name(m.student) or m.student_name, "class_id": _id(m.class_),
        "class_name": _name(m.class_) or m.class_name, "unit_id": _id(m.unit),
        "unit_name": m.unit_name or _name(m.unit), "program_id": None, "registration_id": None,
        "moodle_user_id": None, "student_email": None, "moodle_course_id": None, "moodle_course_idnumber": None,
        "assignment_id": None, "assignment_name": None, "moodle_grade_id": m.moodle_grade_id,
        "grade_name": m.grade_name, "letter": letter, "raw_score": None, "max_score": None, "scale_index": None,
        "grade_status": picks.get("grade_status", m.grade_status), "attempt_number": m.attempt_number or 1,
        "attempt_date": m.attempt_date, "graded_at": None, "feedback": m.feedback, "grader_role": None,
        "grader_name": m.grader_name, "grader_moodle_id": m.grader_moodle_id, "iv_name": m.iv_name,
        "iv_moodle_id": m.iv_moodle_id, "learning_outcomes": merge_outcomes(outcomes), "modified_at": m.modified_at,
    }


Builder = Callable[[Any, Picks, dict[str, Any], list[str]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EntitySpec:
    model: type[ZohoRecord]
    build: Builder
    # The canonical field holding the entity's subform rows, if any.
    subform: str | None = None


SPECS: dict[str, EntitySpec] = {
    "student": EntitySpec(ZohoStudent, _student),
    "program": EntitySpec(ZohoProgram, _program),
    "unit": EntitySpec(ZohoUnit, _unit),
    "class": EntitySpec(ZohoClass, _class),
    "teacher": EntitySpec(ZohoTeacher, _teacher),
    "enrollment": EntitySpec(ZohoEnrollment, _enrollment),
    "registration": EntitySpec(ZohoRegistration, _registration, "payment_schedule"),
    "payment": EntitySpec(ZohoPayment, _payment),
    "grade": EntitySpec(ZohoGrade, _grade, "learning_outcomes"),
}

# Fields the per-tenant academic-domain rule applies to.
_ACADEMIC_EMAIL = {"student": "academic_email", "teacher": "academic_email"}


def _tenant_rules(
    entity: str, values: dict[str, Any], sources: Mapping[str, str], mapping: TenantMapping
) -> tuple[Picks, list[FieldError], list[str]]:
    picks: Picks = {}
    errors: list[FieldError] = []
    warnings: list[str] = []
    picklists = mapping.picklists_of(entity)
    for field, value in values.items():
        found = picklists.get(field)
        if found is None or value is None or isinstance(value, dict | list):
            continue
        # A number is checked as its text: Status 12 is as wrong as Status "12".
        value = value if isinstance(value, str) else str(value)
        picklist, index = found
        result = normalise(value.strip(), index)
        if result.status == "known":
            picks[field] = result.value
        elif picklist.closed:
            errors.append(FieldError(sources[field], "not one of the allowed values: " + ", ".join(picklist.values),
                                     render(value)))
        else:
            warnings.append(f"{sources[field]}: unknown picklist value {result.value!r} kept")
    email_field = _ACADEMIC_EMAIL.get(entity)
    email = values.get(email_field) if email_field else None
    domains = mapping.academic_email_domains
    if domains and email_field and isinstance(email, str) and "@" in email and not on_domains(email.strip(), domains):
        errors.append(FieldError(sources[email_field], "must be on the college's domain: " + ", ".join(domains),
                                 render(email)))
    return picks, errors, warnings


def _safe_id(value: Any) -> str | None:
    try:
        return to_id(value)
    except ValueError:
        return None


def record_id_of(record: dict[str, Any], mapping: TenantMapping, entity: str) -> str | None:
    """The record's id for a dead letter or a delete, when it has a usable one."""
    names = mapping.entities[entity].fields.get("zoho_id", ("id",))
    return _safe_id(resolve(record, {"zoho_id": names}).values.get("zoho_id"))


def map_record(entity: str, record: dict[str, Any], mapping: TenantMapping) -> Mapped | Invalid:
    spec = SPECS[entity]
    entity_mapping = mapping.entities[entity]
    resolved = resolve(record, entity_mapping.fields)
    if spec.subform is not None and spec.subform in resolved.values:
        resolved.values[spec.subform] = resolve_rows(resolved.values[spec.subform], entity_mapping.subform_fields)
    sub_sources = {field: names[0] for field, names in entity_mapping.subform_fields.items()}
    model, errors = validate(spec.model, resolved.values, resolved.sources, sub_sources)
    picks, rule_errors, warnings = _tenant_rules(entity, resolved.values, resolved.sources, mapping)
    errors.extend(rule_errors)
    if model is None or errors:
        return Invalid(record_id_of(record, mapping, entity), tuple(errors))
    payload = spec.build(model, picks, resolved.values, warnings)
    entity_id = payload["zoho_id"]
    attempt = None
    if entity == "grade":
        entity_id = payload["composite_key"] or entity_id
        attempt = payload["attempt_number"]
    return Mapped(entity_id, payload, model.modified_at, attempt, tuple(warnings))


def deleted_entity_id(entity: str, record: dict[str, Any], mapping: TenantMapping) -> str | None:
    """The id a delete applies to: the record id, or for a grade its composite key when the body has one."""
    if entity == "grade":
        names = mapping.entities[entity].fields.get("composite_key", ())
        key = _safe_id(resolve(record, {"composite_key": names}).values.get("composite_key")) if names else None
        if key is not None:
            return key
    return record_id_of(record, mapping, entity)
