"""The whole loop through real processes: a college that exists only in Zoho (programs, units, teachers, classes,
students, registrations, enrollments, typed into the Zoho emulator, whose workflow webhooks reach the ingress)
ends with the right Moodle accounts, categories, courses and enrolments (made by the Moodle sink in the Moodle
emulator), with the Moodle ids written back into Zoho, and with the grades its teachers then give in those
courses (the plugin's grade_updated webhooks) in Zoho and joined in the projections. A full pull and a Moodle
sink reading everything again afterwards change nothing and call nothing.

Moodle's refusals and outages are tested at the sink (tests/moodle_sink/test_failures.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import TenantCreds, control_api
from tests.e2e.state import State, diff, query_rows, wait_for_expected
from tests.e2e.system import System
from tests.infra import Service, end_offsets, wait_until
from tests.moodle_sink.conftest import WRITES, outcomes

STUDENTS = 6
TEACHERS = ("Rana Khalil", "Omar Saleh")
DOMAIN = "horizon-college.com"
# Each student's BTEC grade (scale index 1 Refer … 4 Distinction) per class, and the letters Zoho shows.
SCALE = (4, 3, 2, 1)
LETTER = {1: "R", 2: "P", 3: "M", 4: "D"}
OUTCOMES = (("P1", "Explain the principles of networking"), ("M1", "Compare network topologies"))


@dataclass(frozen=True)
class College:
    """The Zoho ids of what the registrar typed in."""

    program: str
    units: tuple[str, ...]
    teachers: dict[str, str]  # Zoho id → name
    classes: dict[str, tuple[str, str, str]]  # Zoho id → (Class_Name, unit id, teacher id)
    students: dict[str, str]  # Zoho id → student number (Zoho's autonumber)
    registrations: dict[str, str]  # student id → registration id


def _insert(api: httpx.Client, module: str, records: list[dict[str, Any]]) -> list[str]:
    """Records created as a user or a Zoho Function creates them: the workflow webhooks fire."""
    resp = api.post(f"/{module}", json={"data": records})
    assert resp.status_code == 201, resp.text
    return [item["details"]["id"] for item in resp.json()["data"]]


def _email(i: int) -> str:
    return f"learner{i}@{DOMAIN}"


def make_college(system: System) -> College:
    with system.zoho_api() as api:
        (program,) = _insert(api, "Products", [{"Product_Name": "BTEC Level 3 Diploma in IT", "Status": "Approved"}])
        units = _insert(api, "BTEC", [{"Name": f"Unit {n}: Networking {n}", "Unit_Code": f"U{n}",
                                       "Program": {"id": program}} for n in (1, 2)])
        teachers = _insert(api, "BTEC_Teachers", [
            {"Name": name, "Academic_Email": f"{name.split()[0].lower()}@{DOMAIN}"} for name in TEACHERS])
        names = [f"IT-2026-U{n}" for n in (1, 2)]
        classes = _insert(api, "BTEC_Classes", [
            {"Class_Name": name, "BTEC_Program": {"id": program}, "Unit": {"id": unit}, "Teacher": {"id": teacher},
             "Class_Status": "Active", "Start_Date": "2026-09-01", "End_Date": "2027-06-30"}
            for name, unit, teacher in zip(names, units, teachers, strict=True)])
        students = _insert(api, "BTEC_Students", [
            {"First_Name": f"Learner{i}", "Last_Name": f"Number{i}", "Academic_Email": _email(i), "Status": "Active"}
            for i in range(STUDENTS)])
        registrations = _insert(api, "BTEC_Registrations", [
            {"Student_ID": {"id": s}, "Program": {"id": program}, "Registration_Status": "Active",
             "Registration_Date": "2026-08-20"} for s in students])
        _insert(api, "BTEC_Enrollments", [
            {"Enrolled_Students": {"id": s}, "Classes": {"id": c}, "Start_Date": "2026-09-01",
             "Enrollment_Type": "Normal"} for s in students for c in classes])
    numbers = {r["id"]: r["Name"] for r in system.zoho_records("BTEC_Students")}
    return College(program=program, units=tuple(units), teachers=dict(zip(teachers, TEACHERS, strict=True)),
                   classes={c: (name, unit, teacher) for c, name, unit, teacher in
                            zip(classes, names, units, teachers, strict=True)},
                   students={s: numbers[s] for s in students},
                   registrations=dict(zip(students, registrations, strict=True)))


# -- Moodle ---------------------------------------------------------------------------------------------------

def _people(system: System) -> list[dict[str, Any]]:
    """Moodle's accounts without guest, admin and the web-service user."""
    assert system.moodle is not None
    return [u for u in system.moodle.table("users", system.tenant.name)
            if u["username"] not in ("guest", "admin", "zohosync")]


