"""The Zoho sink end to end: canonical events on the real broker -> the sink process -> the emulator over HTTP."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections import Counter

from control.commands import CommandWriter
from tests.infra import Infra, end_offsets, wait_until
from tests.zoho_sink.conftest import (
    SinkRunner,
    ZohoOrg,
    dead_letters,
    grade_event,
    link_event,
    lo,
    lo_rows,
    outcomes,
    produce,
    wait_outcomes,
)

KEY = "Moodle_Grade_Composite_Key"


def _thousand(zoho: ZohoOrg) -> list[dict[str, object]]:
    return [grade_event(zoho.tenant, 1000 + s, a, zoho.students[s], zoho.classes[a % 2], letter="PMD"[a % 3])
            for s in range(200) for a in range(5)]


def test_thousand_grades_in_ten_calls_then_nothing_for_unchanged(infra: Infra, zoho: ZohoOrg,
                                                                  sinks: SinkRunner) -> None:
    zoho.seed(students=200)
    events = _thousand(zoho)
    produce(infra, "canonical.grade", events)
    # Linger long enough that a loaded machine still gathers whole batches of 100.
    sink = sinks.start(zoho, SINK_LINGER_MS="2000")
    done = wait_outcomes(infra, zoho.tenant, 1000)

    records = zoho.records()
    assert len(records) == 1000
    assert len({r[KEY] for r in records}) == 1000
    by_key = {r[KEY]: r for r in records}
    sample = by_key["1007_2"]
    assert sample["Student"]["id"] == zoho.students[7] and sample["Class"]["id"] == zoho.classes[0]
    assert sample["Grade"] == "D" and sample["Attempt_Number"] == 1 and sample["Grader_Name"] == "Ms Teacher"
    assert all(lo_rows(r) == [("P1", "1"), ("P2", "1")] for r in records)
    assert Counter(o["action"] for o in done) == {"created": 1000}
    assert len(zoho.write_calls()) <= 10
    assert sink.metric("zoho_client_records_per_call_sum", operation="upsert") == 1000

    # The same events again, read by a new consumer group after a restart: Zoho is not written again.
    sinks.stop_all()
    calls_before = len(zoho.write_calls())
    mark = end_offsets(infra.bootstrap, "zoho.outcomes")
    produce(infra, "canonical.grade", events[:100])
    sinks.start(zoho)
    again = wait_outcomes(infra, zoho.tenant, 1100, start=mark)
    assert Counter(o["action"] for o in again) == {"unchanged": 1100}
    assert len(zoho.write_calls()) == calls_before
    assert len(zoho.records()) == 1000


def test_regrade_replaces_learning_outcomes_and_newer_wins(infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    zoho.seed(students=2)
    student, cls = zoho.students[0], zoho.classes[0]
    first = grade_event(zoho.tenant, 7, 42, student, cls, letter="R", los=[lo("P1", 0), lo("P2", 1), lo("M1", 0)])
    sinks.start(zoho)
    produce(infra, "canonical.grade", [first])
    wait_outcomes(infra, zoho.tenant, 1)
    (before,) = zoho.records()
    assert lo_rows(before) == [("M1", "0"), ("P1", "0"), ("P2", "1")]

    long_feedback = "x" * 2500
    regrade = grade_event(zoho.tenant, 7, 42, student, cls, attempt=2, letter="M", role="iv", grader="Mr IV",
                          los=[lo("P1", 1, "now met"), lo("P2", 1), lo("D1", 1)], feedback=long_feedback,
                          graded_ms=1_760_000_500_000)
    produce(infra, "canonical.grade", [regrade])
    wait_outcomes(infra, zoho.tenant, 2)
    # Attempt 1 re-sent late with a change must not overwrite attempt 2.
    late = grade_event(zoho.tenant, 7, 42, student, cls, letter="F", los=[lo("P1", 0)],
                       graded_ms=1_760_000_900_000)
    produce(infra, "canonical.grade", [late])
    results = wait_outcomes(infra, zoho.tenant, 3)

    (after,) = zoho.records()
    assert after["id"] == before["id"]
    assert after["Grade"] == "M" and after["Attempt_Number"] == 2
    assert after["IV_Name"] == "Mr IV" and after["Grader_Name"] == "Ms Teacher"
    assert lo_rows(after) == [("D1", "1"), ("P1", "1"), ("P2", "1")]
    rows = {r["LO_Code"]: r for r in after["Learning_Outcomes_Assessm"]}
    assert rows["P1"]["LO_Feedback"] == "now met"
    # P2 did not change: its row is the same row, not a re-added copy.
    assert rows["P2"]["id"] == {r["LO_Code"]: r for r in before["Learning_Outcomes_Assessm"]}["P2"]["id"]
    assert after["Feedback"] == "x" * 1997 + "..."
    assert [o["action"] for o in results] == ["created", "updated", "unchanged"]
    assert results[2]["error_message"] and "older" in results[2]["error_message"]
    assert sinks.running[0].metric("zoho_sink_values_truncated_total", field="Feedback") == 1


def test_faults_give_the_same_final_state(infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    zoho.seed(students=60)
    first = [grade_event(zoho.tenant, 2000 + s, a, zoho.students[s], zoho.classes[0])
             for s in range(60) for a in range(5)]
    regrades = [grade_event(zoho.tenant, 2000 + s, a, zoho.students[s], zoho.classes[0], attempt=2, letter="D",
                            los=[lo("P1", 1), lo("M1", 1), lo("D1", 1)]) for s in range(0, 60, 2) for a in range(5)]
    zoho.emu.faults(rate_429=0.2, error_rate=0.05, timeout_rate=0.05)
    sink = sinks.start(zoho, SINK_MAX_PENDING="100")
    produce(infra, "canonical.grade", first)
    wait_until(lambda: len(outcomes(infra, zoho.tenant)) >= 100, 60, 0.5)
    # Besides the random faults, the next calls surely see a timeout, a 500 and a 429, after a token expiry.
    zoho.emu.faults(expire_tokens_now=True, next=["timeout", "500", "429"])
    produce(infra, "canonical.grade", regrades)
    wait_outcomes(infra, zoho.tenant, 450, timeout=120)
    wait_until(lambda: zoho.emu.admin("GET", "state")["orgs"][zoho.tenant]["in_flight"] == 0, 10)

    records = zoho.records()
    assert len(records) == 300 and len({r[KEY] for r in records}) == 300
    regraded = {e["entity_id"] for e in regrades}
    for r in records:
        if r[KEY] in regraded:
            assert (r["Grade"], lo_rows(r)) == ("D", [("D1", "1"), ("M1", "1"), ("P1", "1")]), r[KEY]
        else:
            assert (r["Grade"], lo_rows(r)) == ("P", [("P1", "1"), ("P2", "1")]), r[KEY]
    for status in ("429", "500", "timeout", "401"):
        assert sink.metric("zoho_client_calls_total", status=status) > 0, status
    assert sink.metric("zoho_client_token_refreshes_total", outcome="issued") == 2
    assert not [o for o in outcomes(infra, zoho.tenant) if o["action"] == "failed"]


def test_sigkill_mid_batch_then_restart(infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    zoho.seed(students=50)
    events = [grade_event(zoho.tenant, 3000 + s, a, zoho.students[s], zoho.classes[0], los=[lo("P1", 1), lo("M1", 0)])
              for s in range(50) for a in range(4)]
    produce(infra, "canonical.grade", events)
    zoho.emu.faults(latency_ms=1500)
    group = f"sink-kill-{zoho.tenant}"
    first = sinks.start(zoho, group, SINK_MAX_PENDING="100", SINK_SESSION_TIMEOUT_MS="6000")

    def upsert_in_flight() -> bool:
        state = zoho.emu.admin("GET", "state")["orgs"][zoho.tenant]
        return bool(state["in_flight"]) and any(c["operation"] == "upsert" for c in zoho.emu.calls(zoho.tenant))

    assert wait_until(upsert_in_flight, 60, 0.05)
    first.kill()  # the second upsert is still in flight: Zoho applies it, the sink never hears of it
    time.sleep(1.6)
    zoho.emu.faults(latency_ms=0)
    second = sinks.start(zoho, group, SINK_MAX_PENDING="100", SINK_SESSION_TIMEOUT_MS="6000")
    wait_until(lambda: len({o["record_key"] for o in outcomes(infra, zoho.tenant)}) >= 200, 60, 0.5)
    expected = [("M1", "0"), ("P1", "1")]
    wait_until(lambda: all(lo_rows(r) == expected for r in zoho.records()), 30, 0.5)

    records = zoho.records()
    assert len(records) == 200 and len({r[KEY] for r in records}) == 200
    assert all(lo_rows(r) == expected for r in records)
    # The restarted sink found rows it had written before the kill and removed the copies it re-added.
    assert second.metric("zoho_sink_subform_repairs_total") > 0


def test_rejected_record_is_dead_lettered_and_its_neighbours_land(infra: Infra, zoho: ZohoOrg,
                                                                   sinks: SinkRunner) -> None:
    zoho.seed(students=9)
    events = [grade_event(zoho.tenant, 4000 + s, 1, zoho.students[s], zoho.classes[0]) for s in range(9)]
    gone_student = "9" * 19
    events.insert(4, grade_event(zoho.tenant, 4999, 1, gone_student, zoho.classes[0]))
    sinks.start(zoho)
    produce(infra, "canonical.grade", events)
    done = wait_outcomes(infra, zoho.tenant, 10)

    assert len(zoho.records()) == 9
    failed = [o for o in done if o["action"] == "failed"]
    assert [(o["record_key"], o["error_code"]) for o in failed] == [("4999_1", "INVALID_DATA")]
    letters = wait_until(lambda: dead_letters(infra, zoho.tenant), 20)
    assert len(letters) == 1
    (letter,) = letters
    assert letter["reason"] == "zoho_rejected" and letter["record_id"] == "4999_1"
    assert letter["errors"][0]["field"] == "Student" and "INVALID_DATA" in letter["errors"][0]["message"]
    assert gone_student.encode() in letter["body"]


def test_student_links_and_no_echo(infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    zoho.seed(students=3)
    sinks.start(zoho)
    produce(infra, "canonical.moodle_user", [
        link_event(zoho.tenant, 501, zoho.students[0], "email"),
        link_event(zoho.tenant, 502, zoho.students[1], "student_moodle_id"),  # read from Zoho: nothing to write
    ])
    produce(infra, "canonical.grade", [
        grade_event(zoho.tenant, 501, 1, zoho.students[0], zoho.classes[0]),
        grade_event(zoho.tenant, 502, 1, zoho.students[1], zoho.classes[0], origin="zoho"),  # Zoho's own grade
    ])
    wait_outcomes(infra, zoho.tenant, 2)
    time.sleep(1)

    students = {s["id"]: s for s in zoho.records("BTEC_Students")}
    assert students[zoho.students[0]]["Student_Moodle_ID"] == "501"
    assert students[zoho.students[1]]["Student_Moodle_ID"] is None
    assert [r[KEY] for r in zoho.records()] == ["501_1"]
    assert zoho.emu.admin("GET", "webhooks")["pending"] == 0
    assert zoho.webhooks_fired() == []
    # The same kind of write without `"trigger": []` does fire one: the check above can see a webhook.
    zoho.create("BTEC_Classes", [{"Class_Name": "fires a workflow"}], "Class_Name", trigger=True)
    assert wait_until(lambda: zoho.webhooks_fired(), 10)


async def test_a_retry_command_writes_a_failed_record_again(infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    """The control plane's retry reaches Zoho through the sink (commands.zoho), once the cause is fixed in Zoho."""
    zoho.seed(students=1)
    # The student the grade names does not exist yet: Zoho rejects the lookup.
    missing = str(max(int(i) for i in [*zoho.students, *zoho.classes]) + 1)
    event = grade_event(zoho.tenant, 5100, 1, missing, zoho.classes[0])
    sinks.start(zoho)
    produce(infra, "canonical.grade", [event])
    (first,) = wait_outcomes(infra, zoho.tenant, 1)
    assert (first["action"], first["error_code"]) == ("failed", "INVALID_DATA")

    # The registrar creates the student in Zoho (the emulator numbers records in order), then asks for a retry.
    (created,) = zoho.create("BTEC_Students", [{"Academic_Email": "late@x.test", "First_Name": "Late"}],
                             "Academic_Email")
    assert created == missing
    start = end_offsets(infra.bootstrap, "zoho.outcomes")
    writer = CommandWriter(infra.bootstrap)
    sent = await writer.retry(zoho.tenant, "grade", event["entity_id"], event["event_id"], "test")
    writer.close()
    assert sent["topic"] == "commands.zoho"
    (again,) = wait_outcomes(infra, zoho.tenant, 1, start=start)
    assert (again["action"], again["event_id"]) == ("created", event["event_id"])
    (record,) = zoho.records()
    assert record["Student"]["id"] == missing and record[KEY] == event["entity_id"]


