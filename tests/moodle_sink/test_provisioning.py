"""Zoho programs, students, teachers, classes and enrollments become Moodle categories, users, courses and
enrolments; a re-run (a new consumer group reading everything again) creates nothing twice and calls nothing."""

from __future__ import annotations

from collections import Counter

from tests.infra import Infra, end_offsets, wait_until
from tests.moodle_sink.conftest import (
    MoodleSite,
    SinkRunner,
    dead_letters,
    enrollment,
    klass,
    produce,
    program,
    student,
    teacher,
    wait_outcomes,
)


def test_a_college_known_only_in_zoho_is_provisioned_once(infra: Infra, site: MoodleSite,
                                                          sinks: SinkRunner) -> None:
    t = site.tenant
    # Enrollments first: they wait for their users and courses and are made once those exist.
    events = [*(enrollment(t, s, c) for s in range(6) for c in (1, 2)), program(t, 1), teacher(t, 1),
              teacher(t, 2), *(student(t, s) for s in range(6)), klass(t, 1, teacher_n=1),
              klass(t, 2, teacher_n=2)]
    produce(infra, events)
    sink = sinks.start([site.site()])
    # 1 category, 8 users, 2 courses, 12 + 2 enrolments.
    found = wait_outcomes(infra, t, 25)
    assert Counter(o["action"] for o in found) == {"created": 25}, found
    assert {(o["entity"], o["record_key"]) for o in found if o["entity"] == "student"} == {
        ("student", f"S{s:05d}") for s in range(6)}

    users = {u["idnumber"]: u for u in site.users()}
    assert sorted(users) == sorted([*(f"STU-{s:05d}" for s in range(6)), "T0001", "T0002"])
    assert users["STU-00003"]["email"] == "student3@horizon-college.com"
    assert users["STU-00003"]["username"] == "student3@horizon-college.com"
    assert (users["T0001"]["firstname"], users["T0001"]["lastname"]) == ("Teacher", "Number1")
    (category,) = [c for c in site.table("categories") if c["idnumber"] == "P001"]
    courses = {c["idnumber"]: c for c in site.table("courses") if c["idnumber"]}
    assert sorted(courses) == ["C0001", "C0002"]
    assert courses["C0001"]["shortname"] == "Class 1 Programming" and courses["C0001"]["category"] == category["id"]
    by_id = {u["id"]: u["idnumber"] for u in users.values()}
    course_of = {c["id"]: idnumber for idnumber, c in courses.items()}
    enrolled = {(by_id[e["userid"]], course_of[e["courseid"]], tuple(e["roles"]), e["status"])
                for e in site.table("enrolments")}
    assert enrolled == {*((f"STU-{s:05d}", f"C000{c}", ("student",), 0) for s in range(6) for c in (1, 2)),
                        ("T0001", "C0001", ("editingteacher",), 0), ("T0002", "C0002", ("editingteacher",), 0)}
    # One create call per kind: 8 users, 1 category, 2 courses, 14 enrolments.
    calls = Counter(c["wsfunction"] for c in site.write_calls())
    assert calls["core_user_create_users"] == 1 and calls["core_course_create_courses"] == 1
    assert calls["core_course_create_categories"] == 1 and calls["enrol_manual_enrol_users"] <= 2
    assert sink.metric("moodle_sink_parked", tenant=t) == 0
    assert dead_letters(infra, t) == []

    # The same events again, read by a sink with a new consumer group: nothing is written twice.
    before = len(site.write_calls())
    mark = end_offsets(infra.bootstrap, "moodle.outcomes")
    sinks.start([site.site()])
    again = wait_outcomes(infra, t, 25, start=mark)
    assert Counter(o["action"] for o in again) == {"unchanged": 25}
    assert len(site.write_calls()) == before
    assert len(site.users()) == 8 and len(site.table("enrolments")) == 14


