"""A college as the webhook requests Zoho and the Moodle plugin send, with the state the system should end in.

The record renderers (`program`, `student`, `moodle_grade`, …) give one body of each kind, shaped like
Zoho's workflow webhooks and the Moodle plugin's events; tests call them for single records. `requests`
renders a whole `model.College` with them, and `plan(seed, students)` is the demo: every request in a
shuffled order with the noise real senders make — redeliveries (same notification id / webhook-id),
unchanged resends (a new id, the same data), field-name variants (`Full_Name` / `Full Name`,
`Academic Email`), lookups as objects or bare ids, form-urlencoded bodies, and a few invalid students.
`Plan.expected` is what a registrar would expect the system to hold afterwards, computed from the model
and the domain rules, not by the system's code, so an end-to-end test can hold one against the other.

The same seed yields the same college, and sending it twice to one tenant changes nothing (every record
the second time is a redelivery or unchanged).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from ops.college.model import FEEDBACK, MOODLE_T0, OUTCOMES, College, Sizes, Student, Teacher, build

Source = Literal["zoho", "moodle"]
# new: first sending of a record; redelivery: the same request again; resend: the same record
# under a new delivery id; invalid: a record the system must dead-letter.
Label = Literal["new", "redelivery", "resend", "invalid"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SITE_URL = "https://lms.college.example"
ZOHO_TIMESTAMP = "2026-09-10T09:14:05+03:00"
MODIFIED_TIME = "2026-09-01T10:00:00+03:00"
# A whole 19-digit Zoho id in a body. Delivery ids (`<id>-n`) hold ids no record has, so a rebase leaves them.
_ZOHO_ID = re.compile(r"(?<![0-9])[0-9]{19}(?![0-9])")


# ---- one body of each kind --------------------------------------------------------------------------------


def _lookups(bare: Collection[str], **refs: tuple[str, str]) -> dict[str, Any]:
    """Zoho sends lookups as objects; Functions and older workflows as bare ids (the fields named in `bare`)."""
    return {name: rid if name in bare else {"id": rid, "name": label} for name, (rid, label) in refs.items()}


def notification(module: str, data: dict[str, Any], delivery: str, operation: str = "insert",
                 timestamp: str = ZOHO_TIMESTAMP) -> dict[str, Any]:
    """A Zoho workflow webhook for one record; `delivery` is its notification id."""
    return {"notification_id": delivery, "timestamp": timestamp, "module": module, "operation": operation,
            "record_id": data["id"], "data": data}


def program(pid: str, *, name: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"id": pid, "Product_Name": name or f"BTEC Level 3 IT {pid[-4:]}", "Program_ID": code or f"L3-{pid[-4:]}",
            "Status": "Active"}


def unit(uid: str, pid: str, *, name: str | None = None, code: str | None = None, number: int | None = None,
         program_name: str = "Program", bare: Collection[str] = ()) -> dict[str, Any]:
    data = {"id": uid, "Name": name or f"Unit {uid[-4:]}", "Unit_Code": code or f"U{uid[-4:]}",
            **_lookups(bare, Program=(pid, program_name))}
    if number is not None:
        data |= {"Unit_Number": str(number), "Unit_Credit": 60,
                 **{f"{code}_description": text for code, text, _ in OUTCOMES}}
    return data


def klass(cid: str, uid: str, pid: str, course: int | None = None, *, name: str | None = None,
          short_name: str | None = None, unit_name: str = "Unit", program_name: str = "Program",
          teacher: Teacher | None = None, start: date | None = None, end: date | None = None,
          bare: Collection[str] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {"id": cid, "Class_Name": name or f"IT-{cid[-4:]}",
                            **_lookups(bare, BTEC_Program=(pid, program_name), Unit=(uid, unit_name)),
                            "Class_Status": "Active"}
    if short_name is not None:
        data["Class_Short_Name"] = short_name
    if teacher is not None:
        data["Teacher"] = {"id": teacher.zoho_id, "name": teacher.name}
    if course is not None:
        data["Moodle_Class_ID"] = str(course)
    if start is not None and end is not None:
        data |= {"Start_Date": start.isoformat(), "End_Date": end.isoformat()}
    return data


def teachers(batch: Collection[Teacher]) -> dict[str, Any]:
    """A Zoho Function's batch upsert of teachers."""
    return {"operation": "upsert", "data": [
        {"id": t.zoho_id, "Name": t.name, "Email": t.email, "Teacher_Moodle_ID": str(t.moodle_user_id)}
        for t in batch]}


