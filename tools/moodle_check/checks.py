"""The scenarios' expected end states, compared with what the product holds after Moodle delivered."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tools.moodle_check.product import Product, wait_for

# How long the product may take from the last delivery to the projections and Zoho (2 shared cores, a cold
# worker): one budget for all checks of a variant, so ten missing rows do not cost ten timeouts.
SETTLE_S = 150.0
_deadline = 0.0


def start_clock() -> None:
    global _deadline
    _deadline = time.monotonic() + SETTLE_S


def _left() -> float:
    return max(3.0, _deadline - time.monotonic())


@dataclass
class Result:
    scenario: str
    expected: str
    found: str

    @property
    def passed(self) -> bool:
        return self.expected == self.found


def _events(raw: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """The Moodle webhook bodies whose data has the given values, in the order the backend applies them: the
    plugin's per-record sequence when it sends one, else its timestamp, else arrival (one record's webhooks
    share a partition, so the raw log keeps their arrival order)."""
    out = [b for b in raw if isinstance(b.get("data"), dict)
           and all(str(b["data"].get(k)) == str(v) for k, v in match.items())]
    return sorted(out, key=lambda b: (int(b.get("sequence") or 0), int(b.get("timestamp") or 0)))


def _states(values: list[str]) -> str:
    """The states in order, a repeat of the same state once (two events of one change, e.g. a workflow change
    and the grade saved with it, carry the same state)."""
    out = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    return ",".join(out) or "none"


def _workflow(data: dict[str, Any]) -> str:
    for key in ("workflow_state", "workflowstate", "marking_workflow_state"):
        if data.get(key):
            return str(data[key])
    return "-"


def delivery(outbox: dict[str, Any]) -> Result:
    rows = outbox.get("rows", [])
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    errors = sorted({str(r.get("lasterror") or "")[:80] for r in rows if r["status"] != "sent" and r.get("lasterror")})
    found = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no rows"
    expected = f"sent {len(rows)}" if rows else "rows queued"
    return Result("delivery (adhoc_task.php)", expected, found + (f" [{'; '.join(errors)}]" if errors else ""))


def carol_delivered(product: Product, ids: dict[str, Any]) -> bool:
    """Whether Carol's creation reached the projection (before she is deleted)."""
    return bool(wait_for(lambda: product.query("SELECT id FROM moodle_user WHERE id = %s", str(ids["carol"])),
                         bool, 90))


def users(product: Product, ids: dict[str, Any], carol_before: bool) -> list[Result]:
    alice = wait_for(lambda: product.query("SELECT last_name, student_id FROM moodle_user WHERE id = %s",
                                           str(ids["alice"])),
                     lambda rows: bool(rows) and rows[0]["last_name"] == "Anders-Updated", _left())
    bob = product.query("SELECT id FROM moodle_user WHERE id = %s", str(ids["bob"]))
    carol = wait_for(lambda: product.query("SELECT id FROM moodle_user WHERE id = %s", str(ids["carol"])),
                     lambda rows: not rows, _left())
    return [
        Result("user created + updated", "moodle_user last_name=Anders-Updated",
               f"moodle_user last_name={alice[0]['last_name']}" if alice else "no moodle_user row"),
        Result("user created + deleted before delivery", "no moodle_user row",
               "moodle_user row present" if bob else "no moodle_user row"),
        Result("user deleted after delivery", "moodle_user row before: yes, after: no",
               f"moodle_user row before: {'yes' if carol_before else 'no'}, after: {'yes' if carol else 'no'}"),
    ]


def enrolments(product: Product, ids: dict[str, Any], raw: list[dict[str, Any]]) -> list[Result]:
    course = ids["course_enrol"]
    sam = _events(raw, moodle_user_id=ids["sam"], course_id=course)
    statuses = _states([str(b["data"].get("status")) for b in sam])
    row = wait_for(lambda: product.query("SELECT status, role FROM moodle_enrollment WHERE moodle_user_id = %s "
                                         "AND course_id = %s", str(ids["sam"]), str(course)),
                   lambda rows: bool(rows), _left())
    teacher = [b for b in _events(raw, moodle_user_id=ids["teacher"], course_id=course)
               if "delete" in str(b.get("event_type"))]
    return [
        Result("enrolment suspend + reactivate: every state sent", "status 0,1,0", f"status {statuses}"),
        Result("enrolment suspend + reactivate: projection", "moodle_enrollment status=active",
               f"moodle_enrollment status={row[0]['status']}" if row else "no moodle_enrollment row"),
        Result("teacher unenrolment role", "role editingteacher",
               f"role {teacher[-1]['data'].get('role')}" if teacher else "no unenrolment event"),
    ]


def _grade_row(product: Product, key: str, done: Any) -> list[dict[str, Any]]:
    return wait_for(lambda: product.query(
        "SELECT * FROM grade_attempt WHERE grade_id = %s OR composite_key = %s ORDER BY attempt_number DESC, "
        "source_version DESC LIMIT 1", key, key), done, _left())


def _zoho_grade(product: Product, key: str, done: Any) -> dict[str, Any] | None:
    def probe() -> dict[str, Any] | None:
        return next((r for r in product.zoho_records("BTEC_Grades") if r.get("Moodle_Grade_Composite_Key") == key),
                    None)
    return wait_for(probe, done, _left())


