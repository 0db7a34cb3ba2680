"""Waiting records survive a killed worker, and bad records never stop their neighbours."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from ops.college import webhooks as college
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, metric_sum, read_at
from tests.streams.conftest import Sender, StreamsRun, canonical_events, deadletters, new_id, offsets, settled, wait_for


async def test_sigkill_while_grades_wait_releases_all_exactly_once(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.grade")
    pid, uid, cid = new_id(), new_id(), new_id()
    students = [(new_id(), new_id(), new_id()) for _ in range(30)]  # student, reg, grade
    streams_run.start("w1")
    async with sender.client() as client:
        for module, body in (("Products", college.program(pid)), ("BTEC", college.unit(uid, pid)),
                             ("BTEC_Classes", college.klass(cid, uid, pid))):
            await sender.zoho(client, module, college.notification(module, body, new_id()))
        # Grades first: their students and registrations do not exist yet, so they wait.
        for sid, _, gid in students:
            body = college.notification("BTEC_Grades", college.zoho_grade(gid, sid, cid), new_id())
            await sender.zoho(client, "BTEC_Grades", body)
    await settled(infra, streams_run)  # the worker has read them and stores them as waiting
    assert canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name) == []

    streams_run.kill("w1")
    streams_run.start("w1")
    async with sender.client() as client:
        for sid, rid, _ in students:
            await sender.zoho(client, "BTEC_Students", college.notification(
                "BTEC_Students", college.student(sid, f"k{sid}@college.example"), new_id()))
            await sender.zoho(client, "BTEC_Registrations", college.notification(
                "BTEC_Registrations", college.registration(rid, sid, pid), new_id()))

    def released() -> list[dict[str, Any]] | None:
        grades = canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name)
        return grades if len(grades) >= len(students) else None

    assert await wait_for(released, within=120), "buffered grades were not released after the restart"
    await settled(infra, streams_run)  # anything released twice is out by now
    grades = canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name)
    assert sorted(g["entity_id"] for g in grades) == sorted(gid for _, _, gid in students)
    assert {g["payload"]["registration_id"] for g in grades} == {rid for _, rid, _ in students}


async def test_a_grade_that_lacks_something_new_after_a_restart_is_still_released_when_it_comes(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    """A waiting record is stored once; what it lacks next (here the unit, once its class came) is kept in
    memory only, so a restarted worker must find it out again before the unit arrives."""
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.grade")
    pid, uid, cid, sid, rid, gid = (new_id() for _ in range(6))
    streams_run.start("w1")
    async with sender.client() as client:
        for module, body in (("BTEC_Students", college.student(sid, f"u{sid}@college.example")),
                             ("BTEC_Registrations", college.registration(rid, sid, pid)),
                             ("BTEC_Grades", college.zoho_grade(gid, sid, cid))):
            await sender.zoho(client, module, college.notification(module, body, new_id()))
        await settled(infra, streams_run)  # the grade waits for its class
        await sender.zoho(client, "BTEC_Classes",
                          college.notification("BTEC_Classes", college.klass(cid, uid, pid), new_id()))
        await settled(infra, streams_run)  # ... and now for its unit
    streams_run.kill("w1")
    streams_run.start("w1")
    await settled(infra, streams_run)
    async with sender.client() as client:
        for module, body in (("Products", college.program(pid)), ("BTEC", college.unit(uid, pid))):
            await sender.zoho(client, module, college.notification(module, body, new_id()))

    def released() -> list[dict[str, Any]] | None:
        return canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name) or None

    grades = await wait_for(released, within=120)
    assert grades, "the grade still waits for a unit that arrived"
    await settled(infra, streams_run)
    grades = canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name)
    assert [g["entity_id"] for g in grades] == [gid]
    payload = grades[0]["payload"]
    assert (payload["class_id"], payload["unit_id"], payload["program_id"], payload["registration_id"]) == (
        cid, uid, pid, rid)


async def test_batch_of_100_with_7_invalid_gives_93_events_and_7_dead_letters(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.student", "deadletter")
    records = [college.student(new_id(), f"b{i}@college.example") for i in range(100)]
    bad = {3: ("Academic_Email", None), 17: ("Academic_Email", "not-an-email"), 29: ("Status", "Sleeping"),
           41: ("First_Name", "A"), 55: ("Academic_Email", ""), 68: ("Status", 12), 90: ("Academic_Email", "x@")}
    for index, (field, value) in bad.items():
        if value is None:
            records[index].pop(field)
        else:
            records[index][field] = value
    streams_run.start("w1")
    async with sender.client() as client:
        await sender.zoho(client, "BTEC_Students", {"data": records})

    def arrived() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        events = canonical_events(infra, "student", start["canonical.student"], fresh_tenant.name)
        letters = deadletters(infra, start["deadletter"], fresh_tenant.name)
        return (events, letters) if len(events) + len(letters) >= 100 else None

    result = await wait_for(arrived, within=90)
    assert result, "the batch was not processed"
    events, letters = result
    assert len(events) == 93 and len(letters) == 7
    assert {e["entity_id"] for e in events} == {r["id"] for i, r in enumerate(records) if i not in bad}
    assert {dl["record_index"] for dl in letters} == set(bad)
    for dl in letters:
        field = bad[dl["record_index"]][0]
        assert dl["reason"] == "invalid_record"
        assert dl["errors"], dl
        assert dl["raw"]["topic"] == "raw.zoho"
        assert any(field.lower().replace("_", "") in (e["field"] or "").lower().replace("_", "")
                   or field.split("_")[0].lower() in (e["field"] or "").lower() for e in dl["errors"]), dl["errors"]


async def test_a_record_near_the_body_limit_that_fails_is_a_dead_letter_and_its_neighbours_go_on(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    """A body of almost 1 MiB (the ingress takes up to 1 MiB) whose record is invalid: its dead letter with the
    body would be over what a Kafka record may hold. That stopped the intake's batch, and the batch was
    committed as read: the records around it were lost (a CI run lost three grades that way)."""
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.student", "deadletter")
    before = [college.student(new_id(), f"n{i}@college.example") for i in range(5)]
    after = [college.student(new_id(), f"m{i}@college.example") for i in range(5)]
    huge = college.student(new_id(), "not-an-email", Notes="x" * (1000 * 1024))
    streams_run.start("w1")
    async with sender.client() as client:
        for record in (*before, huge, *after):
            await sender.zoho(client, "BTEC_Students", college.notification("BTEC_Students", record, new_id()))

    def arrived() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        events = canonical_events(infra, "student", start["canonical.student"], fresh_tenant.name)
        letters = deadletters(infra, start["deadletter"], fresh_tenant.name)
        return (events, letters) if len(events) >= 10 and letters else None

    result = await wait_for(arrived, within=90)
    assert result, "the records around the large one were not processed"
    events, letters = result
    assert {e["entity_id"] for e in events} == {r["id"] for r in (*before, *after)}
    [letter] = letters
    assert letter["reason"] == "invalid_record" and letter["record_id"] == huge["id"]
    # The body stays in the raw record the letter points at; a retry takes it from there.
    assert letter["body"] == b"" and "is not kept here" in letter["message"]
    raw = read_at(infra.bootstrap, letter["raw"]["topic"], letter["raw"]["partition"], letter["raw"]["offset"])
    assert raw.value is not None and huge["id"].encode() in raw.value and len(raw.value) > 1000 * 1024


async def test_redeliveries_and_unchanged_resends_produce_one_event(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.student", "canonical.moodle_user")
    sid = new_id()
    body = college.notification("BTEC_Students", college.student(sid, f"r{sid}@college.example"), new_id())
    user = college.moodle_user(4242, f"r{sid}@college.example", new_id())
    worker = streams_run.start("w1")
    async with sender.client() as client:
        for _ in range(3):
            await sender.zoho(client, "BTEC_Students", body)  # same notification id: a redelivery
            await sender.moodle(client, "user_created", user)  # same webhook-id
        resend = {**body, "notification_id": new_id()}  # a new notification, nothing changed
        await sender.zoho(client, "BTEC_Students", resend)
        # Field-name variants of the same record change nothing either.
        variant = dict(body["data"])
        variant["Academic Email"] = variant.pop("Academic_Email")
        await sender.zoho(client, "BTEC_Students", {**body, "notification_id": new_id(), "data": variant})
    await settled(infra, streams_run)
    students = canonical_events(infra, "student", start["canonical.student"], fresh_tenant.name)
    users = canonical_events(infra, "moodle_user", start["canonical.moodle_user"], fresh_tenant.name)
    assert [e["entity_id"] for e in students] == [sid]
    # The Moodle user is emitted once, then once more when the email match links it to the student.
    assert {e["entity_id"] for e in users} == {"4242"}
    assert users[-1]["payload"]["student_id"] == sid
    assert len(users) <= 2
    # The copies with a delivery id already seen were dropped at intake (this generation read the whole raw
    # log, other tests' redeliveries included), not only found unchanged later.
    redeliveries = metric_sum(f"http://127.0.0.1:{worker.web_port}/metrics", "streams_dropped_total",
                              why="redelivery")
    assert redeliveries >= 4
    # Every emitted event was checked against what was last emitted for its entity: reads a cache serves or not.
    emitted_reads = [metric_sum(f"http://127.0.0.1:{worker.web_port}/metrics", "streams_state_reads_total",
                                table="emitted", source=source) for source in ("cache", "rocksdb")]
    assert sum(emitted_reads) >= len(students) + len(users)


async def _zoho_side(sender: Sender, client: httpx.AsyncClient, student: dict[str, Any], pid: str, uid: str,
                     cid: str, rid: str, course: int) -> None:
    """The student, and the program, unit, class (of Moodle course `course`) and registration a grade needs."""
    for module, body in (("BTEC_Students", student), ("Products", college.program(pid)),
                         ("BTEC", college.unit(uid, pid)),
                         ("BTEC_Classes", college.klass(cid, uid, pid, course=course)),
                         ("BTEC_Registrations", college.registration(rid, student["id"], pid))):
        await sender.zoho(client, module, college.notification(module, body, new_id()))


async def test_moodle_grade_joins_through_the_email_link_and_course(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.grade")
    pid, uid, cid, sid, rid = (new_id() for _ in range(5))
    email = f"m{sid}@college.example"
    streams_run.start("w1")
    async with sender.client() as client:
        grade1 = college.moodle_grade(512, 77, 1305, 72.5, new_id(), attempt=1, role="iv")
        grade2 = college.moodle_grade(512, 77, 1305, 55.0, new_id(), attempt=2, role="teacher")
        await sender.moodle(client, "grade_updated", grade1)
        await sender.moodle(client, "grade_updated", grade2)
        await sender.moodle(client, "user_created", college.moodle_user(512, email.upper(), new_id()))
        await _zoho_side(sender, client, college.student(sid, email), pid, uid, cid, rid, course=77)

    def both() -> list[dict[str, Any]] | None:
        grades = canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name)
        return grades if len(grades) >= 2 else None

    grades = await wait_for(both, within=90)
    assert grades, "Moodle grades were not joined"
    by_attempt = {g["payload"]["attempt_number"]: g for g in grades}
    assert set(by_attempt) == {1, 2}
    first, second = by_attempt[1]["payload"], by_attempt[2]["payload"]
    assert {g["entity_id"] for g in grades} == {"512_1305"}
    for p in (first, second):
        assert (p["student_id"], p["class_id"], p["unit_id"], p["program_id"], p["registration_id"]) == (
            sid, cid, uid, pid, rid)
        assert p["moodle_user_id"] == "512" and p["composite_key"] == "512_1305"
    assert first["letter"] == "D" and first["iv_name"] == "Rania Khoury" and first["grader_name"] is None
    assert second["letter"] == "P" and second["grader_name"] == "Rania Khoury" and second["iv_name"] is None
    assert json.dumps(first["learning_outcomes"])  # LOs carried through


async def test_teacher_and_iv_grading_one_attempt_while_it_waits_are_both_released(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    """The IV's regrade is newer, but the teacher's grade names the teacher: a wait replaced by the regrade would
    lose that name (Zoho's Grader_Name) for good."""
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.grade")
    pid, uid, cid, sid, rid = (new_id() for _ in range(5))
    streams_run.start("w1")
    async with sender.client() as client:
        await sender.moodle(client, "grade_updated", college.moodle_grade(
            513, 78, 1306, 65.0, new_id(), role="teacher", grader_name="Tariq Teacher", graded_at=1762064100))
        await sender.moodle(client, "grade_updated", college.moodle_grade(
            513, 78, 1306, 72.0, new_id(), role="iv", grader_name="Ivy Verifier", graded_at=1762064200))
        await _zoho_side(sender, client, college.student(sid, f"g{sid}@college.example", moodle_id=513), pid, uid,
                         cid, rid, course=78)

    def both() -> list[dict[str, Any]] | None:
        grades = canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name)
        return grades if len(grades) >= 2 else None

    grades = await wait_for(both, within=90)
    assert grades, "the waiting grades were not both released"
    names = {(g["payload"]["grader_name"], g["payload"]["iv_name"]) for g in grades}
    assert names == {("Tariq Teacher", None), (None, "Ivy Verifier")}
    assert {g["payload"]["class_id"] for g in grades} == {cid}


