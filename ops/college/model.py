"""A BTEC college as plain data: a pure function of a seed and its sizes.

`build(seed, Sizes(...))` draws every program, unit, class, teacher and student once, with what a student
has in both systems: the Zoho registration (with its payment schedule), payments, enrollments and grades
entered by the registrar, and the Moodle user, course enrolments and graded attempts with learning
outcomes. The renderers beside this module turn one college into the forms its users need (webhook
requests in `webhooks`, canonical events in `events`); none of them draws anything the model does not
say, so the forms of one college always agree with each other.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

FIRST_NAMES = ("Lina", "Omar", "Sara", "Yusuf", "Maya", "Karim", "Nour", "Adam", "Leila", "Hadi", "Rania", "Sami",
               "Dana", "Ziad", "Huda", "Tariq", "Aya", "Fadi", "Mira", "Bilal")
LAST_NAMES = ("Haddad", "Khoury", "Nasser", "Saleh", "Aziz", "Darwish", "Mansour", "Farah", "Hamdan", "Issa",
              "Karam", "Boutros", "Sabbagh", "Yassin", "Qasem")
CITIES = ("Beirut", "Tripoli", "Saida", "Zahle")
PROGRAM_TITLES = ("Information Technology", "Business", "Engineering", "Health and Social Care", "Art and Design",
                  "Sport")
UNIT_TOPICS = ("Principles", "Practice", "Project", "Research", "Management", "Innovation", "Security", "Design")
# The assessment criteria of every unit, each met when the score reaches its band's bar.
OUTCOMES = (("P1", "Explain the principles", 40), ("P2", "Describe the process", 40),
            ("M1", "Analyse the impact", 60), ("D1", "Evaluate the approach", 70))
FEEDBACK = "<p>See the criteria below.</p>"  # a teacher's feedback on a Moodle attempt, as the editor saves it
EARLIER_GRADES = ("Distinction", "Merit", "Pass")
TERM_START = date(2026, 9, 14)
# Epoch seconds of the Moodle events: autumn term 2026.
MOODLE_T0 = 1_789_000_000
INSTALLMENTS = 3
INSTALLMENT_AMOUNT = "1500.00"
PROGRAM_PRICE = "4500.00"


def letter(score: float) -> str:
    """The BTEC band of a 0–100 score, worked out here and not by the system's code so that a test can hold the
    two against each other: clamp to [0, 100]; ≥70 D, ≥60 M, ≥40 P, else R."""
    score = min(max(score, 0.0), 100.0)
    return "D" if score >= 70 else "M" if score >= 60 else "P" if score >= 40 else "R"


class Ids:
    """19-digit Zoho ids and Moodle ids, unique per seed: the same seed gives the same ids."""

    def __init__(self, seed: int) -> None:
        self._zoho = (seed % 10**6) * 10**8
        self._moodle = (seed % 10**5 + 1) * 10**6

    @classmethod
    def unique(cls) -> Ids:
        """Ids no earlier run used (for tests sharing a long-lived log): a random start in the whole id space,
        so two runs get the same block of 10^8 ids with a chance of one in a million."""
        return cls(secrets.randbelow(10**6))

    def zoho(self) -> str:
        self._zoho += 1
        return f"48768{self._zoho:014d}"

    def moodle(self) -> int:
        self._moodle += 1
        return self._moodle


@dataclass(frozen=True)
class Sizes:
    students: int = 200
    programs: int = 3
    units_per_program: int = 4  # one class per unit
    teachers: int = 6
    classes_per_student: int = 2  # taken from the units of the student's program
    assignments_per_class: int = 1  # graded in Moodle, each with one attempt or a resubmission after a refer
    # Every n-th student (0: none) has grades from an earlier term that the registrar entered in Zoho.
    earlier_grades_every: int = 5
    earlier_grades: int = 1  # per such student, in classes they do not take this term
    # Every n-th student (0: none) withdraws from their first class: Zoho deletes the enrollment.
    withdrawn_every: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.classes_per_student <= self.units_per_program:
            raise ValueError("classes_per_student must be between 1 and units_per_program")
        if self.programs > len(PROGRAM_TITLES) * 10:
            raise ValueError(f"at most {len(PROGRAM_TITLES) * 10} programs")


# A record of the college is one object: records compare by identity, which keeps building a large college quick.
@dataclass(frozen=True, eq=False)
class Teacher:
    zoho_id: str
    name: str
    email: str
    moodle_user_id: int


@dataclass(frozen=True, eq=False)
class Program:
    zoho_id: str
    name: str
    code: str


@dataclass(frozen=True, eq=False)
class Unit:
    zoho_id: str
    number: int
    name: str
    program: Program

    @property
    def code(self) -> str:
        return f"U{self.number:02d}"


@dataclass(frozen=True, eq=False)
class Class:
    zoho_id: str
    name: str
    unit: Unit
    teacher: Teacher
    moodle_course_id: int
    assignments: tuple[int, ...]  # Moodle assignment ids
    start: date
    end: date

    @property
    def program(self) -> Program:
        return self.unit.program

    @property
    def short_name(self) -> str:
        return self.unit.code


@dataclass(frozen=True, eq=False)
class Installment:
    number: int
    due: date
    amount: str
    paid: bool


@dataclass(frozen=True, eq=False)
class Registration:
    zoho_id: str
    program: Program
    registered: date
    price: str
    currency: str
    study_mode: str
    schedule: tuple[Installment, ...]


@dataclass(frozen=True, eq=False)
class Payment:
    zoho_id: str
    number: str
    installment: int
    amount: str
    paid: date
    method: str


@dataclass(frozen=True, eq=False)
class Enrollment:
    zoho_id: str
    klass: Class
    moodle_enrolment_id: int
    withdrawn: bool


@dataclass(frozen=True, eq=False)
class Outcome:
    code: str
    description: str
    achieved: bool


@dataclass(frozen=True, eq=False)
class Attempt:
    number: int
    score: float
    graded_at: int  # epoch seconds
    grader_role: Literal["teacher", "iv"]
    outcomes: tuple[Outcome, ...]

    @property
    def letter(self) -> str:
        return letter(self.score)


@dataclass(frozen=True, eq=False)
class MoodleGrade:
    """One assignment of one student in Moodle, with every attempt graded."""

    moodle_user_id: int
    klass: Class
    assignment_id: int
    attempts: tuple[Attempt, ...]

    @property
    def key(self) -> str:
        """The composite key the integration gives a Moodle grade."""
        return f"{self.moodle_user_id}_{self.assignment_id}"


@dataclass(frozen=True, eq=False)
class EarlierGrade:
    """A grade from an earlier term, entered by the registrar in Zoho (Zoho's long form of the letter)."""

    zoho_id: str
    klass: Class
    grade: str


@dataclass(frozen=True, eq=False)
class Student:
    index: int
    zoho_id: str
    number: str
    first_name: str
    last_name: str
    academic_email: str
    phone: str
    city: str
    status: str
    moodle_user_id: int
    moodle_email: str  # as the student typed it in Moodle
    # How the integration links the Moodle user: by the Moodle id on the Zoho record, else by email.
    linked_by: Literal["student_moodle_id", "email"]
    registration: Registration
    payments: tuple[Payment, ...]
    enrollments: tuple[Enrollment, ...]
    grades: tuple[MoodleGrade, ...]
    earlier_grades: tuple[EarlierGrade, ...]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, eq=False)
