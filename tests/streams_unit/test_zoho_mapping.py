"""Zoho bodies: shapes, field-name variants, lookups, ids, picklists, validation, deletes, tenants."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from schemas.mapping import TenantMapping
from tests.streams_unit.support import FORM, dead, events, one_dead, one_event, parse, student, zoho_event


def student_payload(record: dict[str, Any], mapping: TenantMapping | None = None) -> dict[str, Any]:
    kwargs = {} if mapping is None else {"mapping": mapping}
    ev = one_event(parse("zoho", "BTEC_Students", {"data": [record]}, **kwargs))
    assert ev.payload is not None
    return ev.payload


@pytest.mark.parametrize("field", ["Full_Name", "Full Name"])
def test_full_name_variants(field: str) -> None:
    assert student_payload(student(First_Name=None, Last_Name=None, **{field: " Omar  Nasser "}))["full_name"] == \
        "Omar  Nasser"


def test_full_name_falls_back_to_first_and_last() -> None:
    assert student_payload(student())["full_name"] == "Lina Haddad"


@pytest.mark.parametrize("field", ["Academic_Email", "Academic Email", "Email", "email"])
def test_academic_email_variants(field: str) -> None:
    record = student(**{"Academic_Email": None, field: "Omar.Nasser@ABCHORIZON.com"})
    # The domain part is case-insensitive and comes out lower-cased.
    assert student_payload(record)["academic_email"] == "Omar.Nasser@abchorizon.com"


def test_academic_email_preferred_over_personal_email() -> None:
    payload = student_payload(student(Email="lina@gmail.com"))
    assert payload["academic_email"] == "lina.haddad@abchorizon.com"
    assert payload["email"] == "lina@gmail.com"


def test_empty_preferred_variant_falls_through_to_the_next() -> None:
    assert student_payload(student(Academic_Email="  ", Email="x.y@abchorizon.com"))["academic_email"] == \
        "x.y@abchorizon.com"


def test_preferred_variant_wins_wherever_it_stands_in_the_body() -> None:
    record = student(Academic_Email=None)
    # The less preferred variant first in the body, the preferred one last: the body's order does not decide.
    body = {"email": "late.variant@abchorizon.com", **record, "Academic_Email": "first.choice@abchorizon.com"}
    assert student_payload(body)["academic_email"] == "first.choice@abchorizon.com"


def test_moodle_id_variant_and_numbers_become_strings() -> None:
    assert student_payload(student(Moodle_User_ID=412))["moodle_user_id"] == "412"
    assert student_payload(student(Student_Moodle_ID="413", Moodle_User_ID="999"))["moodle_user_id"] == "413"


def test_lookup_as_object_or_bare_id_gives_the_same_id() -> None:
    base = {"id": "4876876000000700001", "Classes": {"id": "4876876000000600001", "name": "IT-L3-2026A"},
            "Start_Date": "2026-09-01"}
    as_object = one_event(parse("zoho", "BTEC_Enrollments", {"data": [
        {**base, "Enrolled_Students": {"id": "4876876000000412001", "name": "Lina Haddad"}}]}))
    as_bare = one_event(parse("zoho", "BTEC_Enrollments", {"data": [
        {**base, "Enrolled_Students": "4876876000000412001"}]}))
    assert as_object.payload is not None and as_bare.payload is not None
    assert as_object.payload["student_id"] == as_bare.payload["student_id"] == "4876876000000412001"
    assert as_object.payload["student_name"] == "Lina Haddad" and as_bare.payload["student_name"] is None
    assert as_object.payload["class_id"] == "4876876000000600001"


def test_float_ids_are_rejected_integer_ids_accepted() -> None:
    letter = one_dead(parse("zoho", "BTEC_Students", {"data": [student(id=4.876876000000412e18)]}))
    assert letter.errors[0].field == "id" and "precision" in letter.errors[0].message
    # A JSON integer is exact, so it is accepted and becomes text.
    assert one_event(parse("zoho", "BTEC_Students", b'{"data": [{"id": 4876876000000412001, '
                           b'"Academic_Email": "a.b@abchorizon.com"}]}')).entity_id == "4876876000000412001"


def test_lookup_with_float_id_is_rejected() -> None:
    record = {"id": "4876876000000700001", "Enrolled_Students": {"id": 4.876876000000412e18},
              "Classes": "4876876000000600001"}
    letter = one_dead(parse("zoho", "BTEC_Enrollments", {"data": [record]}))
    assert letter.errors[0].field == "Enrolled_Students"


@pytest.mark.parametrize(("given", "stored"), [("active", "Active"), ("ACTIVE", "Active"), (" Graduated ", "Graduated"),
                                               ("freezed", "Freezed"), ("welcome  letter sent", "Welcome Letter Sent")])
def test_student_status_case_is_normalised(given: str, stored: str) -> None:
    assert student_payload(student(Status=given))["status"] == stored


def test_unknown_student_status_is_rejected() -> None:
    letter = one_dead(parse("zoho", "BTEC_Students", {"data": [student(Status="Sleeping")]}))
    assert letter.reason == "invalid_record"
    assert [(e.field, e.value) for e in letter.errors] == [("Status", "Sleeping")]
    assert "allowed values" in letter.errors[0].message


def test_unknown_open_picklist_value_is_kept_and_flagged() -> None:
    record = {"id": "4876876000000600009", "Class_Name": "IT-L3-2026B", "Class_Status": "On Hold"}
    ev = one_event(parse("zoho", "BTEC_Classes", {"data": [record]}))
    assert ev.payload is not None and ev.payload["status"] == "On Hold"
    assert ev.warnings == ("Class_Status: unknown picklist value 'On Hold' kept",)


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        (student(Academic_Email=None), "Academic_Email", "is required"),
        (student(Academic_Email="lina.haddad@"), "Academic_Email", "not a valid email"),
        (student(Academic_Email="not-an-email"), "Academic_Email", "not a valid email"),
        (student(First_Name=" L "), "First_Name", "at least 2 characters"),
        (student(Email="x@"), "Email", "not a valid email"),
        (student(id=None), "id", "is required"),
        (student(Modified_Time="yesterday"), "Modified_Time", "date-time"),
    ],
)
def test_invalid_students_are_dead_lettered_with_the_field(record: dict[str, Any], field: str, message: str) -> None:
    letter = one_dead(parse("zoho", "BTEC_Students", {"data": [record]}))
    assert letter.reason == "invalid_record"
    assert [e.field for e in letter.errors] == [field]
    assert message in letter.errors[0].message


def test_all_field_errors_of_a_record_are_reported_together() -> None:
    letter = one_dead(parse("zoho", "BTEC_Students", {"data": [student(Academic_Email="bad", Last_Name="H",
                                                                        Status="nope")]}))
    assert sorted(e.field for e in letter.errors) == ["Academic_Email", "Last_Name", "Status"]


def test_batch_of_100_students_with_7_invalid() -> None:
    bad = {3: {"Academic_Email": None}, 10: {"Academic_Email": "broken@"}, 25: {"First_Name": "X"},
           40: {"Status": "Unknown"}, 55: {"id": 1.5}, 70: {"Last_Name": "H"}, 99: {"Email": "two@@at"}}
    records = []
    for i in range(100):
        record = student(id=f"48768760000004{i:05d}", Academic_Email=f"student{i}@abchorizon.com")
        for key, value in bad.get(i, {}).items():
            if value is None:
                record.pop(key)
            else:
                record[key] = value
        records.append(record)
    out = parse("zoho", "BTEC_Students", {"data": records})
    assert len(out) == 100
    assert len(events(out)) == 93
    letters = dead(out)
    assert [d.record_index for d in letters] == sorted(bad)
    reasons = {d.record_index: (d.errors[0].field, d.errors[0].message) for d in letters}
    assert reasons[3] == ("Academic_Email", "is required")
    assert reasons[10][0] == "Academic_Email" and "valid email" in reasons[10][1]
    assert reasons[25] == ("First_Name", "names need at least 2 characters")
    assert reasons[40][0] == "Status"
    assert reasons[55][0] == "id"
    assert reasons[70] == ("Last_Name", "names need at least 2 characters")
    assert reasons[99][0] == "Email"
    assert all(d.record_id == f"48768760000004{d.record_index:05d}" for d in letters if d.record_index != 55)
    assert [e.record_index for e in events(out)] == [i for i in range(100) if i not in bad]


def test_blank_optional_name_counts_as_absent() -> None:
    assert student_payload(student(Last_Name="  "))["last_name"] is None


def _same_events(a: list[Any], b: list[Any]) -> None:
    assert a and b
    assert [(e.event_id, e.fingerprint, e.payload) for e in events(a)] == \
        [(e.event_id, e.fingerprint, e.payload) for e in events(b)]
    assert len(events(a)) == len(a)


def test_json_and_form_with_data_field_give_the_same_events() -> None:
    batch = {"data": [student(), student(id="4876876000000412002", Academic_Email="omar@abchorizon.com")]}
    as_json = parse("zoho", "BTEC_Students", batch)
    as_form = parse("zoho", "BTEC_Students", urlencode({"data": json.dumps(batch["data"])}).encode(),
                    content_type=FORM + "; charset=utf-8")
    _same_events(as_json, as_form)
    assert len(as_json) == 2


def test_json_and_form_with_fields_as_keys_give_the_same_events() -> None:
    record = student(Attempt_Number=None, Student_Moodle_ID="412")
    as_json = parse("zoho", "BTEC_Students", record)
    as_form = parse("zoho", "BTEC_Students", urlencode(record).encode(), content_type=FORM)
    _same_events(as_json, as_form)
    grade = {"id": "4876876000000900777", "Student": "4876876000000412002", "Grade": "Pass", "Attempt_Number": 2}
    _same_events(parse("zoho", "BTEC_Grades", grade),
                 parse("zoho", "BTEC_Grades", urlencode(grade).encode(), content_type=FORM))


def test_single_event_bare_record_and_batch_of_one_agree_on_the_payload() -> None:
    record = student()
    single = one_event(parse("zoho", "BTEC_Students", zoho_event("BTEC_Students", record)))
    bare = one_event(parse("zoho", "BTEC_Students", record))
    batch = one_event(parse("zoho", "BTEC_Students", {"data": [record]}))
    assert single.payload == bare.payload == batch.payload
    assert single.fingerprint == bare.fingerprint == batch.fingerprint


def test_event_without_id_in_data_uses_record_id() -> None:
    body = zoho_event("BTEC_Students", student(id=None))
    body["record_id"] = "4876876000000412077"
    assert one_event(parse("zoho", "BTEC_Students", body)).entity_id == "4876876000000412077"


def test_delete_event_becomes_a_deleted_event() -> None:
    out = parse("zoho", "BTEC_Students", zoho_event("BTEC_Students", {"id": "4876876000000412001"}, "delete"))
    ev = one_event(out)
    assert (ev.event_type, ev.entity_id, ev.payload) == ("StudentDeleted", "4876876000000412001", None)
    assert ev.deleted
    grade = one_event(parse("zoho", "BTEC_Grades", zoho_event("BTEC_Grades", {
        "id": "4876876000000900777", "Moodle_Grade_Composite_Key": "412_1305"}, "delete")))
    assert (grade.event_type, grade.entity_id) == ("GradeDeleted", "412_1305")


def test_notification_ids_with_delete_delete_each_record() -> None:
    body = {"module": "BTEC_Payments", "operation": "delete", "ids": ["4876876000000800001", "4876876000000800002"]}
    out = parse("zoho", "BTEC_Payments", body)
    assert [(e.event_type, e.entity_id) for e in events(out)] == [
        ("PaymentDeleted", "4876876000000800001"), ("PaymentDeleted", "4876876000000800002")]


def test_prior_system_pointer_without_data_is_dead_lettered() -> None:
    letter = one_dead(parse("zoho", "BTEC_Students", {"zoho_id": "4876876000000412001", "module": "BTEC_Students"}))
    assert letter.reason == "pointer_without_data"
    assert letter.record_id == "4876876000000412001"
    assert "never calls Zoho" in letter.message
    form = one_dead(parse("zoho", "BTEC_Students", b"zoho_id=4876876000000412001&module=BTEC_Students",
                          content_type=FORM))
    assert form.reason == "pointer_without_data"


def test_unknown_module_and_unknown_operation() -> None:
    assert one_dead(parse("zoho", "Leads", student())).reason == "unknown_module"
    assert one_dead(parse("zoho", "BTEC_Students", zoho_event("BTEC_Students", student(), "merge"))).reason == \
        "unsupported_operation"


def test_email_domain_rule_is_off_by_default_and_per_tenant() -> None:
    record = student(Academic_Email="lina@gmail.com")
    assert one_event(parse("zoho", "BTEC_Students", record)).payload is not None
    strict = TenantMapping(academic_email_domains=("abchorizon.com",))
    letter = one_dead(parse("zoho", "BTEC_Students", record, mapping=strict))
    assert letter.errors[0].field == "Academic_Email" and "abchorizon.com" in letter.errors[0].message
    assert one_event(parse("zoho", "BTEC_Students", student(Academic_Email="a.b@students.abchorizon.com"),
                           mapping=strict))


def test_customised_tenant_renames_module_and_field() -> None:
    custom = TenantMapping.model_validate({
        "entities": {"student": {"module": "Learners", "fields": {"academic_email": ["College_Mail"]}}},
    })
    record = student(Academic_Email=None, College_Mail="lina.haddad@abchorizon.com")
    ev = one_event(parse("zoho", "Learners", record, mapping=custom))
    assert ev.entity == "student" and ev.payload is not None
    assert ev.payload["academic_email"] == "lina.haddad@abchorizon.com"
    assert ev.payload["full_name"] == "Lina Haddad"  # untouched fields keep their defaults
    # The default name is no longer this tenant's module, nor its field.
    assert one_dead(parse("zoho", "BTEC_Students", record, mapping=custom)).reason == "unknown_module"
    letter = one_dead(parse("zoho", "Learners", student(), mapping=custom))
    assert letter.errors[0].field == "College_Mail"


def test_customised_picklist_and_subform_fields() -> None:
    custom = TenantMapping.model_validate({
        "picklists": {"student.status": {"values": ["Enrolled", "Left"], "closed": True}},
        "entities": {"registration": {"subform_fields": {"amount": ["Amount_Due"]}}},
    })
    assert student_payload(student(Status="enrolled"), custom)["status"] == "Enrolled"
    assert one_dead(parse("zoho", "BTEC_Students", {"data": [student()]}, mapping=custom)).errors[0].field == "Status"
    reg = {"id": "4876876000000200001", "Student_ID": "4876876000000412001", "Program": "4876876000000300001",
           "Payment_Schedule": [{"Installment_No": 1, "Amount_Due": "500"}]}
    ev = one_event(parse("zoho", "BTEC_Registrations", reg, mapping=custom))
    assert ev.payload is not None and ev.payload["payment_schedule"][0]["amount"] == "500"


def test_registration_with_payment_schedule() -> None:
    record = {
        "id": "4876876000000200001", "Student_ID": {"id": "4876876000000412001", "name": "Lina Haddad"},
        "Program": {"id": "4876876000000300001", "name": "BTEC L3 IT"}, "Registration_Date": "2026-09-01",
        "Registration_Status": "active", "Program_Price": "4500.00", "Currency": "usd",
        "Payment_Schedule": [
            {"Installment_No": 2, "Due_Date": "2026-12-01", "Installment_Amount": 1500, "Installment_Status": "Due"},
            {"Installment_No": "1", "Due_Date": "2026-09-01", "Installment_Amount": "1500.50",
             "Installment_Status": "Paid", "Paid_Date": "2026-09-02"},
        ],
    }
    ev = one_event(parse("zoho", "BTEC_Registrations", {"data": [record]}))
    p = ev.payload
    assert p is not None and ev.event_type == "RegistrationUpserted"
    assert (p["student_id"], p["program_id"], p["program_name"]) == (
        "4876876000000412001", "4876876000000300001", "BTEC L3 IT")
    assert (p["status"], p["currency"], p["program_price"]) == ("Active", "USD", "4500.00")
    assert [(r["installment_no"], r["amount"], str(r["due_date"])) for r in p["payment_schedule"]] == [
        (1, "1500.50", "2026-09-01"), (2, "1500", "2026-12-01")]
    bad = {**record, "Payment_Schedule": [{"Installment_No": 1, "Due_Date": "soon"}]}
    letter = one_dead(parse("zoho", "BTEC_Registrations", {"data": [bad]}))
    assert letter.errors[0].field == "Payment_Schedule[0].Due_Date"


def test_required_lookups_of_dependent_entities() -> None:
    enrollment = one_dead(parse("zoho", "BTEC_Enrollments", {"data": [{"id": "4876876000000700001"}]}))
    assert sorted(e.field for e in enrollment.errors) == ["Classes", "Enrolled_Students"]
    payment = one_dead(parse("zoho", "BTEC_Payments", {"data": [{"id": "4876876000000800001", "Payment_Amount": 10}]}))
    assert [e.field for e in payment.errors] == ["Registration_ID"]


def test_payment_unit_class_teacher_map() -> None:
    pay = one_event(parse("zoho", "BTEC_Payments", {"data": [{
        "id": "4876876000000800001", "Name": "PAY-0001", "Registration_ID": {"id": "4876876000000200001"},
        "Student_ID": "4876876000000412001", "Payment_Amount": 1500.5, "Payment_Date": "2026-09-02",
        "Payment_Method": "bank transfer", "Installment_No": 1}]}))
    assert pay.payload is not None
    assert (pay.payload["amount"], pay.payload["method"], pay.payload["registration_id"]) == (
        "1500.5", "Bank Transfer", "4876876000000200001")
    unit = one_event(parse("zoho", "BTEC", {"data": [{
        "id": "4876876000000500001", "Name": "Unit 1: Networking", "Unit_Credit": "15",
        "Program": {"id": "4876876000000300001", "name": "L3 IT"}, "M1_description": "Compare standards",
        "P1_description": " Explain network types ", "D1_description": "", "P2_description": "Describe protocols"}]}))
    assert unit.payload is not None
    assert unit.payload["criteria"] == [
        {"code": "P1", "description": "Explain network types"}, {"code": "P2", "description": "Describe protocols"},
        {"code": "M1", "description": "Compare standards"}]
    assert (unit.payload["unit_credit"], unit.payload["program_id"]) == (15, "4876876000000300001")
    klass = one_event(parse("zoho", "BTEC_Classes", {"data": [{
        "id": "4876876000000600001", "Class_Name": "IT-L3-2026A", "BTEC_Program": "4876876000000300001",
        "Unit": {"id": "4876876000000500001", "name": "Unit 1"}, "Teacher": "4876876000000100001",
        "Moodle_Class_ID": 77, "Class_Status": "active", "Start_Date": "2026-09-01"}]}))
    assert klass.payload is not None
    assert (klass.payload["moodle_course_id"], klass.payload["unit_id"], klass.payload["status"]) == (
        "77", "4876876000000500001", "Active")
    teacher = one_event(parse("zoho", "BTEC_Teachers", {"data": [{
        "id": "4876876000000100001", "Full Name": "Rania Khoury", "Academic_Email": "rania@abchorizon.com",
        "Teacher_Moodle_ID": "19"}]}))
    assert teacher.payload is not None and teacher.payload["name"] == "Rania Khoury"


def test_zoho_grade_letters_long_forms_and_unknowns() -> None:
    def letter_of(value: str) -> tuple[str | None, tuple[str, ...]]:
        ev = one_event(parse("zoho", "BTEC_Grades", {"data": [{"id": "4876876000000900777", "Grade": value}]}))
        assert ev.payload is not None
        return ev.payload["letter"], ev.warnings

    assert letter_of("Distinction")[0] == "D"
    assert letter_of("merit")[0] == "M"
    assert letter_of("RR")[0] == "RR"
    assert letter_of("Double Refer")[0] == "RR"
    assert letter_of("Failed to Submit")[0] == "F"
    assert letter_of("N/A") == (None, ("grade: unknown Grade value 'N/A' kept out of the letter",))


def test_zoho_grade_learning_outcomes_subform_merged_by_code() -> None:
    ev = one_event(parse("zoho", "BTEC_Grades", {"data": [{
        "id": "4876876000000900777", "Moodle_Grade_Composite_Key": "412_1305", "Attempt_Number": "2",
        "Learning_Outcomes_Assessm": [
            {"LO_Code": "M1", "LO_Score": "1"}, {"LO_Code": "p1", "LO_Definition": "Explain"},
            {"LO_Code": "P1", "LO_Score": 1, "LO_Feedback": "ok"}]}]}))
    assert ev.entity_id == "412_1305"
    assert ev.payload is not None and ev.payload["attempt_number"] == 2
    assert [(lo["code"], lo["description"], lo["score"], lo["feedback"]) for lo in ev.payload["learning_outcomes"]] \
        == [("P1", "Explain", 1.0, "ok"), ("M1", None, 1.0, None)]


def test_epoch_timestamps_are_accepted() -> None:
    body = zoho_event("BTEC_Students", student(Modified_Time=1_793_600_043_000))
    body["timestamp"] = 1_793_600_045
    ev = one_event(parse("zoho", "BTEC_Students", body))
    assert (ev.occurred_at_ms, ev.source_version) == (1_793_600_045_000, 1_793_600_043_000)