def _in_workflow(event: dict[str, object], state: str, released: bool, status: str) -> dict[str, object]:
    changed = copy.deepcopy(event)
    payload = changed["payload"]
    assert isinstance(payload, dict)
    payload |= {"workflow_state": state, "released": released, "grade_status": status}
    changed["fingerprint"] = uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(payload, sort_keys=True)).hex
    changed["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, str(changed["fingerprint"])))
    return changed


def test_unreleased_grades_wait_for_release_unless_the_tenant_wants_them(infra: Infra, zoho: ZohoOrg,
                                                                         sinks: SinkRunner) -> None:
    zoho.seed(students=2)
    marking = [_in_workflow(grade_event(zoho.tenant, 5200 + s, 1, zoho.students[s], zoho.classes[0],
                                        graded_ms=1_760_000_000_000), "inmarking", False, "In Marking")
               for s in range(2)]
    ready = _in_workflow(grade_event(zoho.tenant, 5201, 1, zoho.students[1], zoho.classes[0],
                                     graded_ms=1_760_000_100_000), "readyforrelease", False, "Ready for release")
    released = _in_workflow(grade_event(zoho.tenant, 5200, 1, zoho.students[0], zoho.classes[0],
                                        graded_ms=1_760_000_200_000), "released", True, "Released")
    # Default: a grade the student cannot see yet stays out of Zoho; once released it is written.
    sinks.start(zoho)
    produce(infra, "canonical.grade", [*marking, ready, released])
    (done,) = wait_outcomes(infra, zoho.tenant, 1)
    assert (done["action"], done["record_key"]) == ("created", "5200_1")
    time.sleep(2)  # linger a few flushes: nothing else may come
    assert len(outcomes(infra, zoho.tenant)) == 1
    assert [(r[KEY], r["Grade_Status"]) for r in zoho.records()] == [("5200_1", "Released")]

    # A tenant that wants them sees every marking stage in Grade_Status.
    sinks.stop_all()
    start = end_offsets(infra.bootstrap, "zoho.outcomes")
    sinks.start(zoho, options={"unreleased_grades": True})
    wait_outcomes(infra, zoho.tenant, 4, start=start)
    assert sorted((r[KEY], r["Grade_Status"]) for r in zoho.records()) == [
        ("5200_1", "Released"), ("5201_1", "Ready for release")]


def test_a_refused_module_fails_each_record_visibly_until_the_admin_grants_it(infra: Infra, zoho: ZohoOrg,
                                                                              sinks: SinkRunner) -> None:
    zoho.seed(students=3)
    zoho.emu.admin("POST", f"orgs/{zoho.tenant}/profile", json={"no_access_modules": ["BTEC_Grades"]})
    sink = sinks.start(zoho)
    produce(infra, "canonical.grade", [grade_event(zoho.tenant, 5300 + s, 1, zoho.students[s], zoho.classes[0])
                                       for s in range(2)])
    refused = wait_outcomes(infra, zoho.tenant, 2)
    assert {(o["action"], o["error_code"]) for o in refused} == {("failed", "NO_PERMISSION")}
    assert sink.metric("zoho_sink_tenant_refused", tenant=zoho.tenant) == 1
    letters = wait_until(lambda: [d for d in dead_letters(infra, zoho.tenant) if d["reason"] == "zoho_rejected"], 20)
    assert len(letters) == 2
    # The admin gives the API user its rights back; the next grade is written (the refused ones wait for a retry).
    zoho.emu.admin("POST", f"orgs/{zoho.tenant}/profile", json={"no_access_modules": []})
    start = end_offsets(infra.bootstrap, "zoho.outcomes")
    produce(infra, "canonical.grade", [grade_event(zoho.tenant, 5302, 1, zoho.students[2], zoho.classes[0])])
    (done,) = wait_outcomes(infra, zoho.tenant, 1, start=start)
    assert done["action"] == "created" and sink.metric("zoho_sink_tenant_refused", tenant=zoho.tenant) == 0
    assert [r[KEY] for r in zoho.records()] == ["5302_1"]


def test_a_token_zoho_stops_accepting_is_refreshed_and_the_write_lands(infra: Infra, zoho: ZohoOrg,
                                                                        sinks: SinkRunner) -> None:
    zoho.seed(students=1)
    sinks.start(zoho)
    produce(infra, "canonical.grade", [grade_event(zoho.tenant, 5400, 1, zoho.students[0], zoho.classes[0])])
    wait_outcomes(infra, zoho.tenant, 1)
    start = end_offsets(infra.bootstrap, "zoho.outcomes")
    zoho.emu.faults(next=["auth_failure"])
    produce(infra, "canonical.grade", [grade_event(zoho.tenant, 5401, 1, zoho.students[0], zoho.classes[0])])
    (done,) = wait_outcomes(infra, zoho.tenant, 1, start=start)
    assert done["action"] == "created"
    assert sorted(r[KEY] for r in zoho.records()) == ["5400_1", "5401_1"]


def test_a_teacher_and_an_iv_grading_in_one_batch_both_show_in_zoho(infra: Infra, zoho: ZohoOrg,
                                                                    sinks: SinkRunner) -> None:
    zoho.seed(students=1)
    teacher = grade_event(zoho.tenant, 5500, 1, zoho.students[0], zoho.classes[0], letter="M",
                          graded_ms=1_760_000_000_000, role="teacher", grader="Ms Teacher")
    iv = grade_event(zoho.tenant, 5500, 1, zoho.students[0], zoho.classes[0], letter="D",
                     graded_ms=1_760_000_060_000, role="iv", grader="Mr Verifier")
    produce(infra, "canonical.grade", [teacher, iv])  # before the sink starts: one batch holds both
    sinks.start(zoho)
    wait_outcomes(infra, zoho.tenant, 2)
    (record,) = zoho.records()
    assert (record["Grade"], record["Grader_Name"], record["IV_Name"]) == ("D", "Ms Teacher", "Mr Verifier")


def test_a_teachers_unreleased_grade_names_the_grader_once_the_ivs_grade_is_released(infra: Infra, zoho: ZohoOrg,
                                                                                      sinks: SinkRunner) -> None:
    zoho.seed(students=1)
    sinks.start(zoho)
    teacher = _in_workflow(grade_event(zoho.tenant, 5600, 1, zoho.students[0], zoho.classes[0], letter="M",
                                       graded_ms=1_760_000_000_000, grader="Ms Teacher"),
                           "readyforreview", False, "Marking completed")
    produce(infra, "canonical.grade", [teacher])
    time.sleep(3)  # a flush or two: the unreleased grade is not written
    assert zoho.records() == []
    iv = _in_workflow(grade_event(zoho.tenant, 5600, 1, zoho.students[0], zoho.classes[0], letter="D",
                                  graded_ms=1_760_000_060_000, role="iv", grader="Mr Verifier"),
                      "released", True, "Released")
    produce(infra, "canonical.grade", [iv])
    (done,) = wait_outcomes(infra, zoho.tenant, 1)
    assert done["action"] == "created"
    (record,) = zoho.records()
    assert (record["Grade"], record["Grade_Status"], record["Grader_Name"], record["IV_Name"]) == (
        "D", "Released", "Ms Teacher", "Mr Verifier")