class College:
    seed: int
    sizes: Sizes
    teachers: tuple[Teacher, ...]
    programs: tuple[Program, ...]
    units: tuple[Unit, ...]
    classes: tuple[Class, ...]
    students: tuple[Student, ...]
    # The id source after the college was drawn: renderers take further ids (deliveries, invalid records) here.
    ids: Ids = field(compare=False)


def build(seed: int, sizes: Sizes | None = None) -> College:
    sizes = sizes or Sizes()
    rng = random.Random(seed)
    ids = Ids(seed)
    teachers = []
    for i in range(sizes.teachers):
        name = f"{FIRST_NAMES[(i * 7) % len(FIRST_NAMES)]} {LAST_NAMES[(i * 5) % len(LAST_NAMES)]}"
        teachers.append(Teacher(ids.zoho(), name, f"{name.replace(' ', '.').lower()}.{i}@college.example",
                                ids.moodle()))
    programs, units, classes = [], [], []
    offer: dict[str, list[Class]] = {}
    for p in range(sizes.programs):
        title = PROGRAM_TITLES[p % len(PROGRAM_TITLES)] + ("" if p < len(PROGRAM_TITLES) else f" {p}")
        program = Program(ids.zoho(), f"BTEC Level 3 National Extended Diploma in {title}",
                          f"L3-{title[:3].upper()}{p}")
        programs.append(program)
        offer[program.zoho_id] = []
        for u in range(sizes.units_per_program):
            number = p * 10 + u + 1
            unit = Unit(ids.zoho(), number, f"Unit {number}: {title} {UNIT_TOPICS[u % len(UNIT_TOPICS)]}", program)
            start = TERM_START + timedelta(weeks=8 * (u % 2))
            klass = Class(ids.zoho(), f"{title[:3].upper()}-{unit.code}-2026", unit,
                          teachers[(p * sizes.units_per_program + u) % len(teachers)], ids.moodle(),
                          tuple(ids.moodle() for _ in range(sizes.assignments_per_class)), start,
                          start + timedelta(weeks=8))
            units.append(unit)
            classes.append(klass)
            offer[program.zoho_id].append(klass)
    students = [_student(rng, ids, sizes, i, programs[i % len(programs)], offer) for i in range(sizes.students)]
    return College(seed, sizes, tuple(teachers), tuple(programs), tuple(units), tuple(classes), tuple(students), ids)