def test_calls_per_fifty_changed_and_none_for_unchanged(infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    sink = sinks.start([site.site()], MOODLE_SINK_LINGER_MS="1500")
    produce(infra, [program(t, 1), klass(t, 1, teacher_n=None), *(student(t, s) for s in range(120))])
    wait_outcomes(infra, t, 122)
    creates = [c for c in site.write_calls() if c["wsfunction"] == "core_user_create_users"]
    assert len(creates) <= 3 and sum(c["records"] for c in creates) == 120
    produce(infra, [enrollment(t, s, 1) for s in range(120)])
    wait_outcomes(infra, t, 242)
    enrols = [c for c in site.write_calls() if c["wsfunction"] == "enrol_manual_enrol_users"]
    assert len(enrols) <= 3 and sum(c["records"] for c in enrols) == 120

    # 60 students change their name, 60 are sent again unchanged: 2 update calls, nothing else.
    before = len(site.write_calls())
    produce(infra, [student(t, s, version=2, last_name=f"Renamed{s}") if s < 60 else student(t, s, version=2)
                    for s in range(120)])
    wait_outcomes(infra, t, 362)
    after = site.write_calls()[before:]
    assert [c["wsfunction"] for c in after] == ["core_user_update_users"] * 2
    assert sum(c["records"] for c in after) == 60
    assert {u["lastname"] for u in site.users() if u["idnumber"] == "STU-00007"} == {"Renamed7"}
    assert sink.metric("moodle_sink_outcomes_total", tenant=t, action="unchanged") == 60


def test_existing_accounts_and_courses_are_linked_not_duplicated(infra: Infra, site: MoodleSite,
                                                                 sinks: SinkRunner) -> None:
    t = site.tenant
    seeded = site.emu.admin("POST", "seed", json={"tenant": t, "users": [
        # Found by idnumber (another e-mail), by e-mail (no idnumber), by username (no idnumber, other e-mail).
        {"username": "old1", "firstname": "First1", "lastname": "Last1", "email": "old1@horizon-college.com",
         "idnumber": "STU-00001"},
        {"username": "old2", "firstname": "First2", "lastname": "Last2", "email": "student2@horizon-college.com"},
        {"username": "student3@horizon-college.com", "firstname": "First3", "lastname": "Last3",
         "email": "elsewhere3@horizon-college.com"}],
        "courses": [{"fullname": "Made by hand", "shortname": "HAND-1"}]})
    ids = seeded["users"]
    sinks.start([site.site()])
    produce(infra, [student(t, 1), student(t, 2), student(t, 3), student(t, 4),
                    klass(t, 1, program_n=None, teacher_n=None, moodle_course_id=str(seeded["courses"][0]))])
    found = wait_outcomes(infra, t, 5)
    actions = {o["record_key"]: (o["action"], o["moodle_id"]) for o in found}
    assert actions["S00001"] == ("linked", str(ids[0]))
    assert actions["S00002"] == ("linked", str(ids[1]))
    assert actions["S00003"] == ("linked", str(ids[2]))
    assert actions["S00004"][0] == "created"
    assert actions["C0001"] == ("linked", str(seeded["courses"][0]))
    assert len(site.users()) == 4
    users = {u["id"]: u for u in site.users()}
    # Linked accounts are brought to Zoho's values (e-mail, idnumber); their username, the person's login, is left
    # as it was.
    assert (users[ids[0]]["email"], users[ids[0]]["username"]) == ("student1@horizon-college.com", "old1")
    assert (users[ids[1]]["idnumber"], users[ids[1]]["username"]) == ("STU-00002", "old2")
    (course,) = [c for c in site.table("courses") if c["id"] == seeded["courses"][0]]
    assert course["idnumber"] == "C0001" and course["shortname"] == "Class 1 Programming"


def test_withdrawal_suspends_and_ended_enrollment_suspends(infra: Infra, site: MoodleSite,
                                                          sinks: SinkRunner) -> None:
    t = site.tenant
    sinks.start([site.site()])
    produce(infra, [program(t, 1), klass(t, 1, teacher_n=None), student(t, 1), student(t, 2),
                    enrollment(t, 1, 1), enrollment(t, 2, 1)])
    wait_outcomes(infra, t, 6)
    mark = end_offsets(infra.bootstrap, "moodle.outcomes")
    produce(infra, [student(t, 1, status="Withdraw", version=2), enrollment(t, 2, 1, version=2, deleted=True),
                    student(t, 9, status="Pending")])
    last = {o["record_key"]: o for o in wait_outcomes(infra, t, 3, start=mark)}
    assert last["S00001"]["action"] == "updated" and last["E000020001"]["action"] == "updated"
    assert last["S00009"]["action"] == "unchanged" and last["S00009"]["moodle_id"] is None
    users = {u["idnumber"]: u for u in site.users()}
    assert users["STU-00001"]["suspended"] is True and users["STU-00002"]["suspended"] is False
    assert "STU-00009" not in users  # a pending student gets no account
    status = {e["userid"]: e["status"] for e in site.table("enrolments")}
    assert status == {users["STU-00001"]["id"]: 0, users["STU-00002"]["id"]: 1}


def test_unenrol_setting_removes_the_enrolment(infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    sinks.start([site.site(on_end="unenrol")])
    produce(infra, [klass(t, 1, program_n=None, teacher_n=None), student(t, 1), enrollment(t, 1, 1)])
    wait_outcomes(infra, t, 3)
    assert len(site.table("enrolments")) == 1
    produce(infra, [enrollment(t, 1, 1, version=2, deleted=True)])
    wait_outcomes(infra, t, 4)
    assert wait_until(lambda: site.table("enrolments") == [], 10)
    assert len(site.users()) == 1  # the account stays


def test_a_course_made_before_its_program_moves_into_the_programs_category(
        infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    sinks.start([site.site()])
    produce(infra, [klass(t, 1, program_n=3, teacher_n=None)])
    wait_outcomes(infra, t, 1)
    (course,) = [c for c in site.table("courses") if c["idnumber"] == "C0001"]
    assert course["category"] == 1  # the default category while program P003 has none
    produce(infra, [program(t, 3)])
    found = wait_outcomes(infra, t, 3)
    assert sorted((o["entity"], o["action"]) for o in found) == [
        ("class", "created"), ("class", "updated"), ("program", "created")]
    (category,) = [c for c in site.table("categories") if c["idnumber"] == "P003"]
    (course,) = [c for c in site.table("courses") if c["idnumber"] == "C0001"]
    assert course["category"] == category["id"]