def moodle_state(system: System) -> State:
    """What the college's Moodle holds, by idnumber, with how many records carry each (duplicates show)."""
    moodle, tenant = system.moodle, system.tenant.name
    assert moodle is not None
    users = _people(system)
    categories = [c for c in moodle.table("categories", tenant) if c["id"] != 1]
    courses = [c for c in moodle.table("courses", tenant) if c["id"] != 1]
    enrolments = moodle.table("enrolments", tenant)
    user_idnumber = {u["id"]: u["idnumber"] for u in users}
    course_idnumber = {c["id"]: c["idnumber"] for c in courses}
    category_idnumber = {c["id"]: c["idnumber"] for c in categories}
    pairs = Counter((user_idnumber.get(e["userid"]), course_idnumber.get(e["courseid"])) for e in enrolments)
    return {
        "moodle users": {u["idnumber"]: (u["firstname"], u["lastname"], u["email"], u["suspended"]) for u in users},
        "moodle users per idnumber": dict(Counter(u["idnumber"] for u in users)),
        "moodle categories": {c["idnumber"]: c["name"] for c in categories},
        "moodle courses": {c["idnumber"]: (c["shortname"], category_idnumber.get(c["category"])) for c in courses},
        "moodle courses per idnumber": dict(Counter(c["idnumber"] for c in courses)),
        "moodle enrolments": {
            (user_idnumber.get(e["userid"]), course_idnumber.get(e["courseid"])): (tuple(e["roles"]), e["status"])
            for e in enrolments},
        "moodle enrolments per user and course": dict(pairs),
    }


def expected_moodle(college: College) -> State:
    teacher_of = {cid: teacher for cid, (_, _, teacher) in college.classes.items()}
    users: dict[Any, Any] = {number: (f"Learner{i}", f"Number{i}", _email(i), False)
                             for i, number in enumerate(college.students.values())}
    users |= {tid: (*name.split(), f"{name.split()[0].lower()}@{DOMAIN}", False)
              for tid, name in college.teachers.items()}
    enrolments: dict[Any, Any] = {(number, cid): (("student",), 0)
                                  for number in college.students.values() for cid in college.classes}
    enrolments |= {(teacher, cid): (("editingteacher",), 0) for cid, teacher in teacher_of.items()}
    return {
        "moodle users": users,
        "moodle users per idnumber": dict.fromkeys(users, 1),
        "moodle categories": {college.program: "BTEC Level 3 Diploma in IT"},
        "moodle courses": {cid: (name, college.program) for cid, (name, _, _) in college.classes.items()},
        "moodle courses per idnumber": dict.fromkeys(college.classes, 1),
        "moodle enrolments": enrolments,
        "moodle enrolments per user and course": dict.fromkeys(enrolments, 1),
    }


@dataclass(frozen=True)
class MoodleIds:
    users: dict[str, int]  # idnumber → Moodle user id
    courses: dict[str, int]  # Zoho class id → Moodle course id
    category: int


def moodle_ids(system: System, college: College) -> MoodleIds:
    assert system.moodle is not None
    tenant = system.tenant.name
    (category,) = [c["id"] for c in system.moodle.table("categories", tenant) if c["idnumber"] == college.program]
    return MoodleIds(users={u["idnumber"]: u["id"] for u in _people(system)},
                     courses={c["idnumber"]: c["id"] for c in system.moodle.table("courses", tenant)
                              if c["idnumber"]}, category=category)


