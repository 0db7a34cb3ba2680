"""Re-grades change learning-outcome rows by id; once the sink knows every row id of a record, without a read.

Zoho returns the id of a subform row it adds only on a later read of the record itself (docs/zoho-api.md), so the
first re-grade of a record reads it first (one GET per record, then one write per 100 records). That re-grade
changes rows by id only, so afterwards the sink knows every row id (kept in zoho_sink_state) and the next re-grade
is the write alone (1 call per 100).
"""

from __future__ import annotations

from typing import Any

from tests.infra import Infra
from tests.zoho_sink.conftest import SinkRunner, ZohoOrg, grade_event, lo, lo_rows, produce, wait_outcomes

LO = "Learning_Outcomes_Assessm"


def _row_ids(record: dict[str, Any]) -> dict[str, str]:
    return {r["LO_Code"]: r["id"] for r in record[LO]}


def test_second_regrade_needs_no_read_and_changes_in_zoho_are_still_caught(infra: Infra, zoho: ZohoOrg,
                                                                            sinks: SinkRunner) -> None:
    zoho.seed(students=1)
    student, cls = zoho.students[0], zoho.classes[0]
    n = 0

    def regrade(attempt: int, los: list[dict[str, Any]]) -> list[str]:
        """Sends attempt `attempt`, waits for its outcome; the Zoho operations it took on BTEC_Grades."""
        nonlocal n
        mark = len(zoho.calls_to("BTEC_Grades"))
        produce(infra, "canonical.grade", [grade_event(zoho.tenant, 7, 42, student, cls, attempt=attempt, los=los)])
        n += 1
        wait_outcomes(infra, zoho.tenant, n)
        return [c["operation"] for c in zoho.calls_to("BTEC_Grades")[mark:]]

    sinks.start(zoho)
    assert regrade(1, [lo("P1", 0), lo("P2", 1), lo("M1", 0)]) == ["upsert"]
    (created,) = zoho.records()

    # First re-grade: the row ids are unknown, so one read, then one write. M1 is no longer assessed and D1 is:
    # M1's row is rewritten as D1 rather than deleted and D1 added, so no row is added and every id stays known.
    assert regrade(2, [lo("P1", 1, "now met"), lo("P2", 1), lo("D1", 0)]) == ["get", "upsert"]
    (second,) = zoho.records()
    assert lo_rows(second) == [("D1", "0"), ("P1", "1"), ("P2", "1")]
    assert set(_row_ids(second).values()) == set(_row_ids(created).values())

    # Second re-grade: the write alone, rows changed by the remembered ids, values fully rewritten.
    assert regrade(3, [lo("P1", 1), lo("P2", 0, "missed"), lo("D1", 1)]) == ["upsert"]
    (third,) = zoho.records()
    assert lo_rows(third) == [("D1", "1"), ("P1", "1"), ("P2", "0")]
    assert _row_ids(third) == _row_ids(second)
    rows = {r["LO_Code"]: r for r in third[LO]}
    assert (rows["P1"]["LO_Feedback"], rows["P2"]["LO_Feedback"]) == (None, "missed")

    # A registrar deletes a row in Zoho: the remembered id is refused, the sink reads and still lands exactly.
    with zoho.api() as api:
        api.put("/BTEC_Grades", json={"data": [{"id": third["id"], LO: [{"id": _row_ids(third)["P2"],
                                                                          "_delete": None}]}],
                                      "trigger": []}).raise_for_status()
    assert regrade(4, [lo("P1", 0), lo("P2", 1), lo("D1", 1)]) == ["upsert", "get", "update"]
    (fourth,) = zoho.records()
    assert fourth["id"] == created["id"] and fourth["Attempt_Number"] == 4
    assert lo_rows(fourth) == [("D1", "1"), ("P1", "0"), ("P2", "1")]

    # P2's row was added again, so its id is unknown: one read, then the ids are all known again.
    assert regrade(5, [lo("P1", 1), lo("P2", 1), lo("D1", 1)]) == ["get", "upsert"]
    # A registrar deletes the whole record: the remembered ids lead nowhere, the sink creates the record again.
    with zoho.api() as api:
        api.delete(f"/BTEC_Grades/{created['id']}", params={"wf_trigger": "false"}).raise_for_status()
    assert regrade(6, [lo("P1", 1), lo("P2", 1), lo("D1", 0)]) == ["upsert", "get", "upsert"]
    (recreated,) = zoho.records()
    assert recreated["id"] != created["id"] and recreated["Attempt_Number"] == 6
    assert lo_rows(recreated) == [("D1", "0"), ("P1", "1"), ("P2", "1")]
    results = wait_outcomes(infra, zoho.tenant, n)
    assert [o["action"] for o in results] == ["created", "updated", "updated", "updated", "updated", "created"]
    assert zoho.webhooks_fired() == []