def _student(rng: random.Random, ids: Ids, sizes: Sizes, i: int, program: Program,
             offer: dict[str, list[Class]]) -> Student:
    sid, rid, muid = ids.zoho(), ids.zoho(), ids.moodle()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}.{i}@students.college.example".lower()
    by_id = i % 5 == 0  # these students' Zoho records carry their Moodle user id
    # Moodle keeps the case the student typed; students linked by id may use another address there.
    moodle_email = f"{first}{rng.randrange(100)}@mail.example".lower() if by_id else (
        email.upper() if i % 6 == 1 else email)
    schedule = tuple(Installment(n, TERM_START + timedelta(days=90 * (n - 1)), INSTALLMENT_AMOUNT, n == 1)
                     for n in range(1, INSTALLMENTS + 1))
    registration = Registration(rid, program, date(2026, 9, 1), PROGRAM_PRICE, "USD",
                                rng.choice(("Onsite", "Online", "Blended")), schedule)
    payments = tuple(Payment(ids.zoho(), f"PAY-{26000 + i}-{n + 1}", n + 1, INSTALLMENT_AMOUNT,
                             TERM_START + timedelta(days=90 * n), rng.choice(("Cash", "Bank Transfer")))
                     for n in range(rng.choice((0, 1, 1, 2))))
    withdraws = sizes.withdrawn_every > 0 and i % sizes.withdrawn_every == 0
    taken = rng.sample(offer[program.zoho_id], k=sizes.classes_per_student)
    enrollments = tuple(Enrollment(ids.zoho(), klass, ids.moodle(), withdraws and n == 0)
                        for n, klass in enumerate(taken))
    grades = tuple(MoodleGrade(muid, klass, assignment, _attempts(rng, muid))
                   for klass in taken for assignment in klass.assignments)
    earlier: tuple[EarlierGrade, ...] = ()
    if sizes.earlier_grades_every and i % sizes.earlier_grades_every == 2 % sizes.earlier_grades_every:
        others = [c for c in offer[program.zoho_id] if c not in taken]
        earlier = tuple(EarlierGrade(ids.zoho(), klass, rng.choice(EARLIER_GRADES))
                        for klass in others[:sizes.earlier_grades])
    return Student(
        index=i, zoho_id=sid, number=f"STU-{26000 + i}", first_name=first, last_name=last, academic_email=email,
        phone=f"+961 3 {rng.randrange(100000, 999999)}", city=rng.choice(CITIES),
        status=rng.choice(("Active", "Active", "Active", "active", "Registered")), moodle_user_id=muid,
        moodle_email=moodle_email, linked_by="student_moodle_id" if by_id else "email", registration=registration,
        payments=payments, enrollments=enrollments, grades=grades, earlier_grades=earlier)


def _attempts(rng: random.Random, muid: int) -> tuple[Attempt, ...]:
    scores = [float(rng.randrange(15, 100))]
    if scores[0] < 40 and rng.random() < 0.8:
        scores.append(float(rng.randrange(40, 90)))  # resubmission after a refer
    return tuple(
        Attempt(n, score, MOODLE_T0 + 86400 * 30 * n + muid % 1000, "iv" if rng.random() < 0.1 else "teacher",
                tuple(Outcome(code, text, score >= bar) for code, text, bar in OUTCOMES))
        for n, score in enumerate(scores, start=1))
