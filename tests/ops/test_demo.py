"""The demo college through the real ingress and one streams worker: every valid student and every
Moodle grade attempt the generator expects becomes exactly one canonical event; invalid students
become dead letters."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from ops.college.webhooks import plan
from schemas.codec import decode
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, read_records
from tests.ops.conftest import CLI, Streams

SEED, STUDENTS = 2026, 40


def _events(infra: Infra, topic: str, tenant: str) -> list[dict[str, Any]]:
    prefix = f"{tenant}/".encode()
    records = read_records(infra.bootstrap, topic)
    return [decode(r.value or b"")[1] for r in records if (r.key or b"").startswith(prefix)]


def test_demo_college_ends_as_exactly_the_expected_events(
        infra: Infra, ingress: Service, streams: Streams, fresh_tenant: TenantCreds, cli: CLI) -> None:
    expected = plan(SEED, STUDENTS)
    done = cli("--seed", str(SEED), "--students", str(STUDENTS), "--tenant", fresh_tenant.name,
               "--ingress", ingress.url, "--wait", "90", "--zoho-emulator", "http://127.0.0.1:9", "--no-progress",
               "--json", module="ops.demo", check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    summary = json.loads(done.stdout)
    assert summary["accepted"] == len(expected.requests) and not summary["rejected"]
    labels = Counter[str]()
    for by_label in summary["sent"].values():
        labels.update(by_label)
    assert labels["redelivery"] > 0 and labels["resend"] > 0 and labels["invalid"] == 3
    assert summary["system"]["missing"] == {}
    time.sleep(2)  # anything emitted twice would show up now

    students = Counter(e["entity_id"] for e in _events(infra, "canonical.student", fresh_tenant.name)
                       if e["event_type"] == "StudentUpserted")
    assert students == Counter(dict.fromkeys(expected.expected.students, 1))

    grades = [e for e in _events(infra, "canonical.grade", fresh_tenant.name) if e["event_type"] == "GradeRecorded"]
    moodle = Counter((g["entity_id"], g["payload"]["attempt_number"]) for g in grades if g["origin"] == "moodle")
    assert moodle == Counter(dict.fromkeys(expected.expected.moodle_attempts, 1))
    assert {(g["entity_id"], g["payload"]["attempt_number"]): g["payload"]["letter"]
            for g in grades if g["origin"] == "moodle"} == expected.expected.moodle_attempts
    zoho = Counter(g["entity_id"] for g in grades if g["origin"] == "zoho")
    assert zoho == Counter(dict.fromkeys(expected.expected.zoho_grades, 1))
    links = {str(g["payload"]["moodle_user_id"]): g["payload"]["student_id"] for g in grades if g["origin"] == "moodle"}
    assert links == expected.expected.links  # every student has Moodle grades
    users = _events(infra, "canonical.moodle_user", fresh_tenant.name)
    linked = {(u["entity_id"], u["payload"]["student_id"], u["payload"]["link_method"]) for u in users
              if u["payload"]["student_id"]}
    assert linked == {(s.moodle_user_id, s.zoho_id, s.linked_by) for s in expected.expected.students.values()}

    letters = _events(infra, "deadletter", fresh_tenant.name)
    assert {(d["reason"], d["record_id"]) for d in letters} == {
        ("invalid_record", sid) for sid in expected.expected.invalid_students}