def _lo_codes(record: dict[str, Any] | None) -> str:
    rows = (record or {}).get("Learning_Outcomes_Assessm") or []
    return ",".join(f"{r.get('LO_Code')}={r.get('LO_Score')}" for r in rows) or "none"


def points_grade(product: Product, ids: dict[str, Any], raw: list[dict[str, Any]]) -> list[Result]:
    key = f"{ids['gina']}_{ids['assign_points']}"
    events = _events(raw, moodle_user_id=ids["gina"], assignment_id=ids["assign_points"])
    sent = _states([f"{b['data'].get('raw_grade')}/{_workflow(b['data'])}" for b in events])
    row = _grade_row(product, key, lambda rows: bool(rows) and rows[0]["raw_score"] == 72.0)
    zoho = _zoho_grade(product, key, lambda r: r is not None and r.get("Grade_Status") == "Released")
    return [
        Result("points grade: workflow states sent in order",
               "58.0/inmarking,72.0/readyforrelease,72.0/released", sent),
        Result("points grade: projection", "raw_score=72.0 status=released",
               f"raw_score={row[0]['raw_score']} status={str(row[0]['grade_status']).lower()}" if row
               else "no grade_attempt row"),
        Result("points grade: Zoho BTEC_Grades", "Grade_Status=Released LO=none",
               f"Grade_Status={zoho.get('Grade_Status')} LO={_lo_codes(zoho)}" if zoho else "no BTEC_Grades record"),
    ]


def unreleased_grade(product: Product, ids: dict[str, Any]) -> list[Result]:
    """A grade in marking workflow not yet released: by default (per-tenant setting "released only") it does not
    reach Zoho; the projection keeps it with its workflow state."""
    key = f"{ids['hana']}_{ids['assign_points']}"
    row = _grade_row(product, key, lambda rows: bool(rows) and rows[0]["raw_score"] == 66.0)
    zoho = _zoho_grade(product, key, lambda r: r is None)
    status = str(row[0]["grade_status"]).lower().replace(" ", "") if row else ""
    return [
        Result("unreleased grade: projection", "raw_score=66.0 status=readyforrelease",
               f"raw_score={row[0]['raw_score']} status={status}" if row else "no grade_attempt row"),
        Result("unreleased grade: not in Zoho (released only)", "no BTEC_Grades record",
               f"BTEC_Grades record Grade_Status={zoho.get('Grade_Status')}" if zoho else "no BTEC_Grades record"),
    ]


def btec_grade(product: Product, ids: dict[str, Any], raw: list[dict[str, Any]]) -> list[Result]:
    key = f"{ids['gina']}_{ids['assign_btec']}"
    events = _events(raw, moodle_user_id=ids["gina"], assignment_id=ids["assign_btec"])
    sent = _states([f"{b['data'].get('btec_scale_index')}/{(b['data'].get('grader') or {}).get('role')}"
                    f"/{_workflow(b['data'])}" for b in events])
    row = _grade_row(product, key, lambda rows: bool(rows) and rows[0]["letter"] == "D")
    outcomes = product.query("SELECT code, achieved FROM grade_learning_outcome WHERE grade_id = %s AND "
                             "attempt_number = %s ORDER BY position", row[0]["grade_id"],
                             row[0]["attempt_number"]) if row else []
    zoho = _zoho_grade(product, key, lambda r: r is not None and r.get("Grade") == "D"
                       and r.get("Grade_Status") == "Released")
    achieved = ",".join(f"{o['code']}={'y' if o['achieved'] else 'n'}" for o in outcomes) or "none"
    return [
        Result("BTEC grade: teacher Merit then IV Distinction, both sent",
               "3/teacher/readyforreview,4/iv/released", sent),
        Result("BTEC grade: projection", "letter=D grader=iv LO P1=y,P2=y,M1=y,D1=y",
               f"letter={row[0]['letter']} grader={row[0]['grader_role']} LO {achieved}" if row
               else "no grade_attempt row"),
        Result("BTEC grade: Zoho BTEC_Grades", "Grade=D Grade_Status=Released Grader=Tarek Teacher "
               "IV=Ines Verifier LO=P1=1,P2=1,M1=1,D1=1",
               f"Grade={zoho.get('Grade')} Grade_Status={zoho.get('Grade_Status')} "
               f"Grader={zoho.get('Grader_Name')} IV={zoho.get('IV_Name')} "
               f"LO={_lo_codes(zoho)}" if zoho else "no BTEC_Grades record"),
    ]


def backfill(product: Product, ids: dict[str, Any], ran: str) -> list[Result]:
    user = wait_for(lambda: product.query("SELECT id FROM moodle_user WHERE id = %s", str(ids["legacy"])),
                    bool, _left() if ran == "ran" else 3)
    enrol = product.query("SELECT status FROM moodle_enrollment WHERE moodle_user_id = %s AND course_id = %s",
                          str(ids["legacy"]), str(ids["course_legacy"]))
    key = f"{ids['legacy']}_{ids['assign_legacy']}"
    grade = _grade_row(product, key, bool) if ran == "ran" else []
    found = (f"backfill {ran}; user {'yes' if user else 'no'}, enrolment {'yes' if enrol else 'no'}, "
             f"grade {grade[0]['raw_score'] if grade else 'no'}")
    return [Result("backfill of data from before the plugin", "backfill ran; user yes, enrolment yes, grade 64.0",
                   found)]