def student(sid: str, email: str, moodle_id: int | None = None, *, number: str | None = None,
            first: str = "Lina", last: str = "Haddad", status: str = "Active", full_name_key: str | None = None,
            email_key: str = "Academic_Email", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": sid, "Name": number or f"STU-{sid[-5:]}", "First_Name": first, "Last_Name": last,
                            email_key: email, "Status": status, "Modified_Time": MODIFIED_TIME, **fields}
    if full_name_key is not None:
        data[full_name_key] = f"{first} {last}"
    if moodle_id is not None:
        data["Student_Moodle_ID"] = str(moodle_id)
    return data


def registration(rid: str, sid: str, pid: str, *, student_name: str = "Lina Haddad", program_name: str = "Program",
                 price: str = "4000", bare: Collection[str] = (), **fields: Any) -> dict[str, Any]:
    return {"id": rid, **_lookups(bare, Student_ID=(sid, student_name), Program=(pid, program_name)),
            "Registration_Status": "Active", "Currency": "USD", "Program_Price": price, **fields}


def payment(pay_id: str, rid: str, sid: str, *, number: str, installment: int, amount: str, paid: date,
            method: str, student_name: str = "Lina Haddad", bare: Collection[str] = ()) -> dict[str, Any]:
    return {"id": pay_id, "Name": number,
            **_lookups(bare, Registration_ID=(rid, f"REG-{number}"), Student_ID=(sid, student_name)),
            "Payment_Amount": amount, "Payment_Date": paid.isoformat(), "Payment_Method": method,
            "Payment_Type": "Study Fees", "Installment_No": installment}


def enrollment(eid: str, sid: str, cid: str, course: int, *, start: date, student_name: str = "Lina Haddad",
               class_name: str = "Class", bare: Collection[str] = ()) -> dict[str, Any]:
    return {"id": eid, **_lookups(bare, Enrolled_Students=(sid, student_name), Classes=(cid, class_name)),
            "Start_Date": start.isoformat(), "Enrollment_Type": "Normal", "Moodle_Course_ID": str(course)}


def zoho_grade(gid: str, sid: str, cid: str, letter: str = "Merit", attempt: int = 1, *,
               student_name: str = "Lina Haddad", class_name: str = "IT", feedback: str = "Good work",
               attempt_date: str = "2026-10-30", bare: Collection[str] = (), **fields: Any) -> dict[str, Any]:
    return {"id": gid, **_lookups(bare, Student=(sid, student_name), Class=(cid, class_name)), "Grade": letter,
            "Attempt_Number": attempt, "Attempt_Date": attempt_date, "Feedback": feedback, **fields}


def moodle_event(event_type: str, event_id: str, timestamp: int, data: dict[str, Any]) -> dict[str, Any]:
    """A Moodle plugin event; `event_id` is also the Standard Webhooks message id it is signed with."""
    return {"event_id": event_id, "event_type": event_type, "timestamp": timestamp, "site_url": SITE_URL,
            "data": data}


def moodle_user(muid: int, email: str, event_id: str, *, first: str = "Lina", last: str = "Haddad",
                idnumber: str = "", timestamp: int = 1762060000) -> dict[str, Any]:
    return moodle_event("user_created", event_id, timestamp, {
        "moodle_user_id": muid, "username": email.split("@")[0].lower(), "email": email, "firstname": first,
        "lastname": last, "idnumber": idnumber})


def moodle_enrolment(muid: int, course: int, enrolment: int, event_id: str, event: str = "enrollment_created",
                     timestamp: int = 1762061000, time_start: int = 1762060800,
                     course_idnumber: str = "") -> dict[str, Any]:
    return moodle_event(event, event_id, timestamp, {
        "enrolment_id": enrolment, "moodle_user_id": muid, "course_id": course, "course_idnumber": course_idnumber,
        "role": "student", "status": 0, "time_start": time_start})


def moodle_grade(muid: int, course: int, assignment: int, score: float, event_id: str, attempt: int = 1,
                 role: str = "teacher", *, graded_at: int | None = None, grader_id: int = 19,
                 grader_name: str = "Rania Khoury", course_idnumber: str = "",
                 outcomes: Collection[tuple[str, str, bool]] = (("P1", "Explain", True),)) -> dict[str, Any]:
    """A graded attempt; each learning outcome is (code, description, met): a met criterion scores 1 of 1."""
    graded = graded_at if graded_at is not None else 1762064095 + attempt
    return moodle_event("grade_updated", event_id, graded, {
        "moodle_user_id": muid, "course_id": course, "course_idnumber": course_idnumber, "assignment_id": assignment,
        "assignment_name": "Assignment 1",
        "grade_id": assignment * 10 + attempt, "raw_grade": score, "grade_max": 100.0, "attempt_number": attempt,
        "time_graded": graded, "grader": {"moodle_user_id": grader_id, "full_name": grader_name, "role": role},
        "feedback": FEEDBACK,
        "learning_outcomes": [{"code": code, "description": text, "score": "1.00000" if met else "0.00000",
                               "feedback": "Achieved" if met else "Not yet"} for code, text, met in outcomes]})


