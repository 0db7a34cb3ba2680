"""Per-module field metadata and the college org's default modules (docs/zoho-api.md#college-modules)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FieldType = Literal[
    "text", "textarea", "email", "phone", "integer", "decimal", "boolean", "date", "datetime",
    "picklist", "multiselectpicklist", "lookup", "subform", "autonumber",
]

# Zoho's documented maxima; a field's own `length` may only be lower.
DEFAULT_LENGTH: dict[str, int] = {"text": 255, "textarea": 2000, "email": 100, "phone": 30, "picklist": 255}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FieldType = "text"
    length: int | None = None
    mandatory: bool = False
    unique: bool = False
    case_sensitive: bool = False
    values: list[str] | None = None
    reject_unknown_picklist: bool = True
    lookup: str | None = None
    fields: dict[str, FieldSpec] | None = None
    prefix: str = ""

    @property
    def max_length(self) -> int | None:
        return self.length if self.length is not None else DEFAULT_LENGTH.get(self.type)


class ModuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The record-name field: shown as a lookup's `name` and the system duplicate-check field of upsert.
    name_field: str = "Name"
    fields: dict[str, FieldSpec] = Field(default_factory=dict)

    def unique_fields(self) -> list[str]:
        return [name for name, spec in self.fields.items() if spec.unique]

    def renamed_targets(self, renames: dict[str, str]) -> ModuleSpec:
        if not renames:
            return self
        fields = {name: spec.model_copy(update={"lookup": renames.get(spec.lookup, spec.lookup)}) if spec.lookup
                  else spec for name, spec in self.fields.items()}
        return self.model_copy(update={"fields": fields})


def _text(length: int = 255, **kw: object) -> FieldSpec:
    return FieldSpec.model_validate({"type": "text", "length": length, **kw})


def _area(**kw: object) -> FieldSpec:
    return FieldSpec.model_validate({"type": "textarea", "length": 2000, **kw})


def _pick(*values: str, **kw: object) -> FieldSpec:
    return FieldSpec.model_validate({"type": "picklist", "values": list(values), **kw})


def _of(type_: FieldType, **kw: object) -> FieldSpec:
    return FieldSpec.model_validate({"type": type_, **kw})


def _lookup(target: str, **kw: object) -> FieldSpec:
    return FieldSpec.model_validate({"type": "lookup", "lookup": target, **kw})


def _sync_fields() -> dict[str, FieldSpec]:
    return {"Synced_to_Moodle": _of("boolean"), "Last_Sync_Date": _of("datetime")}


STUDENT_STATUS = ("Pending", "Passive", "Enrollment Form", "approved", "approved-conditional", "Active", "Freezed",
                  "Withdraw", "Graduated", "Blocked", "Revive", "Welcome Letter Sent", "Student Certificate Sent",
                  "Graduate Form Sent", "Account Creation", "Registered", "Unregistered")
GRADE_STATUS = ("Not Marked", "In Marking", "Marking completed", "In review", "Ready for release", "Released")
LO_ROW = {
    "LO_Code": _text(), "LO_Outcome_Identification": _text(), "LO_Definition": _area(), "LO_Title": _text(),
    "LO_Score": _text(), "LO_Feedback": _area(),
}
PAYMENT_ROW = {
    "Installment_No": _of("integer"), "Due_Date": _of("date"), "Installment_Amount": _of("decimal"),
    "Installment_Status": _text(), "Paid_Date": _of("date"),
}


def _criteria_texts() -> dict[str, FieldSpec]:
    names = ([f"P{i}_description" for i in range(1, 11)] + [f"M{i}_description" for i in range(1, 10)]
             + [f"D{i}_description" for i in range(1, 7)])
    return {name: _area() for name in names}


def default_modules() -> dict[str, ModuleSpec]:
    """The college org's modules; mandatory/unique flags are the ones the first integration ran into."""
    return {
        "BTEC_Students": ModuleSpec(fields={
            "Name": _of("autonumber", prefix="STU-"), "First_Name": _text(), "Last_Name": _text(),
            "Display_Name": _text(), "Academic_Email": _of("email", mandatory=True, unique=True),
            "Email": _of("email"), "Phone_Number": _of("phone"), "Address": _area(), "City": _text(),
            "Nationality": _text(), "Birth_Date": _of("date"), "Gender": _pick("-None-", "Male", "Female"),
            "Emergency_Contact_Name": _text(), "Emergency_Phone_Number": _of("phone"),
            "Status": _pick(*STUDENT_STATUS), "Student_Moodle_ID": _text(unique=True), "National_Number": _text(),
            "Major": _text(), "Sub_Major": _text(), **_sync_fields(),
        }),
        "Products": ModuleSpec(name_field="Product_Name", fields={
            "Product_Name": _text(mandatory=True), "Program_ID": _of("autonumber", prefix="PRG-"),
            "Program_Price": _of("decimal"), "Unit_Price": _of("decimal"),
            "Status": _pick("Draft", "Approved", "Sent"), "Program_Type": _text(), "Program_Major": _text(),
            "Program_Sub_Major": _text(), "MoodleID": _text(),
        }),
        "BTEC": ModuleSpec(fields={
            "Name": _text(mandatory=True), "Unit_Code": _text(), "Unit_Number": _text(), "Unit_Credit": _text(),
            "Unit_Major": _text(), "Unit_Level": _pick("Level 3", "Level 5", "Level 7"),
            "Program": _lookup("Products"), "Moodle_Grading_Template": _text(),
            "Last_Sync_with_Moodle": _of("datetime"), **_criteria_texts(),
        }),
        "BTEC_Classes": ModuleSpec(name_field="Class_Name", fields={
            "Class_Name": _text(mandatory=True), "Class_Short_Name": _text(), "BTEC_Program": _lookup("Products"),
            "Unit": _lookup("BTEC"), "Teacher": _lookup("BTEC_Teachers"), "Moodle_Class_ID": _text(),
            "Class_Status": _pick("Pending", "Active", "Initial Evaluation", "Final Evaluation", "Waiting Submission",
                                  "Waiting Resubmission", "End"),
            "Start_Date": _of("date"), "End_Date": _of("date"), "Term": _pick("T1", "T2", "T3", "T4"),
            "Year": _text(),
        }),
        "BTEC_Teachers": ModuleSpec(fields={
            "Name": _text(mandatory=True), "Email": _of("email"), "Academic_Email": _of("email", unique=True),
            "Phone_Number": _of("phone"), "Teacher_Moodle_ID": _text(unique=True),
        }),
        "BTEC_Enrollments": ModuleSpec(fields={
            "Name": _of("autonumber", prefix="ENR-"), "Enrolled_Students": _lookup("BTEC_Students"),
            "Classes": _lookup("BTEC_Classes"), "Start_Date": _of("date"), "End_Date": _of("date"),
            "Enrollment_Type": _pick("Normal", "Recording", "Self-Study", "Not Graded"), "Student_Name": _text(),
            "Class_Name": _text(), "Enrolled_Program": _text(), "Class_Teacher": _text(),
            "Moodle_Course_ID": _text(),
            # Not in the college's org: the field a college adds ("Do not allow duplicate values") so the
            # sink can upsert Moodle enrolments, `{moodle_user_id}_{course_id}`.
            "Moodle_Enrollment_Key": _text(unique=True), **_sync_fields(),
        }),
        "BTEC_Registrations": ModuleSpec(fields={
            "Name": _of("autonumber", prefix="REG-"), "Student_ID": _lookup("BTEC_Students"),
            "Program": _lookup("Products"), "Registration_Date": _of("date"),
            "Registration_Status": _pick("New", "Active", "Graduated", "Freeze", "Blocked", "Withdraw", "Special"),
            "Program_Price": _text(), "Remaining_Amount": _text(), "Currency": _pick("USD", "TRY", "EUR", "GBP"),
            "Study_Mode": _pick("Online", "Onsite", "Blended"), "Student_Status": _text(), "Discount": _text(),
            "BTEC_Reg_No": _text(), "Payment_Schedule": _of("subform", fields=PAYMENT_ROW), **_sync_fields(),
        }),
        "BTEC_Payments": ModuleSpec(fields={
            "Name": _of("autonumber", prefix="PAY-"), "Registration_ID": _lookup("BTEC_Registrations"),
            "Student_ID": _lookup("BTEC_Students"), "Payment_Amount": _of("decimal"), "Payment_Date": _of("date"),
            "Payment_Method": _pick("Cash", "Bank Transfer"),
            "Payment_Type": _pick("Registration Fees", "Study Fees", "Assignment Remark Fees", "Certificate Fees",
                                  "Books Fees"),
            "Note": _area(), "Installment_No": _of("integer"), **_sync_fields(),
        }),
        "BTEC_Grades": ModuleSpec(fields={
            "Name": _of("autonumber", prefix="GRD-"), "Student": _lookup("BTEC_Students", mandatory=True),
            "Class": _lookup("BTEC_Classes"), "BTEC_Unit": _text(),
            "Grade": _pick("D", "M", "P", "R", "RR", "F", "Mapped"),
            "Grade_Status": _pick(*GRADE_STATUS), "Attempt_Number": _of("integer"), "Attempt_Date": _of("date"),
            "Feedback": _area(), "Grader_Name": _text(), "IV_Name": _text(), "Moodle_Grade_ID": _text(),
            "Moodle_Grade_Composite_Key": _text(unique=True), "BTEC_Grade_Name": _text(), "Student_Name": _text(),
            "Class_Name": _text(), "Learning_Outcomes_Assessm": _of("subform", fields=LO_ROW),
        }),
    }
