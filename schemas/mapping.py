"""Per-tenant field mapping: which Zoho module holds each entity, which API names feed each
canonical field (first present, non-empty name wins), picklists and the email-domain rule.

Defaults are the college's real org (docs/domain.md, docs/zoho-api.md#college-modules). A tenant's configuration
only lists what differs: an entity given as `{"module": "Learners", "fields": {"academic_email":
["College_Mail"]}}` keeps every other default of that entity — overrides merge, they do not
replace the entity wholesale (the first team's mapping rows did, and lost fields).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from common.tenants import TenantSecrets


def fold(value: str) -> str:
    """Picklist values compare case-insensitively, whitespace runs counting as one space."""
    return " ".join(value.split()).casefold()


# Unit criteria texts, P1…P20, M1…M9, D1…D6 (P11+ appear in some orgs).
CRITERIA_CODES: tuple[str, ...] = (
    *(f"P{i}" for i in range(1, 21)),
    *(f"M{i}" for i in range(1, 10)),
    *(f"D{i}" for i in range(1, 7)),
)

class EntityMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str
    fields: dict[str, tuple[str, ...]]
    # Row fields of the entity's subform (registration: Payment_Schedule; grade: Learning_Outcomes_Assessm).
    subform_fields: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class Picklist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    values: tuple[str, ...]
    # Closed picklists reject unknown values; open ones keep them and flag a warning.
    closed: bool = False


def _f(**names: tuple[str, ...] | str) -> dict[str, tuple[str, ...]]:
    return {field: (api,) if isinstance(api, str) else api for field, api in names.items()}


_MODIFIED = ("Modified_Time", "Modified Time")

DEFAULT_ENTITIES: dict[str, EntityMapping] = {
    "student": EntityMapping(module="BTEC_Students", fields=_f(
        zoho_id="id", student_number="Name",
        full_name=("Full_Name", "Full Name", "Student_Name"),
        first_name=("First_Name", "First Name"), last_name=("Last_Name", "Last Name"),
        display_name=("Display_Name", "Display Name"),
        academic_email=("Academic_Email", "Academic Email", "Email", "email"), email=("Email", "email"),
        phone=("Phone_Number", "Phone Number", "Phone", "Mobile"), city="City", country="Country",
        nationality="Nationality", status=("Status", "Student_Status"),
        moodle_user_id=("Student_Moodle_ID", "Moodle_User_ID", "Moodle_ID"), modified_at=_MODIFIED,
    )),
    "program": EntityMapping(module="Products", fields=_f(
        zoho_id="id", name=("Product_Name", "Program_Name", "Name", "Full_Name", "Full Name"),
        program_code=("Program_ID", "Program_Code"), major=("Program_Major", "Major"),
        level=("Level", "Program_Level"), status="Status", moodle_category_id=("MoodleID", "Moodle_ID"),
        price="Program_Price", modified_at=_MODIFIED,
    )),
    "unit": EntityMapping(module="BTEC", fields={
        **_f(zoho_id="id", name=("Name", "Unit_Name"), unit_code="Unit_Code", unit_number="Unit_Number",
             unit_credit="Unit_Credit", unit_level="Unit_Level", major="Unit_Major", program="Program",
             modified_at=_MODIFIED),
        **{code: (f"{code}_description", f"{code}_Description") for code in CRITERIA_CODES},
    }),
    "class": EntityMapping(module="BTEC_Classes", fields=_f(
        zoho_id="id", name=("Class_Name", "BTEC_Class_Name", "Name"), short_name=("Class_Short_Name", "Short_Name"),
        program=("BTEC_Program", "Program"), unit="Unit", teacher="Teacher",
        moodle_course_id=("Moodle_Class_ID", "Moodle_Course_ID"), status=("Class_Status", "Status", "status"),
        start_date="Start_Date", end_date="End_Date", modified_at=_MODIFIED,
    )),
    "teacher": EntityMapping(module="BTEC_Teachers", fields=_f(
        zoho_id="id", name=("Name", "Full_Name", "Full Name"), email=("Email", "email"),
        academic_email=("Academic_Email", "Academic Email"), phone=("Phone_Number", "Phone"),
        moodle_user_id=("Teacher_Moodle_ID", "Moodle_User_ID"), modified_at=_MODIFIED,
    )),
    "enrollment": EntityMapping(module="BTEC_Enrollments", fields=_f(
        zoho_id="id", student=("Enrolled_Students", "Student", "Student_ID"), student_name="Student_Name",
        **{"class": ("Classes", "Class")}, class_name="Class_Name", start_date="Start_Date", end_date="End_Date",
        enrollment_type="Enrollment_Type", moodle_course_id="Moodle_Course_ID", modified_at=_MODIFIED,
    )),
    "registration": EntityMapping(
        module="BTEC_Registrations",
        fields=_f(
            zoho_id="id", student=("Student_ID", "Student"), program="Program",
            registration_date="Registration_Date", status=("Registration_Status", "Status"),
            program_price=("Program_Price", "Total_Fees"), currency="Currency", study_mode="Study_Mode",
            payment_schedule="Payment_Schedule", modified_at=_MODIFIED,
        ),
        subform_fields=_f(
            installment_no=("Installment_No", "Installment_Number"), due_date="Due_Date",
            amount=("Installment_Amount", "Amount"), status="Installment_Status", paid_date="Paid_Date",
        ),
    ),
    "payment": EntityMapping(module="BTEC_Payments", fields=_f(
        zoho_id="id", payment_number="Name", registration=("Registration_ID", "Registration"),
        student=("Student_ID", "Student"), amount=("Payment_Amount", "Amount"), payment_date="Payment_Date",
        method="Payment_Method", payment_type="Payment_Type", installment_no="Installment_No", note="Note",
        modified_at=_MODIFIED,
    )),
    "grade": EntityMapping(
        module="BTEC_Grades",
        fields=_f(
            zoho_id="id", student="Student", student_name="Student_Name", **{"class": "Class"}, class_name="Class_Name",
            unit=("Unit", "BTEC_Unit_ID"), unit_name="BTEC_Unit", grade=("Grade", "Grade_Value"),
            grade_status="Grade_Status", attempt_number="Attempt_Number", attempt_date="Attempt_Date",
            feedback="Feedback", grader_name="Grader_Name", grader_moodle_id="Grader_Moodle_ID", iv_name="IV_Name",
            iv_moodle_id="IV_Moodle_ID", moodle_grade_id="Moodle_Grade_ID",
            composite_key="Moodle_Grade_Composite_Key", grade_name="BTEC_Grade_Name",
            learning_outcomes="Learning_Outcomes_Assessm", modified_at=_MODIFIED,
        ),
        subform_fields=_f(
            code="LO_Code", identification="LO_Outcome_Identification", description="LO_Definition",
            title="LO_Title", score="LO_Score", feedback="LO_Feedback",
        ),
    ),
}

# The entities a tenant's mapping may override (a field-mapping body names no other).
ZOHO_ENTITIES: tuple[str, ...] = tuple(DEFAULT_ENTITIES)

STUDENT_STATUSES: tuple[str, ...] = (
    "Pending", "Passive", "Enrollment Form", "approved", "approved-conditional", "Active", "Freezed", "Withdraw",
    "Graduated", "Blocked", "Revive", "Welcome Letter Sent", "Student Certificate Sent", "Graduate Form Sent",
    "Account Creation", "Registered", "Unregistered",
)

# Keyed "<entity>.<canonical field>".
DEFAULT_PICKLISTS: dict[str, Picklist] = {
    "student.status": Picklist(values=STUDENT_STATUSES, closed=True),
    "program.status": Picklist(values=("Draft", "Approved", "Sent", "Active", "Inactive")),
    "class.status": Picklist(values=("Pending", "Active", "Initial Evaluation", "Final Evaluation",
                                     "Waiting Submission", "Waiting Resubmission", "End")),
    "enrollment.enrollment_type": Picklist(values=("Normal", "Recording", "Self-Study", "Not Graded")),
    "registration.status": Picklist(values=("New", "Active", "Graduated", "Freeze", "Blocked", "Withdraw",
                                            "Special")),
    "registration.currency": Picklist(values=("USD", "TRY", "EUR", "GBP")),
    "registration.study_mode": Picklist(values=("Online", "Onsite", "Blended")),
    "payment.method": Picklist(values=("Cash", "Bank Transfer")),
    "payment.payment_type": Picklist(values=("Registration Fees", "Study Fees", "Assignment Remark Fees",
                                             "Certificate Fees", "Books Fees")),
    "grade.grade_status": Picklist(values=("Not Marked", "In Marking", "Marking completed", "In review",
                                           "Ready for release", "Released")),
}


class TenantMapping(BaseModel):
    """One tenant's Zoho customisation. Build once per tenant and reuse: lookups are precomputed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entities: dict[str, EntityMapping] = Field(default_factory=lambda: dict(DEFAULT_ENTITIES))
    picklists: dict[str, Picklist] = Field(default_factory=lambda: dict(DEFAULT_PICKLISTS))
    # Academic emails must end in one of these domains (or a subdomain); empty = rule off.
    academic_email_domains: tuple[str, ...] = ()

    _entity_by_module: dict[str, str] = PrivateAttr(default_factory=dict)
    _picklists_of: dict[str, dict[str, tuple[Picklist, dict[str, str]]]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _merge_onto_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        if isinstance(data.get("entities"), dict):
            entities: dict[str, Any] = {name: m.model_dump() for name, m in DEFAULT_ENTITIES.items()}
            for name, override in data["entities"].items():
                base = entities.get(name)
                if base is None or isinstance(override, EntityMapping):
                    entities[name] = override
                    continue
                entities[name] = {
                    **base,
                    **{k: v for k, v in override.items() if k not in ("fields", "subform_fields")},
                    "fields": {**base["fields"], **override.get("fields", {})},
                    "subform_fields": {**base["subform_fields"], **override.get("subform_fields", {})},
                }
            merged["entities"] = entities
        if isinstance(data.get("picklists"), dict):
            merged["picklists"] = {**DEFAULT_PICKLISTS, **data["picklists"]}
        return merged

    def model_post_init(self, context: Any, /) -> None:
        self._entity_by_module = {m.module: entity for entity, m in self.entities.items()}
        for key, picklist in self.picklists.items():
            entity, _, field = key.partition(".")
            index = {fold(value): value for value in picklist.values}
            self._picklists_of.setdefault(entity, {})[field] = (picklist, index)

    def entity_for_module(self, module: str) -> str | None:
        return self._entity_by_module.get(module)

    def picklists_of(self, entity: str) -> dict[str, tuple[Picklist, dict[str, str]]]:
        """Every field of `entity` that has a picklist: the picklist and its folded-value index, by field."""
        return self._picklists_of.get(entity, {})


DEFAULT_MAPPING = TenantMapping()


@lru_cache(maxsize=256)
def _built(overrides: bytes) -> TenantMapping:
    return TenantMapping(**orjson.loads(overrides)) if overrides != b"{}" else DEFAULT_MAPPING


def mapping_of(secrets: TenantSecrets | None) -> TenantMapping:
    """A tenant's effective mapping; built once per distinct configuration (validation is not cheap)."""
    if secrets is None or not secrets.mapping:
        return DEFAULT_MAPPING
    return _built(orjson.dumps(secrets.mapping, option=orjson.OPT_SORT_KEYS))


def accepted_modules(secrets: TenantSecrets) -> list[str]:
    """The Zoho modules a tenant may send: configured, or those of its field mapping."""
    if secrets.zoho_modules is not None:
        return secrets.zoho_modules
    return [m.module for m in mapping_of(secrets).entities.values()]