def moodle_writes(system: System) -> dict[str, tuple[int, int]]:
    """Per web-service function that writes: how many calls, and how many records they carried."""
    assert system.moodle is not None
    writes: dict[str, tuple[int, int]] = {}
    for call in system.moodle.calls(system.tenant.name):
        if call["wsfunction"] in WRITES:
            calls, records = writes.get(call["wsfunction"], (0, 0))
            writes[call["wsfunction"]] = (calls + 1, records + call["records"])
    return writes


# -- Zoho and the projections ---------------------------------------------------------------------------------

def _by_id(system: System, module: str, field: str) -> dict[str, Any]:
    return {r["id"]: r[field] for r in system.zoho_records(module) if r.get(field)}


def links_state(system: System) -> State:
    return {
        "zoho BTEC_Students.Student_Moodle_ID": _by_id(system, "BTEC_Students", "Student_Moodle_ID"),
        "zoho BTEC_Teachers.Teacher_Moodle_ID": _by_id(system, "BTEC_Teachers", "Teacher_Moodle_ID"),
        "zoho BTEC_Classes.Moodle_Class_ID": _by_id(system, "BTEC_Classes", "Moodle_Class_ID"),
        "projections.moodle_sync_state": {
            (entity, key): moodle_id for entity, key, moodle_id in query_rows(
                system, "SELECT entity, record_key, moodle_id FROM moodle_sync_state WHERE tenant = %s"
                        " AND entity IN ('program', 'student', 'teacher', 'class')")},
    }


def expected_links(college: College, ids: MoodleIds) -> State:
    students = {sid: str(ids.users[number]) for sid, number in college.students.items()}
    teachers = {tid: str(ids.users[tid]) for tid in college.teachers}
    classes = {cid: str(ids.courses[cid]) for cid in college.classes}
    return {
        "zoho BTEC_Students.Student_Moodle_ID": students,
        "zoho BTEC_Teachers.Teacher_Moodle_ID": teachers,
        "zoho BTEC_Classes.Moodle_Class_ID": classes,
        "projections.moodle_sync_state": {
            **{("student", k): v for k, v in students.items()}, **{("teacher", k): v for k, v in teachers.items()},
            **{("class", k): v for k, v in classes.items()}, ("program", college.program): str(ids.category)},
    }


def grades_state(system: System) -> State:
    grades = system.zoho_records("BTEC_Grades")
    return {
        "zoho BTEC_Grades": {
            g["Moodle_Grade_Composite_Key"]: (
                (g.get("Student") or {}).get("id"), (g.get("Class") or {}).get("id"), g["Grade"],
                g["Attempt_Number"], g["Grader_Name"],
                tuple(sorted((r["LO_Code"], r["LO_Score"]) for r in g.get("Learning_Outcomes_Assessm") or [])))
            for g in grades},
        "zoho BTEC_Grades records per key": dict(Counter(g["Moodle_Grade_Composite_Key"] for g in grades)),
        # The same after a pull reads back the grade records the Zoho sink wrote: Zoho's copy (newer, without the
        # assignment) leaves what only Moodle knows, and the grade stays synced (docs/domain.md, Echo loops).
        "projections.grade_attempt": {
            (key, attempt): rest for key, attempt, *rest in query_rows(
                system, "SELECT grade_id, attempt_number, student_id, class_id, unit_id, program_id, registration_id,"
                        " letter, assignment_name FROM grade_attempt WHERE tenant = %s")},
        "projections.grade_zoho_sync": dict(query_rows(
            system, "SELECT grade_id, sync_status FROM grade_zoho_sync WHERE tenant = %s")),
    }


@dataclass(frozen=True)
class Given:
    key: str  # Moodle_Grade_Composite_Key
    student: str
    klass: str
    scale: int


