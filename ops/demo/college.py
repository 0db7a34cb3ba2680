"""A BTEC college as webhooks: a pure function of a seed, with the state the system should end in.

`plan(seed, students)` returns every request to send (Zoho workflow webhooks, a Zoho Function
batch, signed Moodle plugin events) in a shuffled order, with the noise real senders make:
redeliveries (same notification id / webhook-id), unchanged resends (a new id, the same data),
field-name variants (`Full_Name` / `Full Name`, `Academic Email`), lookups as objects or bare ids,
form-urlencoded bodies, and a few invalid students. `Plan.expected` is what a registrar would
expect the system to hold afterwards, computed here from the domain rules, not by the system's
code, so an end-to-end test can hold one against the other.

Ids are derived from the seed: the same seed yields the same college, and sending it twice to one
tenant changes nothing (every record the second time is a redelivery or unchanged).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

Source = Literal["zoho", "moodle"]
# new: first sending of a record; redelivery: the same request again; resend: the same record
# under a new delivery id; invalid: a record the system must dead-letter.
Label = Literal["new", "redelivery", "resend", "invalid"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

FIRST_NAMES = ("Lina", "Omar", "Sara", "Yusuf", "Maya", "Karim", "Nour", "Adam", "Leila", "Hadi", "Rania", "Sami",
               "Dana", "Ziad", "Huda", "Tariq", "Aya", "Fadi", "Mira", "Bilal")
LAST_NAMES = ("Haddad", "Khoury", "Nasser", "Saleh", "Aziz", "Darwish", "Mansour", "Farah", "Hamdan", "Issa",
              "Karam", "Boutros", "Sabbagh", "Yassin", "Qasem")
PROGRAMS = ("Information Technology", "Business", "Engineering")
OUTCOMES = (("P1", "Explain the principles"), ("P2", "Describe the process"), ("M1", "Analyse the impact"),
            ("D1", "Evaluate the approach"))
TERM_START = date(2026, 9, 14)
# Epoch seconds of the Moodle events: autumn term 2026.
MOODLE_T0 = 1_789_000_000
# A whole 19-digit Zoho id in a body. Delivery ids (`<id>-n`) hold ids no record has, so a rebase leaves them.
_ZOHO_ID = re.compile(r"(?<![0-9])[0-9]{19}(?![0-9])")


@dataclass(frozen=True)
class PlannedRequest:
    source: Source
    kind: str  # Zoho module or Moodle event: the last segment of the path
    entity: str  # the canonical entity the record is about
    body: bytes
    content_type: str
    label: Label
    webhook_id: str | None = None  # Moodle: the Standard Webhooks message id it is signed with

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


def letter(score: float) -> str:
    """docs/domain.md, BTEC bands: clamp to [0, 100]; ≥70 D, ≥60 M, ≥40 P, else R."""
    score = min(max(score, 0.0), 100.0)
    return "D" if score >= 70 else "M" if score >= 60 else "P" if score >= 40 else "R"


class _Ids:
    """19-digit Zoho ids and Moodle ids, unique per seed."""

    def __init__(self, seed: int) -> None:
        self._prefix = f"48768{seed % 10**6:06d}"
        self._moodle_base = (seed % 10**5 + 1) * 10**6
        self._zoho = 0
        self._moodle = 0

    def zoho(self) -> str:
        self._zoho += 1
        return f"{self._prefix}{self._zoho:08d}"

    def moodle(self) -> int:
        self._moodle += 1
        return self._moodle_base + self._moodle


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(seed)
        self.requests: list[PlannedRequest] = []
        self.expected = Expected()
        self._deliveries = 0

    def delivery_id(self) -> str:
        self._deliveries += 1
        return f"{self.ids.zoho()}-{self._deliveries}"

    def lookup(self, rid: str, name: str) -> Any:
        # Zoho sends lookups as objects; Functions and older workflows as bare ids.
        return rid if self.rng.random() < 0.25 else {"id": rid, "name": name}

    def zoho(self, module: str, entity: str, data: dict[str, Any], label: Label = "new",
             form: bool = False) -> PlannedRequest:
        if form:
            # A workflow webhook configured to post the record's fields as form parameters.
            body = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}).encode()
            req = PlannedRequest("zoho", module, entity, body, FORM, label)
        else:
            envelope = {"notification_id": self.delivery_id(), "timestamp": "2026-09-10T09:14:05+03:00",
                        "module": module, "operation": "insert", "record_id": data["id"], "data": data}
            req = PlannedRequest("zoho", module, entity, json.dumps(envelope).encode(), JSON, label)
        self.requests.append(req)
        return req

    def moodle(self, event: str, entity: str, at: int, data: dict[str, Any]) -> PlannedRequest:
        webhook_id = f"msg_{self.delivery_id()}"
        body = {"event_id": webhook_id, "event_type": event, "timestamp": at, "site_url": "https://lms.college.example",
                "data": data}
        req = PlannedRequest("moodle", event, entity, json.dumps(body).encode(), JSON, "new", webhook_id)
        self.requests.append(req)
        return req

    def resend(self, req: PlannedRequest) -> None:
        """The same record under a new delivery id: Zoho's workflow fired again, Moodle re-sent the event."""
        body = json.loads(req.body)
        if req.source == "zoho":
            body["notification_id"] = self.delivery_id()
            self.requests.append(PlannedRequest("zoho", req.kind, req.entity, json.dumps(body).encode(),
                                                req.content_type, "resend"))
        else:
            webhook_id = f"msg_{self.delivery_id()}"
            body["event_id"] = webhook_id
            self.requests.append(PlannedRequest("moodle", req.kind, req.entity, json.dumps(body).encode(),
                                                req.content_type, "resend", webhook_id))