# ---- a whole college --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRequest:
    source: Source
    kind: str  # Zoho module or Moodle event: the last segment of the path
    entity: str  # the canonical entity the record is about
    body: bytes
    content_type: str
    label: Label
    webhook_id: str | None = None  # Moodle: the Standard Webhooks message id it is signed with
    records: int = 1  # records in the body: more than one in a Zoho Function batch

    @property
    def path(self) -> str:
        return f"/webhooks/{self.source}/{self.kind}"


@dataclass(frozen=True)
class ExpectedStudent:
    zoho_id: str
    email: str
    moodle_user_id: str
    linked_by: Literal["student_moodle_id", "email"]


@dataclass(frozen=True)
class ExpectedOutcome:
    """One learning-outcome row of a Moodle grade attempt, in the order the plugin sends them."""

    code: str
    score: float
    feedback: str
    achieved: bool


@dataclass
class Expected:
    students: dict[str, ExpectedStudent] = field(default_factory=dict)
    # Zoho id → why the student is invalid.
    invalid_students: dict[str, str] = field(default_factory=dict)
    # (composite key, attempt) → letter, for every Moodle grade attempt.
    moodle_attempts: dict[tuple[str, int], str] = field(default_factory=dict)
    # (composite key, attempt) → its learning outcomes.
    moodle_outcomes: dict[tuple[str, int], list[ExpectedOutcome]] = field(default_factory=dict)
    # Zoho id → letter, for grades entered in Zoho.
    zoho_grades: dict[str, str] = field(default_factory=dict)
    # Moodle user id → Zoho student id.
    links: dict[str, str] = field(default_factory=dict)
    # Canonical entity → distinct ids that should have at least one event.
    entities: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    seed: int
    requests: list[PlannedRequest]
    expected: Expected

    def sent(self) -> dict[str, Counter[Label]]:
        """entity → label → requests, for the summary."""
        out: dict[str, Counter[Label]] = {}
        for r in self.requests:
            out.setdefault(r.entity, Counter())[r.label] += 1
        return out