def give_grades(system: System, college: College, ids: MoodleIds) -> list[Given]:
    """Each class's teacher grades each student's first assignment in the gradebook; the plugin sends
    grade_updated for each."""
    assert system.moodle is not None
    given = []
    for n, (sid, number) in enumerate(college.students.items()):
        for c, (cid, (_, _, teacher)) in enumerate(college.classes.items()):
            scale = SCALE[(n + c) % len(SCALE)]
            answer = system.moodle.admin("POST", "grade", json={
                "tenant": system.tenant.name, "userid": ids.users[number], "courseid": ids.courses[cid],
                "assignment_name": "Assignment 1", "btec_scale_index": scale, "grader_userid": ids.users[teacher],
                "feedback": "Well argued.", "learning_outcomes": [
                    {"code": code, "description": text, "score": 1.0 if scale > 1 else 0.0, "feedback": ""}
                    for code, text in OUTCOMES]})
            given.append(Given(f"{ids.users[number]}_{answer['assignment_id']}", sid, cid, scale))
    return given


def expected_grades(college: College, given: list[Given]) -> State:
    return {
        "zoho BTEC_Grades": {
            g.key: (g.student, g.klass, LETTER[g.scale], 1, college.teachers[college.classes[g.klass][2]],
                    tuple(sorted((code, "1" if g.scale > 1 else "0") for code, _ in OUTCOMES))) for g in given},
        "zoho BTEC_Grades records per key": {g.key: 1 for g in given},
        "projections.grade_attempt": {
            (g.key, 1): [g.student, g.klass, college.classes[g.klass][1], college.program,
                         college.registrations[g.student], LETTER[g.scale], "Assignment 1"] for g in given},
        "projections.grade_zoho_sync": {g.key: "synced" for g in given},
    }


def everything(system: System) -> State:
    return {**moodle_state(system), **links_state(system), **grades_state(system)}


def settled_webhooks(system: System, timeout: float = 30) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both emulators' webhook logs once nothing waits to be sent."""
    assert system.moodle is not None
    moodle = system.moodle.settled(timeout)
    zoho = wait_until(lambda: (s := system.emulator_admin("GET", "webhooks"))["pending"] == 0 and s, timeout)
    assert zoho, f"Zoho webhooks still pending after {timeout}s: {system.emulator_admin('GET', 'webhooks')}"
    return moodle, list(zoho["deliveries"])


def full_pull(system: System, control: Service, tenant: TenantCreds, timeout: float = 60) -> dict[str, Any]:
    """What an operator does to re-read a tenant's Zoho org: a full pull through the control plane; its run."""
    resp = control_api(control, tenant, "POST", "/sync/trigger", json={"full": True})
    assert resp.status_code == 202, resp.text
    run_id = resp.json()["command"]["command_id"]

    answers: list[str] = []

    def finished() -> dict[str, Any] | None:
        resp = control_api(control, tenant, "GET", "/sync/pulls")
        if resp.status_code != 200:
            # 429 is the control plane's per-tenant rate limit; anything else is kept for the failure message.
            answers.append(f"{resp.status_code} {resp.text[:300]}")
            return None
        return next((r for r in resp.json()["runs"] if r["run_id"] == run_id and r["finished_at"]), None)

    run = wait_until(finished, timeout, 1.0)
    assert run, f"the full pull {run_id} did not finish in {timeout}s; other answers: {answers[-5:]}; " \
                f"{system.logs()}"
    return dict(run)


def _waited(system: System, what: str, expected: State, timeout: float,
            observe: Callable[[System], State]) -> None:
    remaining = wait_for_expected(system, expected, timeout, observe)
    assert not remaining, "\n".join([f"waiting for {what}:", *remaining, str(system.crashes()), system.logs()])


