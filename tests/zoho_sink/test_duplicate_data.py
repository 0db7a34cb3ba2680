"""A DUPLICATE_DATA answer turns into an update of the record it names (docs/domain.md#zoho-create-conflicts).

Provoked for real: the org's admin made Moodle_Grade_ID unique too, and a grade record the first system wrote
holds this grade's Moodle_Grade_ID under its old key format ({user}_{course}, which docs/domain.md says was tried).
The sink's upsert on Moodle_Grade_Composite_Key matches nothing, so Zoho tries an insert, which collides.
"""

from __future__ import annotations

from tests.infra import Infra
from tests.zoho_sink.conftest import SinkRunner, ZohoOrg, grade_event, lo, lo_rows, produce, wait_outcomes

KEY = "Moodle_Grade_Composite_Key"


def test_duplicate_data_updates_the_named_record(infra: Infra, zoho_grade_id_unique: ZohoOrg,
                                                 sinks: SinkRunner) -> None:
    zoho = zoho_grade_id_unique
    zoho.seed(students=1)
    student, cls = zoho.students[0], zoho.classes[0]
    # user 7, assignment 42, attempt 1: grade_event gives it Moodle_Grade_ID "g7421".
    (existing,) = zoho.create("BTEC_Grades", [{
        KEY: "7_31", "Student": {"id": student}, "Moodle_Grade_ID": "g7421", "Grade": "R",
        "Learning_Outcomes_Assessm": [{"LO_Code": "P1", "LO_Score": "0"}, {"LO_Code": "X9", "LO_Score": "0"}],
    }], KEY)
    sink = sinks.start(zoho)
    produce(infra, "canonical.grade", [grade_event(zoho.tenant, 7, 42, student, cls, letter="M",
                                                   los=[lo("P1", 1), lo("P2", 1)])])
    (outcome,) = wait_outcomes(infra, zoho.tenant, 1)

    # Zoho really answered DUPLICATE_DATA to the upsert (the sink counts every per-record answer).
    assert sink.metric("zoho_client_record_outcomes_total", operation="upsert", outcome="DUPLICATE_DATA") == 1
    # The record it named was updated: still one record, now under today's key with today's grade and rows.
    (record,) = zoho.records("BTEC_Grades")
    assert record["id"] == existing
    assert (record[KEY], record["Grade"], record["Moodle_Grade_ID"]) == ("7_42", "M", "g7421")
    assert record["Class"]["id"] == cls
    assert lo_rows(record) == [("P1", "1"), ("P2", "1")]
    assert (outcome["action"], outcome["zoho_id"], outcome["record_key"]) == ("updated", existing, "7_42")
    assert outcome["error_code"] is None
