"""Moodle enrolments into Zoho's BTEC_Enrollments, for a tenant that enables it: broker -> sink -> emulator."""

from __future__ import annotations

from collections import Counter

from tests.infra import Infra, end_offsets, wait_until
from tests.zoho_sink.conftest import (
    ENROLLMENT_KEY,
    SinkRunner,
    ZohoOrg,
    enrollment_event,
    outcomes,
    produce,
    wait_outcomes,
)

OPTIONS = {"enrollments": {"key_field": ENROLLMENT_KEY}}
TOPIC = "canonical.moodle_enrollment"
ENROLLED_MS = 1_760_000_000_000  # 2025-10-09
UNENROLLED_MS = 1_765_000_000_000  # 2025-12-06
REENROLLED_MS = 1_770_000_000_000  # 2026-02-02


def test_one_enrollment_per_student_and_course_in_batches_and_nothing_for_unchanged_or_unlinked(
        infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    zoho.seed(students=120)
    courses = {31: zoho.classes[0], 32: zoho.classes[1]}
    events = [enrollment_event(zoho.tenant, 700 + s, course, zoho.students[s], cls, class_name=f"class {course}")
              for s in range(120) for course, cls in courses.items()]
    repeated = events[:5]  # the same enrolments again: nothing more to write
    unlinked = [enrollment_event(zoho.tenant, 990, 31, None, zoho.classes[0]),  # Moodle user without a student
                enrollment_event(zoho.tenant, 991, 33, zoho.students[0], None)]  # course without a class
    produce(infra, TOPIC, events + repeated + unlinked)
    sink = sinks.start(zoho, options=OPTIONS, SINK_LINGER_MS="2000")
    done = wait_outcomes(infra, zoho.tenant, 245)

    records = zoho.records("BTEC_Enrollments")
    assert len(records) == 240
    by_key = {r[ENROLLMENT_KEY]: r for r in records}
    assert set(by_key) == {f"{700 + s}_{course}" for s in range(120) for course in courses}
    sample = by_key["707_32"]
    assert sample["Enrolled_Students"]["id"] == zoho.students[7]
    assert sample["Classes"] == {"id": zoho.classes[1], "name": f"{zoho.tenant} class 1"}
    assert (sample["Start_Date"], sample["End_Date"], sample["Enrollment_Type"], sample["Moodle_Course_ID"],
            sample["Class_Name"]) == ("2025-10-09", None, "Normal", "32", "class 32")
    assert Counter(o["action"] for o in done) == {"created": 240, "unchanged": 5}
    upserts = [c for c in zoho.calls_to("BTEC_Enrollments") if c["method"] == "POST"]
    assert [(c["operation"], c["records"]) for c in upserts] == [("upsert", 100), ("upsert", 100), ("upsert", 40)]
    assert wait_until(lambda: sink.metric("zoho_sink_events_skipped_total", reason="enrollment_not_linked") == 2, 10)
    assert zoho.webhooks_fired() == []  # written with "trigger": [], so nothing echoes back

    # Sent again: the state table answers, Zoho is not called.
    calls = len(zoho.calls_to("BTEC_Enrollments"))
    mark = end_offsets(infra.bootstrap, "zoho.outcomes")
    produce(infra, TOPIC, events[:50])
    again = wait_outcomes(infra, zoho.tenant, 50, start=mark)
    assert Counter(o["action"] for o in again) == {"unchanged": 50}
    assert len(zoho.calls_to("BTEC_Enrollments")) == calls


def test_unenrolment_ends_the_enrollment_and_a_reenrolment_opens_it_again(infra: Infra, zoho: ZohoOrg,
                                                                           sinks: SinkRunner) -> None:
    zoho.seed(students=1)
    student, cls = zoho.students[0], zoho.classes[0]
    sinks.start(zoho, options=OPTIONS)
    produce(infra, TOPIC, [enrollment_event(zoho.tenant, 801, 31, student, cls, enrolment=5001, at_ms=ENROLLED_MS)])
    wait_outcomes(infra, zoho.tenant, 1)
    (enrolled,) = zoho.records("BTEC_Enrollments")

    unenrol = enrollment_event(zoho.tenant, 801, 31, student, cls, enrolment=5001, at_ms=UNENROLLED_MS, deleted=True)
    produce(infra, TOPIC, [unenrol])
    wait_outcomes(infra, zoho.tenant, 2)
    (ended,) = zoho.records("BTEC_Enrollments")
    # The registrar's record of the enrolment stays, closed on the day of the unenrolment.
    assert ended["id"] == enrolled["id"]
    assert (ended["Start_Date"], ended["End_Date"]) == ("2025-10-09", "2025-12-06")
    assert ended["Enrolled_Students"]["id"] == student and ended["Classes"]["id"] == cls

    calls = len(zoho.calls_to("BTEC_Enrollments"))
    produce(infra, TOPIC, [unenrol])  # delivered twice
    wait_outcomes(infra, zoho.tenant, 3)
    assert len(zoho.calls_to("BTEC_Enrollments")) == calls

    # Enrolled again later (Moodle makes a new enrolment id): the same record, open again.
    produce(infra, TOPIC, [enrollment_event(zoho.tenant, 801, 31, student, cls, enrolment=5002, at_ms=REENROLLED_MS,
                                            time_start_ms=REENROLLED_MS)])
    wait_outcomes(infra, zoho.tenant, 4)
    # The first enrolment's unenrolment arriving late changes nothing: newer wins.
    produce(infra, TOPIC, [unenrol])
    results = wait_outcomes(infra, zoho.tenant, 5)

    (reopened,) = zoho.records("BTEC_Enrollments")
    assert reopened["id"] == enrolled["id"]
    assert (reopened["Start_Date"], reopened["End_Date"]) == ("2026-02-02", None)
    assert [o["action"] for o in results] == ["created", "updated", "unchanged", "updated", "unchanged"]
    assert "older" in (results[4]["error_message"] or "")
    assert zoho.webhooks_fired() == []


def test_a_tenant_without_the_option_gets_no_enrollment_writes(infra: Infra, zoho: ZohoOrg,
                                                               sinks: SinkRunner) -> None:
    zoho.seed(students=2)
    sink = sinks.start(zoho)
    produce(infra, TOPIC, [
        enrollment_event(zoho.tenant, 901, 31, zoho.students[0], zoho.classes[0]),
        enrollment_event(zoho.tenant, 902, 31, zoho.students[1], zoho.classes[0]),
        enrollment_event(zoho.tenant, 901, 31, zoho.students[0], zoho.classes[0], at_ms=UNENROLLED_MS, deleted=True),
    ])
    assert wait_until(lambda: sink.metric("zoho_sink_events_skipped_total", reason="enrollments_disabled") == 3, 30)
    assert zoho.calls_to("BTEC_Enrollments") == []
    assert zoho.records("BTEC_Enrollments") == []
    assert outcomes(infra, zoho.tenant) == []