# The waits below add up to less than this; the signal method fails the test in its own thread, so the fixtures'
# teardown still stops every process.
@pytest.mark.timeout(360, method="signal")
def test_a_college_only_in_zoho_is_provisioned_in_moodle_and_its_grades_come_back(
        system_factory: Callable[..., System], control: Service) -> None:
    system = system_factory(moodle=True)
    assert system.moodle is not None
    tenant = system.tenant.name

    # 1. The registrar types the college into Zoho; its workflow webhooks reach the ingress.
    college = make_college(system)
    want_moodle = expected_moodle(college)
    _waited(system, "Moodle accounts, courses and enrolments", want_moodle, 60, moodle_state)

    # 2. Each account, category, course and enrolment written once: created, never updated or made again (how
    # the sink batches them is tests/moodle_sink/test_provisioning.py's).
    ids = moodle_ids(system, college)
    writes = moodle_writes(system)
    assert {function: records for function, (_, records) in writes.items()} == {
        "core_user_create_users": STUDENTS + len(TEACHERS), "core_course_create_categories": 1,
        "core_course_create_courses": len(college.classes),
        "enrol_manual_enrol_users": STUDENTS * len(college.classes) + len(college.classes)}, writes

    # 3. The Moodle ids are in Zoho: written by the Zoho sink with trigger [] (no workflow fires for them).
    _waited(system, "the Moodle ids in Zoho", expected_links(college, ids), 40, links_state)
    moodle_hooks, zoho_hooks = settled_webhooks(system, 20)
    created = 1 + 2 + 2 + 2 + STUDENTS * 2 + STUDENTS * len(college.classes)
    assert Counter((d["operation"], d.get("status")) for d in zoho_hooks) == {("insert", 202): created}, zoho_hooks
    # The plugin told the ingress about every account and enrolment the sink made, and the ingress took them.
    assert Counter(d["event_type"] for d in moodle_hooks) == {
        "user_created": STUDENTS + len(TEACHERS),
        "enrollment_created": STUDENTS * len(college.classes) + len(college.classes)}, moodle_hooks
    assert {(d["outcome"], d["status"]) for d in moodle_hooks} == {("delivered", 202)}

    # 4. The teachers grade in those courses; 5. the grades reach Zoho and the projections, joined to the student,
    # class, unit, program and registration.
    given = give_grades(system, college, ids)
    _waited(system, "the grades in Zoho and the projections", expected_grades(college, given), 60, grades_state)
    assert moodle_writes(system) == writes  # grading wrote nothing into Moodle

    # A re-run: a full pull of the Zoho org, then a Moodle sink that reads every event again (new consumer group).
    before = everything(system)
    last_zoho_call = max(c["seq"] for c in system.emulator_admin("GET", "calls", params={"tenant": tenant})["calls"])
    run = full_pull(system, control, system.tenant)
    assert run["status"] == "done" and run["records"] >= created, run
    mark = end_offsets(system.infra.bootstrap, "moodle.outcomes")
    system.restart("moodle-sink", MOODLE_SINK_GROUP_ID=f"e2e-moodle-sink-rerun-{tenant}")
    records = {("program", college.program), *(("student", s) for s in college.students),
               *(("teacher", t) for t in college.teachers), *(("class", c) for c in college.classes)}

    def reported() -> bool:
        return records <= {(o["entity"], o["record_key"]) for o in outcomes(system.infra, tenant, mark)}

    assert wait_until(reported, 40, 0.5), \
        f"the re-reading Moodle sink reported only {outcomes(system.infra, tenant, mark)}; {system.logs()}"
    time.sleep(3)  # a few lingers: anything written twice would be now
    again = outcomes(system.infra, tenant, mark)
    assert {o["action"] for o in again} == {"unchanged"}, [o for o in again if o["action"] != "unchanged"]
    assert moodle_writes(system) == writes
    assert diff(before, everything(system)) == []
    zoho_writes = [c for c in system.emulator_admin("GET", "calls", params={"tenant": tenant, "since": last_zoho_call})[
        "calls"] if c["method"] != "GET"]
    assert zoho_writes == [], zoho_writes  # nor into Zoho
    assert query_rows(system, "SELECT reason, record_id FROM dead_letter WHERE tenant = %s") == []
    assert system.crashes() == {}