async def test_a_grade_whose_dependencies_never_come_expires_to_the_dead_letter_topic(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "deadletter", "canonical.grade")
    streams_run.env["PENDING_EXPIRY_S"] = "3"
    worker = streams_run.start("w1")
    gid, sid, cid = new_id(), new_id(), new_id()
    async with sender.client() as client:
        await sender.zoho(client, "BTEC_Grades",
                          college.notification("BTEC_Grades", college.zoho_grade(gid, sid, cid), new_id()))

    def expired() -> list[dict[str, Any]]:
        return [dl for dl in deadletters(infra, start["deadletter"], fresh_tenant.name)
                if dl["reason"] == "unresolved_dependency"]

    letters = await wait_for(expired, within=60)
    assert [dl["record_id"] for dl in letters] == [gid]
    assert {e["field"] for e in letters[0]["errors"]} >= {"student"}
    assert canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name) == []
    # The waiting count and the dead letters are metrics of the worker.
    text = (await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{worker.web_port}/metrics", timeout=10)).text
    assert "streams_waiting_records{" in text
    # (A fresh generation re-reads earlier tests' raw records too, so at least ours is counted.)
    counted = [line for line in text.splitlines()
               if line.startswith('streams_dead_letters_total{reason="unresolved_dependency"}')]
    assert counted and float(counted[0].split()[-1]) >= 1


async def test_waiting_is_capped_per_tenant(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "deadletter")
    streams_run.env["PENDING_CAP"] = "5"
    streams_run.start("w1")
    sid, cid = new_id(), new_id()
    grades = [new_id() for _ in range(8)]
    async with sender.client() as client:
        for gid in grades:  # one student: one partition, so one counter
            body = college.notification("BTEC_Grades", college.zoho_grade(gid, sid, cid), new_id())
            await sender.zoho(client, "BTEC_Grades", body)

    def refused() -> list[dict[str, Any]]:
        letters = deadletters(infra, start["deadletter"], fresh_tenant.name)
        return [dl for dl in letters if dl["reason"] == "waiting_capacity_exceeded"]

    letters = await wait_for(refused, within=60)
    await settled(infra, streams_run)
    letters = refused()
    # Raw records of different grades sit on different partitions, so which three are refused varies.
    assert len(letters) == 3 and {dl["record_id"] for dl in letters} < set(grades)

    # A record that already waits, sent again (or read again after a restart), replaces its wait: not refused.
    waiting_one = sorted(set(grades) - {dl["record_id"] for dl in letters})[0]
    async with sender.client() as client:
        body = college.notification("BTEC_Grades", college.zoho_grade(waiting_one, sid, cid), new_id())
        await sender.zoho(client, "BTEC_Grades", body)
    await settled(infra, streams_run)
    assert {dl["record_id"] for dl in refused()} == {dl["record_id"] for dl in letters}