def plan(seed: int, students: int = 200) -> Plan:
    b = _Builder(seed)
    rng, ids, exp = b.rng, b.ids, b.expected

    teachers = []
    for i in range(6):
        tid = ids.zoho()
        first, last = FIRST_NAMES[(i * 7) % len(FIRST_NAMES)], LAST_NAMES[(i * 5) % len(LAST_NAMES)]
        teachers.append((tid, f"{first} {last}", ids.moodle()))
    # Teachers come as one Zoho Function batch.
    batch = {"operation": "upsert", "data": [
        {"id": tid, "Name": name, "Email": f"{name.replace(' ', '.').lower()}@college.example",
         "Teacher_Moodle_ID": str(muid)} for tid, name, muid in teachers]}
    b.requests.append(PlannedRequest("zoho", "BTEC_Teachers", "teacher", json.dumps(batch).encode(), JSON, "new"))

    programs: list[tuple[str, str]] = []
    # program id → [(unit id, class id, Moodle course id, assignment id, teacher)]
    offer: dict[str, list[tuple[str, str, int, int, tuple[str, str, int]]]] = {}
    for p, title in enumerate(PROGRAMS):
        pid = ids.zoho()
        name = f"BTEC Level 3 National Extended Diploma in {title}"
        programs.append((pid, name))
        b.zoho("Products", "program", {"id": pid, "Product_Name": name, "Program_ID": f"L3-{title[:3].upper()}",
                                       "Status": "Active"})
        offer[pid] = []
        for u in range(4):
            uid, cid, course, assignment = ids.zoho(), ids.zoho(), ids.moodle(), ids.moodle()
            number = p * 10 + u + 1
            b.zoho("BTEC", "unit", {
                "id": uid, "Name": f"Unit {number}: {title} {['Principles', 'Practice', 'Project', 'Research'][u]}",
                "Unit_Code": f"U{number:02d}", "Unit_Number": str(number), "Unit_Credit": 60,
                "Program": b.lookup(pid, name),
                **{f"{code}_description": text for code, text in OUTCOMES},
            })
            teacher = teachers[(p * 4 + u) % len(teachers)]
            start = TERM_START + timedelta(weeks=8 * (u % 2))
            b.zoho("BTEC_Classes", "class", {
                "id": cid, "Class_Name": f"{title[:3].upper()}-U{number:02d}-2026",
                "Class_Short_Name": f"U{number:02d}",
                "BTEC_Program": b.lookup(pid, name), "Unit": b.lookup(uid, f"Unit {number}"),
                "Teacher": {"id": teacher[0], "name": teacher[1]}, "Moodle_Class_ID": str(course),
                "Class_Status": "Active", "Start_Date": start.isoformat(),
                "End_Date": (start + timedelta(weeks=8)).isoformat(),
            })
            offer[pid].append((uid, cid, course, assignment, teacher))

    for i in range(students):
        _student(b, i, programs[i % len(programs)], offer)
    _invalid_students(b, max(1, students // 40))

    # Noise: some requests again as they were (redelivery), some under a new delivery id (resend).
    # Form bodies carry no delivery id, so they are only ever sent once.
    firsts = [r for r in b.requests if r.label == "new" and r.content_type == JSON]
    for req in rng.sample(firsts, k=len(firsts) // 20):
        b.requests.append(PlannedRequest(req.source, req.kind, req.entity, req.body, req.content_type, "redelivery",
                                         req.webhook_id))
    resendable = [r for r in firsts if r.entity in ("student", "registration", "class", "moodle_user", "grade")]
    for req in rng.sample(resendable, k=len(resendable) // 20):
        b.resend(req)

    exp.entities = {
        "program": len(programs), "unit": 4 * len(programs), "class": 4 * len(programs), "teacher": len(teachers),
        **exp.entities,
        "student": len(exp.students),
        "moodle_user": len(exp.students),
        "grade": len(exp.zoho_grades) + len({key for key, _ in exp.moodle_attempts}),
    }
    rng.shuffle(b.requests)
    return Plan(seed, b.requests, exp)


def _count(exp: Expected, entity: str, n: int = 1) -> None:
    exp.entities[entity] = exp.entities.get(entity, 0) + n


def _student(b: _Builder, i: int, program: tuple[str, str],
             offer: dict[str, list[tuple[str, str, int, int, tuple[str, str, int]]]]) -> None:
    rng, ids, exp = b.rng, b.ids, b.expected
    pid, pname = program
    sid, rid, muid = ids.zoho(), ids.zoho(), ids.moodle()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}.{i}@students.college.example".lower()
    by_id = i % 5 == 0  # these students' Zoho records carry their Moodle user id
    data: dict[str, Any] = {"id": sid, "Name": f"STU-{26000 + i}", "First_Name": first, "Last_Name": last,
                            "Phone_Number": f"+961 3 {rng.randrange(100000, 999999)}", "City": "Beirut",
                            "Status": rng.choice(("Active", "Active", "Active", "active", "Registered")),
                            "Modified_Time": "2026-09-01T10:00:00+03:00"}
    data["Full Name" if i % 3 == 0 else "Full_Name"] = f"{first} {last}"
    data["Academic Email" if i % 4 == 1 else "Academic_Email"] = email
    if by_id:
        data["Student_Moodle_ID"] = str(muid)
    b.zoho("BTEC_Students", "student", data, form=i % 8 == 3)
    exp.students[sid] = ExpectedStudent(sid, email, str(muid), "student_moodle_id" if by_id else "email")
    exp.links[str(muid)] = sid

    schedule = [{"Installment_No": n, "Due_Date": (TERM_START + timedelta(days=90 * (n - 1))).isoformat(),
                 "Installment_Amount": "1500.00", "Installment_Status": "Paid" if n == 1 else "Pending"}
                for n in (1, 2, 3)]
    b.zoho("BTEC_Registrations", "registration", {
        "id": rid, "Student_ID": b.lookup(sid, f"{first} {last}"), "Program": b.lookup(pid, pname),
        "Registration_Date": "2026-09-01", "Registration_Status": "Active", "Program_Price": "4500",
        "Currency": "USD", "Study_Mode": rng.choice(("Onsite", "Online", "Blended")), "Payment_Schedule": schedule,
    })
    _count(exp, "registration")
    for n in range(rng.choice((0, 1, 1, 2))):
        b.zoho("BTEC_Payments", "payment", {
            "id": ids.zoho(), "Name": f"PAY-{26000 + i}-{n + 1}", "Registration_ID": b.lookup(rid, f"REG-{i}"),
            "Student_ID": b.lookup(sid, f"{first} {last}"), "Payment_Amount": "1500.00",
            "Payment_Date": (TERM_START + timedelta(days=90 * n)).isoformat(),
            "Payment_Method": rng.choice(("Cash", "Bank Transfer")), "Payment_Type": "Study Fees",
            "Installment_No": n + 1,
        })
        _count(exp, "payment")

    moodle_email = f"{first}{rng.randrange(100)}@mail.example".lower() if by_id else (
        email.upper() if i % 6 == 1 else email)  # Moodle keeps the case the student typed
    b.moodle("user_created", "moodle_user", MOODLE_T0 + i, {
        "moodle_user_id": muid, "username": email.split("@")[0], "email": moodle_email, "firstname": first,
        "lastname": last, "idnumber": f"STU-{26000 + i}"})

    taken = rng.sample(offer[pid], k=2)
    for _, cid, course, assignment, teacher in taken:
        b.zoho("BTEC_Enrollments", "enrollment", {
            "id": ids.zoho(), "Enrolled_Students": b.lookup(sid, f"{first} {last}"),
            "Classes": b.lookup(cid, "Class"), "Start_Date": TERM_START.isoformat(), "Enrollment_Type": "Normal",
            "Moodle_Course_ID": str(course)}, form=i % 8 == 5)
        _count(exp, "enrollment")
        b.moodle("enrollment_created", "moodle_enrollment", MOODLE_T0 + 3600 + i, {
            "enrolment_id": ids.moodle(), "moodle_user_id": muid, "course_id": course, "role": "student",
            "status": 0, "time_start": MOODLE_T0})
        _count(exp, "moodle_enrollment")
        _moodle_grades(b, muid, course, assignment, teacher)

    # A grade from an earlier term, entered by the registrar in Zoho.
    if i % 5 == 2:
        _, cid, _, _, _ = next(o for o in offer[pid] if o not in taken)
        gid, grade = ids.zoho(), rng.choice(("Distinction", "Merit", "Pass"))
        b.zoho("BTEC_Grades", "grade", {
            "id": gid, "Student": b.lookup(sid, f"{first} {last}"), "Class": b.lookup(cid, "Class"),
            "Grade": grade, "Attempt_Number": 1, "Attempt_Date": "2026-06-20", "Grade_Status": "Released",
            "Feedback": "Transferred from the previous term"})
        exp.zoho_grades[gid] = grade[0]


def _moodle_grades(b: _Builder, muid: int, course: int, assignment: int, teacher: tuple[str, str, int]) -> None:
    rng, exp = b.rng, b.expected
    key = f"{muid}_{assignment}"
    score = float(rng.randrange(15, 100))
    attempts = [score]
    if score < 40 and rng.random() < 0.8:
        attempts.append(float(rng.randrange(40, 90)))  # resubmission after a refer
    for attempt, points in enumerate(attempts, start=1):
        graded = MOODLE_T0 + 86400 * 30 * attempt + muid % 1000
        iv = rng.random() < 0.1
        # A criterion is met (score 1 of 1) when the points reach its band's bar.
        met = [(code, text, points >= bar) for (code, text), bar in zip(OUTCOMES, (40, 40, 60, 70), strict=True)]
        b.moodle("grade_updated", "grade", graded, {
            "moodle_user_id": muid, "course_id": course, "assignment_id": assignment,
            "assignment_name": "Assignment 1", "grade_id": assignment * 10 + attempt, "raw_grade": points,
            "grade_max": 100.0, "attempt_number": attempt, "time_graded": graded,
            "grader": {"moodle_user_id": teacher[2], "full_name": teacher[1], "role": "iv" if iv else "teacher"},
            "feedback": "<p>See the criteria below.</p>",
            "learning_outcomes": [
                {"code": code, "description": text, "score": "1.00000" if ok else "0.00000",
                 "feedback": "Achieved" if ok else "Not yet"}
                for code, text, ok in met],
        })
        exp.moodle_attempts[(key, attempt)] = letter(points)
        exp.moodle_outcomes[(key, attempt)] = [
            ExpectedOutcome(code, 1.0 if ok else 0.0, "Achieved" if ok else "Not yet", ok) for code, _, ok in met]


def _invalid_students(b: _Builder, each: int) -> None:
    for n in range(each):
        for why, change in (("missing academic email", {"Academic_Email": None}),
                            ("status outside the picklist", {"Status": "Sleeping"}),
                            ("one-character first name", {"First_Name": "A"})):
            sid = b.ids.zoho()
            data = {"id": sid, "Name": f"STU-9{n:04d}", "First_Name": "Jana", "Last_Name": "Rahal",
                    "Academic_Email": f"jana.rahal.{sid[-6:]}@students.college.example", "Status": "Active", **change}
            b.zoho("BTEC_Students", "student", {k: v for k, v in data.items() if v is not None}, label="invalid")
            b.expected.invalid_students[sid] = why


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
