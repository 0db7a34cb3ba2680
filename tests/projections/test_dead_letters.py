"""Records the projector cannot apply go to `deadletter` and its index; the projector carries on."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg

from ops.college.events import BASE_MS, event, produce
from schemas.codec import MAGIC, decode, encode
from schemas.topics import DEADLETTER
from tests.infra import Infra, end_offsets, read_records, stop_service
from tests.projections.helpers import new_schema, query, start_projector, wait_caught_up


def test_unknown_schema_and_malformed_events_are_dead_lettered_and_the_rest_applied(
        infra: Infra, tmp_path: Path) -> None:
    t = f"dl-{uuid.uuid4().hex[:8]}"
    good_before = event(t, "student", "5001", BASE_MS, {"zoho_id": "5001", "academic_email": "a@college.example"})
    *_, valid = event(t, "student", "5002", BASE_MS, {"zoho_id": "5002", "academic_email": "b@college.example"})
    unknown_version = MAGIC + bytes.fromhex("0badc0ffee0ddf00") + valid[10:]
    wrong_topic = ("canonical.grade", f"{t}/5003".encode(), valid)
    bad_money = event(t, "payment", "3001", BASE_MS, {"zoho_id": "3001", "registration_id": "4001",
                                                      "amount": "12,50"})
    good_after = event(t, "student", "5004", BASE_MS, {"zoho_id": "5004", "academic_email": "d@college.example"})
    produce(infra.bootstrap, iter([
        good_before,
        ("canonical.student", f"{t}/5002".encode(), unknown_version),
        ("canonical.student", f"{t}/5005".encode(), b"not avro at all"),
        wrong_topic, bad_money, good_after,
    ]))
    dl_start = end_offsets(infra.bootstrap, DEADLETTER)
    schema = new_schema()
    proc = start_projector(infra, schema, tmp_path / "projector.log")
    try:
        wait_caught_up(infra, schema)
    finally:
        stop_service(proc)

    assert query(infra, schema, "SELECT id FROM student WHERE tenant = %s ORDER BY id", t) == [("5001",), ("5004",)]
    letters = [decode(r.value or b"")[1] for r in read_records(infra.bootstrap, DEADLETTER, dl_start)]
    mine = sorted((d["raw"]["topic"], d["reason"]) for d in letters if d["tenant"] == t)
    assert mine == [("canonical.grade", "malformed_event"), ("canonical.payment", "malformed_event"),
                    ("canonical.student", "undecodable_event"), ("canonical.student", "undecodable_event")]
    by_key = {d["raw_key"]: d for d in letters if d["tenant"] == t}
    assert by_key[f"{t}/5002"]["body"] == unknown_version  # the bytes are kept for a later retry
    assert "unknown schema fingerprint" in by_key[f"{t}/5002"]["message"]
    # The index lists each once, though the projector also read its own letters back from the topic.
    indexed = query(infra, schema, "SELECT raw_topic, reason, body_size FROM dead_letter WHERE tenant = %s"
                                   " ORDER BY raw_topic, reason", t)
    assert [(topic, reason) for topic, reason, _ in indexed] == mine
    with psycopg.connect(infra.database_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {schema}.payment WHERE tenant = %s", (t,)).fetchone() == (0,)


def test_a_dead_letter_from_the_streams_is_indexed(infra: Infra, tmp_path: Path) -> None:
    t = f"dl-{uuid.uuid4().hex[:8]}"
    letter = encode("deadletter", {
        "dead_letter_id": uuid.uuid4().hex, "reason": "invalid_record", "message": "Academic_Email: missing",
        "errors": [{"field": "Academic_Email", "message": "missing", "value": None}], "tenant": t,
        "source": "zoho", "kind": "BTEC_Students", "raw": {"topic": "raw.zoho", "partition": 1, "offset": 42},
        "raw_key": f"{t}/BTEC_Students/5009", "record_index": 0, "record_id": "5009", "delivery_id": None,
        "content_type": "application/json", "occurred_at": None, "received_at": BASE_MS, "body": b"{}"})
    produce(infra.bootstrap, iter([(DEADLETTER, f"{t}/BTEC_Students/5009".encode(), letter)]))
    schema = new_schema()
    proc = start_projector(infra, schema, tmp_path / "projector.log")
    try:
        wait_caught_up(infra, schema)
    finally:
        stop_service(proc)
    rows = query(infra, schema, "SELECT reason, record_id, raw_topic, raw_offset, errors->0->>'field'"
                                " FROM dead_letter WHERE tenant = %s", t)
    assert rows == [("invalid_record", "5009", "raw.zoho", 42, "Academic_Email")]