class _Renderer:
    def __init__(self, college: College, rng: random.Random) -> None:
        self.college = college
        self.rng = rng
        self.requests: list[PlannedRequest] = []
        self._deliveries = 0

    def delivery_id(self) -> str:
        self._deliveries += 1
        return f"{self.college.ids.zoho()}-{self._deliveries}"

    def bare(self, *fields: str) -> set[str]:
        return {f for f in fields if self.rng.random() < 0.25}

    def zoho(self, module: str, entity: str, data: dict[str, Any], label: Label = "new", form: bool = False,
             operation: str = "insert") -> PlannedRequest:
        if form:
            # A workflow webhook configured to post the record's fields as form parameters.
            body = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}).encode()
            req = PlannedRequest("zoho", module, entity, body, FORM, label)
        else:
            envelope = notification(module, data, self.delivery_id(), operation)
            req = PlannedRequest("zoho", module, entity, json.dumps(envelope).encode(), JSON, label)
        self.requests.append(req)
        return req

    def moodle(self, entity: str, body: dict[str, Any]) -> PlannedRequest:
        req = PlannedRequest("moodle", body["event_type"], entity, json.dumps(body).encode(), JSON, "new",
                             body["event_id"])
        self.requests.append(req)
        return req

    def moodle_id(self) -> str:
        return f"msg_{self.delivery_id()}"

    def resend(self, req: PlannedRequest) -> None:
        """The same record under a new delivery id: Zoho's workflow fired again, Moodle re-sent the event."""
        body = json.loads(req.body)
        if req.source == "zoho":
            body["notification_id"] = self.delivery_id()
            self.requests.append(replace(req, body=json.dumps(body).encode(), label="resend"))
        else:
            body["event_id"] = self.moodle_id()
            self.requests.append(replace(req, body=json.dumps(body).encode(), label="resend",
                                         webhook_id=body["event_id"]))

    def reference_data(self) -> None:
        c = self.college
        batch = json.dumps(teachers(c.teachers)).encode()
        self.requests.append(PlannedRequest("zoho", "BTEC_Teachers", "teacher", batch, JSON, "new",
                                            records=len(c.teachers)))
        for p in c.programs:
            self.zoho("Products", "program", program(p.zoho_id, name=p.name, code=p.code))
        for u in c.units:
            self.zoho("BTEC", "unit", unit(u.zoho_id, u.program.zoho_id, name=u.name, code=u.code, number=u.number,
                                           program_name=u.program.name, bare=self.bare("Program")))
        for k in c.classes:
            self.zoho("BTEC_Classes", "class", klass(
                k.zoho_id, k.unit.zoho_id, k.program.zoho_id, k.moodle_course_id, name=k.name,
                short_name=k.short_name, unit_name=k.unit.name, program_name=k.program.name,
                teacher=k.teacher, start=k.start, end=k.end, bare=self.bare("BTEC_Program", "Unit")))

    def student(self, s: Student) -> None:
        i, name = s.index, s.full_name
        self.zoho("BTEC_Students", "student", student(
            s.zoho_id, s.academic_email, s.moodle_user_id if s.linked_by == "student_moodle_id" else None,
            number=s.number, first=s.first_name, last=s.last_name, status=s.status,
            full_name_key="Full Name" if i % 3 == 0 else "Full_Name",
            email_key="Academic Email" if i % 4 == 1 else "Academic_Email", Phone_Number=s.phone, City=s.city),
            form=i % 8 == 3)
        r = s.registration
        schedule = [{"Installment_No": n.number, "Due_Date": n.due.isoformat(), "Installment_Amount": n.amount,
                     "Installment_Status": "Paid" if n.paid else "Pending"} for n in r.schedule]
        self.zoho("BTEC_Registrations", "registration", registration(
            r.zoho_id, s.zoho_id, r.program.zoho_id, student_name=name, program_name=r.program.name,
            price=r.price, bare=self.bare("Student_ID", "Program"), Currency=r.currency,
            Registration_Date=r.registered.isoformat(),
            Study_Mode=r.study_mode, Payment_Schedule=schedule))
        for p in s.payments:
            self.zoho("BTEC_Payments", "payment", payment(
                p.zoho_id, r.zoho_id, s.zoho_id, number=p.number, installment=p.installment, amount=p.amount,
                paid=p.paid, method=p.method, student_name=name, bare=self.bare("Registration_ID", "Student_ID")))
        self.moodle("moodle_user", moodle_user(s.moodle_user_id, s.moodle_email, self.moodle_id(), first=s.first_name,
                                               last=s.last_name, idnumber=s.number, timestamp=MOODLE_T0 + i))
        for e in s.enrollments:
            k = e.klass
            self.zoho("BTEC_Enrollments", "enrollment", enrollment(
                e.zoho_id, s.zoho_id, k.zoho_id, k.moodle_course_id, start=k.start, student_name=name,
                class_name=k.name, bare=self.bare("Enrolled_Students", "Classes")), form=i % 8 == 5)
            if e.withdrawn:
                self.zoho("BTEC_Enrollments", "enrollment", {"id": e.zoho_id}, operation="delete")
            self.moodle("moodle_enrollment", moodle_enrolment(s.moodle_user_id, k.moodle_course_id,
                                                              e.moodle_enrolment_id, self.moodle_id(),
                                                              timestamp=MOODLE_T0 + 3600 + i,
                                                              time_start=MOODLE_T0))
            for g in (g for g in s.grades if g.klass == k):
                for a in g.attempts:
                    self.moodle("grade", moodle_grade(
                        s.moodle_user_id, k.moodle_course_id, g.assignment_id, a.score, self.moodle_id(), a.number,
                        a.grader_role, graded_at=a.graded_at, grader_id=k.teacher.moodle_user_id,
                        grader_name=k.teacher.name, outcomes=[(o.code, o.description, o.achieved)
                                                              for o in a.outcomes]))
        for eg in s.earlier_grades:
            self.zoho("BTEC_Grades", "grade", zoho_grade(
                eg.zoho_id, s.zoho_id, eg.klass.zoho_id, eg.grade, student_name=name, class_name=eg.klass.name,
                feedback="Transferred from the previous term", attempt_date="2026-06-20",
                bare=self.bare("Student", "Class"), Grade_Status="Released"))


def _render(college: College, rng: random.Random) -> _Renderer:
    r = _Renderer(college, rng)
    r.reference_data()
    for s in college.students:
        r.student(s)
    return r


def requests(college: College) -> list[PlannedRequest]:
    """Every record of the college once, as its sender sends it: reference data first, then student by student."""
    return _render(college, random.Random(college.seed)).requests


