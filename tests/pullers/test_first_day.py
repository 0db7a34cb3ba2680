"""A college's first day: its records already sit in Zoho and its grades in Moodle, and no webhook was ever
sent. The Zoho pull and the Moodle backfill (the plugin's events for what it finds, as `cli/backfill.php` sends
them) bring everything in, in either order, and the grade reaches Zoho joined with its student and class."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import TenantCreds
from tests.infra import Infra, Service, free_port, start_service
from tests.pullers.conftest import College

GRADES = ("SELECT composite_key, student_id, class_id, unit_id, program_id, registration_id, letter"
          " FROM grade WHERE tenant = %s")


def _seed_zoho(college: College) -> dict[str, str]:
    """Program → unit → class (on Moodle course 7701) → student (Moodle user 8801) → registration."""
    emu, tenant = college.emu, college.tenant
    (program,) = emu.seed("Products", [{"Product_Name": "BTEC Level 3 IT", "Program_ID": "IT-L3"}], tenant=tenant)
    (unit,) = emu.seed("BTEC", [{"Name": "Unit 1: Networks", "Unit_Code": "U1", "Program": {"id": program}}],
                       tenant=tenant)
    (klass,) = emu.seed("BTEC_Classes", [{"Class_Name": "IT-L3 U1 2026A", "BTEC_Program": {"id": program},
                                          "Unit": {"id": unit}, "Moodle_Class_ID": "7701",
                                          "Class_Status": "Active"}], tenant=tenant)
    (student,) = emu.seed("BTEC_Students", [{"Academic_Email": "lina.haddad@abchorizon.com", "First_Name": "Lina",
                                             "Last_Name": "Haddad", "Student_Moodle_ID": "8801",
                                             "Status": "Active"}], tenant=tenant)
    (registration,) = emu.seed("BTEC_Registrations", [{"Student_ID": {"id": student}, "Program": {"id": program},
                                                       "Registration_Status": "Active"}], tenant=tenant)
    return {"program": program, "unit": unit, "class": klass, "student": student, "registration": registration}


def _backfill_moodle(ingress: Service, creds: TenantCreds) -> None:
    """What the plugin's backfill sends for a site that graded before the plugin was installed."""
    body = {"event_id": f"backfill-{uuid.uuid4()}", "event_type": "grade_updated", "timestamp": 1762064100,
            "sequence": 1, "site_url": "https://lms.abchorizon.com",
            "data": {"moodle_user_id": 8801, "user_email": "lina.haddad@abchorizon.com", "course_id": 7701,
                     "assignment_id": 1305, "assignment_name": "Unit 1 Assignment 1: Networks", "grade_id": 88231,
                     "btec_scale_index": 3, "attempt_number": 1, "time_graded": 1762064095,
                     "workflow_state": None, "released": True,
                     "grader": {"moodle_user_id": 19, "full_name": "Rania Khoury", "role": "editingteacher"},
                     "learning_outcomes": [{"code": "P1", "score": "1.00000"}, {"code": "M1", "score": "1.00000"}]}}
    raw = json.dumps(body).encode()
    resp = httpx.post(f"{ingress.url}/webhooks/moodle/grade_updated", content=raw,
                      headers=creds.sign(raw, body["event_id"]), timeout=30)
    assert resp.status_code == 202, resp.text


def _start_sink(college: College) -> None:
    port = free_port()
    account = {k: v for k, v in college.account().items() if k != "pull"}
    env = {**college.env, "ZOHO_ACCOUNTS_JSON": json.dumps({"accounts": [account]}),
           "SINK_GROUP_ID": f"first-day-{uuid.uuid4().hex[:8]}", "SINK_METRICS_PORT": str(port),
           "SINK_LINGER_MS": "300", "SINK_SETTLE_S": "1.0", "SINK_RETRY_PAUSE_S": "0.5"}
    college.processes.append(start_service("sinks.zoho", env, college.logs / "sink.log",
                                           f"http://127.0.0.1:{port}/metrics"))


@pytest.mark.parametrize("moodle_first", [False, True], ids=["zoho-then-moodle", "moodle-then-zoho"])
def test_a_college_reaches_its_state_with_no_webhook_at_all(infra: Infra, ingress: Service, college: College,
                                                             moodle_first: bool) -> None:
    ids = _seed_zoho(college)
    _start_sink(college)
    if moodle_first:
        _backfill_moodle(ingress, college.creds)
        time.sleep(2)  # the grade is in the streams, waiting for what Zoho has not sent yet
    college.start_puller()
    college.wait_runs_done(1, timeout=180)
    if not moodle_first:
        _backfill_moodle(ingress, college.creds)

    def joined(rows: list[tuple[Any, ...]]) -> bool:
        return len(rows) == 1 and rows[0][5] is not None

    (grade,) = college.wait_rows(GRADES, joined, timeout=180)
    assert grade == ("8801_1305", ids["student"], ids["class"], ids["unit"], ids["program"], ids["registration"],
                     "M")
    deadline = time.monotonic() + 120
    written: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not written:
        written = college.emu.records("BTEC_Grades", college.tenant)
        time.sleep(0.5)
    (record,) = written
    assert (record["Moodle_Grade_Composite_Key"], record["Student"]["id"], record["Class"]["id"], record["Grade"]) \
        == ("8801_1305", ids["student"], ids["class"], "M")
