"""Zoho CRM: the webhook body shapes and one model per module.

Record models use canonical field names; `streams.mapping.fields` has already picked, per
the tenant's mapping, which API-name variant fed each field. Extra fields are ignored:
Zoho modules have hundreds and orgs add their own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from streams.sources.types import (
    Amount,
    Email,
    IsoMs,
    Name,
    OptDate,
    OptFloat,
    OptId,
    OptInt,
    OptLookup,
    RecordId,
    RequiredEmail,
    RequiredLookup,
    RequiredName,
    Text,
)


class ZohoRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True, populate_by_name=True)

    zoho_id: RecordId
    modified_at: IsoMs = None


class ZohoStudent(ZohoRecord):
    student_number: Text = None
    full_name: Name = None
    first_name: Name = None
    last_name: Name = None
    display_name: Name = None
    academic_email: RequiredEmail
    email: Email = None
    phone: Text = None
    city: Text = None
    country: Text = None
    nationality: Text = None
    status: Text = None
    moodle_user_id: OptId = None


class ZohoProgram(ZohoRecord):
    name: RequiredName
    program_code: Text = None
    major: Text = None
    level: Text = None
    status: Text = None
    moodle_category_id: Text = None
    price: Amount = None


class ZohoUnit(ZohoRecord):
    name: RequiredName
    unit_code: Text = None
    unit_number: Text = None
    unit_credit: OptInt = None
    unit_level: Text = None
    major: Text = None
    program: OptLookup = None


class ZohoClass(ZohoRecord):
    name: RequiredName
    short_name: Text = None
    program: OptLookup = None
    unit: OptLookup = None
    teacher: OptLookup = None
    moodle_course_id: OptId = None
    status: Text = None
    start_date: OptDate = None
    end_date: OptDate = None


class ZohoTeacher(ZohoRecord):
    name: RequiredName
    email: Email = None
    academic_email: Email = None
    phone: Text = None
    moodle_user_id: OptId = None


class ZohoEnrollment(ZohoRecord):
    student: RequiredLookup
    student_name: Text = None
    class_: RequiredLookup = Field(alias="class")
    class_name: Text = None
    start_date: OptDate = None
    end_date: OptDate = None
    enrollment_type: Text = None
    moodle_course_id: OptId = None


class ZohoInstallment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    installment_no: OptInt = None
    due_date: OptDate = None
    amount: Amount = None
    status: Text = None
    paid_date: OptDate = None


class ZohoRegistration(ZohoRecord):
    student: RequiredLookup
    program: RequiredLookup
    registration_date: OptDate = None
    status: Text = None
    program_price: Amount = None
    currency: Text = None
    study_mode: Text = None
    payment_schedule: list[ZohoInstallment] = Field(default_factory=list)


class ZohoPayment(ZohoRecord):
    payment_number: Text = None
    registration: RequiredLookup
    student: OptLookup = None
    amount: Amount = None
    payment_date: OptDate = None
    method: Text = None
    payment_type: Text = None
    installment_no: OptInt = None
    note: Text = None


class ZohoLearningOutcome(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: Text = None
    identification: Text = None
    description: Text = None
    title: Text = None
    score: OptFloat = None
    feedback: Text = None


class ZohoGrade(ZohoRecord):
    student: OptLookup = None
    student_name: Text = None
    class_: OptLookup = Field(default=None, alias="class")
    class_name: Text = None
    unit: OptLookup = None
    unit_name: Text = None
    grade: Text = None
    grade_status: Text = None
    attempt_number: OptInt = None
    attempt_date: OptDate = None
    feedback: Text = None
    grader_name: Text = None
    grader_moodle_id: OptId = None
    iv_name: Text = None
    iv_moodle_id: OptId = None
    moodle_grade_id: OptId = None
    composite_key: OptId = None
    grade_name: Text = None
    learning_outcomes: list[ZohoLearningOutcome] = Field(default_factory=list)


class ZohoEvent(BaseModel):
    """Workflow webhook: one record and what happened to it."""

    model_config = ConfigDict(extra="ignore")

    notification_id: OptId = None
    timestamp: IsoMs = None
    module: Text = None
    operation: Text = None
    record_id: OptId = None
    data: dict[str, Any]


class ZohoBatch(BaseModel):
    """A Zoho Function's bulk or catch-up sync: `{"data": [record, ...]}`."""

    model_config = ConfigDict(extra="ignore")

    operation: Text = None
    timestamp: IsoMs = None
    data: list[Any]


class ZohoPointer(BaseModel):
    """A body that names records without their data: the first team's `{"zoho_id", "module"}`
    and Zoho's notification format (`ids`). Ingress never calls Zoho, so only a delete is usable."""

    model_config = ConfigDict(extra="ignore")

    ids: list[RecordId]
    module: Text = None
    operation: Text = None
    timestamp: IsoMs = None