def expected(college: College) -> Expected:
    """What the system should hold once every record of the college has been sent."""
    exp = Expected()
    for s in college.students:
        exp.students[s.zoho_id] = ExpectedStudent(s.zoho_id, s.academic_email, str(s.moodle_user_id), s.linked_by)
        exp.links[str(s.moodle_user_id)] = s.zoho_id
        for g in s.grades:
            for a in g.attempts:
                exp.moodle_attempts[(g.key, a.number)] = a.letter
                exp.moodle_outcomes[(g.key, a.number)] = [
                    ExpectedOutcome(o.code, 1.0 if o.achieved else 0.0, "Achieved" if o.achieved else "Not yet",
                                    o.achieved) for o in a.outcomes]
        for eg in s.earlier_grades:
            exp.zoho_grades[eg.zoho_id] = eg.grade[0]
    students = college.students
    exp.entities = {
        "program": len(college.programs), "unit": len(college.units), "class": len(college.classes),
        "teacher": len(college.teachers), "student": len(students), "moodle_user": len(students),
        "registration": len(students), "payment": sum(len(s.payments) for s in students),
        "enrollment": sum(len(s.enrollments) for s in students),
        "moodle_enrollment": sum(len(s.enrollments) for s in students),
        "grade": len(exp.zoho_grades) + len({key for key, _ in exp.moodle_attempts}),
    }
    return exp


def plan(seed: int, students: int = 200) -> Plan:
    """The demo: a college of `students` valid students, with the noise of real senders, shuffled."""
    college = build(seed, Sizes(students=students))
    rng = random.Random(seed)
    r = _render(college, rng)
    exp = expected(college)
    _invalid_students(r, exp, max(1, students // 40))
    # Noise: some requests again as they were (redelivery), some under a new delivery id (resend).
    # Form bodies carry no delivery id, so they are only ever sent once.
    firsts = [q for q in r.requests if q.label == "new" and q.content_type == JSON]
    for req in rng.sample(firsts, k=len(firsts) // 20):
        r.requests.append(replace(req, label="redelivery"))
    resendable = [q for q in firsts if q.entity in ("student", "registration", "class", "moodle_user", "grade")]
    for req in rng.sample(resendable, k=len(resendable) // 20):
        r.resend(req)
    rng.shuffle(r.requests)
    return Plan(seed, r.requests, exp)


def _invalid_students(r: _Renderer, exp: Expected, each: int) -> None:
    for n in range(each):
        for why, change in (("missing academic email", {"Academic_Email": None}),
                            ("status outside the picklist", {"Status": "Sleeping"}),
                            ("one-character first name", {"First_Name": "A"})):
            sid = r.college.ids.zoho()
            data = {**student(sid, f"jana.rahal.{sid[-6:]}@students.college.example", number=f"STU-9{n:04d}",
                              first="Jana", last="Rahal"), **change}
            r.zoho("BTEC_Students", "student", {k: v for k, v in data.items() if v is not None}, label="invalid")
            exp.invalid_students[sid] = why


def rebase(plan: Plan, ids: Mapping[str, str]) -> Plan:
    """The same college after Zoho gave some of its records other ids (`ids`: planned id → Zoho's id), as when
    the records are first created in a Zoho org, which picks the ids itself: every request body and the expected
    state name the new ids. Ids are 19-digit strings found nowhere else in a body, so they are replaced as text."""

    def swap(text: str) -> str:
        return ids.get(text, text)

    def swap_all(text: str) -> str:
        return _ZOHO_ID.sub(lambda m: swap(m.group()), text)

    def swap_body(req: PlannedRequest) -> bytes:
        if req.content_type == FORM:
            # Percent-encoding puts digits right before an id (`%22` is a quote), so the values are decoded first.
            return urlencode([(k, swap_all(v)) for k, v in parse_qsl(req.body.decode(), keep_blank_values=True)]
                             ).encode()
        return swap_all(req.body.decode()).encode()

    exp = plan.expected
    rebased = Expected(
        students={swap(sid): ExpectedStudent(swap(s.zoho_id), s.email, s.moodle_user_id, s.linked_by)
                  for sid, s in exp.students.items()},
        invalid_students={swap(sid): why for sid, why in exp.invalid_students.items()},
        moodle_attempts=dict(exp.moodle_attempts),
        moodle_outcomes={key: list(rows) for key, rows in exp.moodle_outcomes.items()},
        zoho_grades={swap(gid): g for gid, g in exp.zoho_grades.items()},
        links={muid: swap(sid) for muid, sid in exp.links.items()},
        entities=dict(exp.entities),
    )
    requests = [replace(r, body=swap_body(r)) for r in plan.requests]
    return Plan(plan.seed, requests, rebased)
