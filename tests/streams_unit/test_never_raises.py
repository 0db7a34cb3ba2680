"""parse_raw never raises, and whatever it returns encodes as Avro."""

from __future__ import annotations

import json
from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import decode
from schemas.deadletter import DeadLetter
from schemas.mapping import DEFAULT_ENTITIES
from streams.events import CanonicalEvent
from tests.streams_unit.support import FORM, JSON, one_dead, parse, sample, student

MODULES = [m.module for m in DEFAULT_ENTITIES.values()]
EVENTS = ["user_created", "user_updated", "user_deleted", "enrollment_created", "enrollment_updated",
          "enrollment_deleted", "grade_updated"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
    st.text(max_size=30), st.sampled_from(["", " ", "active", "4876876000000412001", "a@b.c", "2026-10-30"]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=5)), max_leaves=25)
# Records whose keys are real field names, so values reach the validators, not just the envelope.
field_names = st.sampled_from(sorted({n for m in DEFAULT_ENTITIES.values() for names in m.fields.values()
                                      for n in names} | {"data", "operation", "ids", "zoho_id", "record_id"}))
records = st.dictionaries(field_names, json_values, max_size=12)
bodies = st.one_of(records, st.builds(lambda rs: {"data": rs}, st.lists(records, max_size=4)),
                   st.builds(lambda r, op: {"operation": op, "data": r}, records,
                             st.sampled_from(["insert", "update", "delete", "merge", None])))
moodle_bodies = st.builds(lambda d, t: {"event_type": "x", "timestamp": t, "data": d},
                          st.dictionaries(st.sampled_from(["moodle_user_id", "assignment_id", "course_id",
                                                           "enrolment_id", "email", "raw_grade", "grade_max",
                                                           "scale_index", "grader", "learning_outcomes",
                                                           "attempt_number", "time_graded", "letter"]),
                                          json_values, max_size=10), json_values)


def _check(out: list[Any]) -> None:
    assert out, "every input ends somewhere"
    for item in out:
        assert isinstance(item, CanonicalEvent | DeadLetter)
        name, _ = decode(item.to_avro())
        assert name == item.schema_name


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(body=st.binary(max_size=300), source=st.sampled_from(["zoho", "moodle"]),
       content_type=st.sampled_from([JSON, FORM, "", "text/plain"]))
def test_random_bytes(body: bytes, source: Literal["zoho", "moodle"], content_type: str) -> None:
    _check(parse(source, "BTEC_Students" if source == "zoho" else "grade_updated", body, content_type=content_type))


@FUZZ
@given(body=bodies, module=st.sampled_from(MODULES))
def test_random_zoho_records(body: Any, module: str) -> None:
    _check(parse("zoho", module, json.dumps(body).encode()))


@FUZZ
@given(body=moodle_bodies, event=st.sampled_from(EVENTS))
def test_random_moodle_events(body: Any, event: str) -> None:
    _check(parse("moodle", event, json.dumps(body).encode()))


@FUZZ
@given(record=records, module=st.sampled_from(MODULES))
def test_random_form_bodies(record: dict[str, Any], module: str) -> None:
    from urllib.parse import urlencode

    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in record.items()}
    _check(parse("zoho", module, urlencode(flat).encode(), content_type=FORM))


def test_deeply_nested_json() -> None:
    deep = b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert one_dead(parse("zoho", "BTEC_Students", deep)).reason == "unparseable_body"
    # Nested just under the decoder's limit: valid JSON, hopeless as a name.
    nested = b'{"data": [{"id": "1", "Academic_Email": "a.b@c.com", "First_Name": ' + b"[" * 1000 + b"]" * 1000 + b"}]}"
    letter = one_dead(parse("zoho", "BTEC_Students", nested))
    assert letter.reason == "invalid_record" and letter.errors[0].field == "First_Name"
    assert letter.body == nested  # too deep to re-serialise alone, so the whole body is kept
    _check([letter])


def test_huge_numbers_and_wrong_types() -> None:
    huge = b'{"data": [{"id": 123456789012345678901234567890, "Academic_Email": "a.b@c.com"}]}'
    assert one_dead(parse("zoho", "BTEC_Students", huge)).errors[0].field == "id"
    # orjson refuses a number that overflows a double.
    infinite = one_dead(parse("zoho", "BTEC_Students", b'{"data": [{"id": "1", "Academic_Email": 1e400}]}'))
    assert infinite.reason == "unparseable_body" and "infinity" in infinite.message
    wrong = student(Academic_Email=["a@b.com"], Modified_Time=[2026], Status={"x": 1})
    letter = one_dead(parse("zoho", "BTEC_Students", {"data": [wrong]}))
    assert sorted(e.field for e in letter.errors) == ["Academic_Email", "Modified_Time", "Status"]
    _check(parse("moodle", "grade_updated", {"data": {"moodle_user_id": 10**30, "assignment_id": -1}}))
    _check(parse("moodle", "grade_updated", json.loads(sample("moodle/grade_updated.json")) | {"data": "x"}))


def test_non_object_bodies_and_strange_batches() -> None:
    for body in (b"null", b"42", b'"text"', b'{"data": "not json"}', b'{"data": null}', b""):
        assert one_dead(parse("zoho", "Products", body)).reason == "unparseable_body", body
    assert one_dead(parse("zoho", "Products", b'{"data": []}')).reason == "no_records"
    assert [d.reason for d in parse("zoho", "Products", b"[1, 2]")] == ["invalid_record", "invalid_record"]
    out = parse("zoho", "Products", b'{"data": [1, null, {"id": "4876876000000300001", "Name": "L3 IT"}]}')
    assert [type(o).__name__ for o in out] == ["DeadLetter", "DeadLetter", "CanonicalEvent"]


def test_invalid_utf8_and_lone_surrogates() -> None:
    for body, content_type in ((b'{"data": [{"id": "1", "Name": "\xff\xfe"}]}', JSON),
                               (b'{"data": [{"id": "1", "Academic_Email": "a@b.co", "City": "\\ud800"}]}', JSON),
                               (b"Name=%ff%fe&id=1", FORM)):
        letter = one_dead(parse("zoho", "BTEC_Students", body, content_type=content_type))
        assert letter.reason == "unparseable_body" and letter.body == body
        _check([letter])
