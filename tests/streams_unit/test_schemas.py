"""Schemas: single-object encoding, every kept version readable by today's reader."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.codec import MAGIC, UnknownSchemaError, decode, encode, kept_versions
from schemas.registry import AVRO_DIR, load_registry, registry
from tests.streams_unit.support import one_event, parse, sample

CANONICAL = ["canonical." + e for e in ("student", "program", "unit", "class", "teacher", "enrollment",
                                        "registration", "payment", "grade", "moodle_user", "moodle_enrollment")]


def _example(schema: Any) -> Any:
    """A value of every field: non-null branches, one array item, so every field is exercised."""
    if isinstance(schema, list):
        return _example(next(s for s in schema if s != "null"))
    if isinstance(schema, str):
        return {"string": "x", "int": 7, "long": 1_762_060_000_000, "double": 1.5, "boolean": True,
                "bytes": b"\x00\xff"}[schema]
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return 1_762_060_000_000
    if schema.get("logicalType") == "date":
        return 20_394
    if kind == "record":
        return {f["name"]: _example(f["type"]) for f in schema["fields"]}
    if kind == "array":
        return [_example(schema["items"])]
    if kind == "enum":
        return schema["symbols"][0]
    return _example(kind)


def test_kept_versions_cover_every_topic_and_keep_old_student_version() -> None:
    versions = kept_versions()
    assert set(versions) == {*CANONICAL, "deadletter", "zoho.outcome", "moodle.outcome", "command.zoho"}
    assert versions["canonical.student"] == [1, 2]


@pytest.mark.parametrize(("name", "version"), [(n, v) for n, vs in kept_versions().items() for v in vs])
def test_every_kept_version_decodes_with_todays_reader(name: str, version: int) -> None:
    path = AVRO_DIR / f"{name}.v{version}.avsc"
    written = _example(json.loads(path.read_text()))
    data = encode(name, written, version=version)
    assert data[:2] == MAGIC and data[2:10] == registry().version(name, version).fingerprint
    decoded_name, record = decode(data)
    assert decoded_name == name
    today = registry().latest(name)
    today_fields = {f["name"] for f in today.parsed["fields"]}
    assert set(record) == today_fields
    assert _plain(record, written) == written


def _plain(read: Any, like: Any) -> Any:
    """The decoded value in the writer's terms: logical types back to numbers, only the fields written."""
    if isinstance(read, datetime):
        return int(read.timestamp() * 1000)
    if isinstance(read, date):
        return (read - date(1970, 1, 1)).days
    if isinstance(read, dict):
        return {k: _plain(read[k], like[k]) for k in like}
    if isinstance(read, list):
        return [_plain(r, w) for r, w in zip(read, like, strict=True)]
    return read


def test_student_v1_event_reads_as_v2_with_nationality_defaulted() -> None:
    ev = one_event(parse("zoho", "BTEC_Students", sample("zoho/student_insert.json")))
    record = ev.to_record()
    assert record["payload"] is not None
    v1_payload = {k: v for k, v in record["payload"].items() if k != "nationality"}
    old = encode("canonical.student", {**record, "payload": v1_payload}, version=1)
    _, read = decode(old)
    assert read["payload"]["nationality"] is None
    assert read["payload"]["full_name"] == "Lina Haddad"
    assert read["occurred_at"] == datetime.fromtimestamp(ev.occurred_at_ms / 1000, UTC)
    # Today's writer is v2: the fingerprint in the header differs from the v1 one.
    assert ev.to_avro()[2:10] == registry().latest("canonical.student").fingerprint != old[2:10]


def test_canonical_schemas_share_one_envelope() -> None:
    envelopes = []
    for name in CANONICAL:
        fields = registry().latest(name).parsed["fields"]
        envelopes.append([(f["name"], json.dumps(f["type"], sort_keys=True)) for f in fields if f["name"] != "payload"])
    assert all(e == envelopes[0] for e in envelopes)


def test_crc64_fingerprint_matches_the_avro_spec_vector() -> None:
    # Avro spec: the CRC-64-AVRO fingerprint of the schema "null" is 0x63dd24e7cc258f8a (little-endian on the wire).
    from fastavro.schema import fingerprint

    assert bytes.fromhex(fingerprint('"null"', "CRC-64-AVRO")) == (0x63DD24E7CC258F8A).to_bytes(8, "little")


def test_undecodable_bytes_are_refused_clearly() -> None:
    with pytest.raises(UnknownSchemaError, match="C3 01"):
        decode(b'{"not": "avro"}')
    with pytest.raises(UnknownSchemaError, match="unknown schema fingerprint"):
        decode(MAGIC + b"\x01" * 8 + b"\x00")


def test_zoho_outcome_round_trip() -> None:
    outcome = {"tenant": "college-a", "module": "BTEC_Grades", "record_key": "412_1305", "action": "updated",
               "zoho_id": "4876876000000900777", "attempt": 1, "error_code": None, "error_message": None,
               "event_id": "e", "entity": "grade", "entity_id": "412_1305", "fingerprint": "f",
               "occurred_at": 1_762_060_000_000}
    name, record = decode(encode("zoho.outcome", outcome))
    assert name == "zoho.outcome" and record["action"] == "updated" and record["record_key"] == "412_1305"


def test_registry_refuses_misnamed_files(tmp_path: Any) -> None:
    (tmp_path / "student.avsc").write_text('"null"')
    with pytest.raises(ValueError, match=r"<name>\.v<N>\.avsc"):
        load_registry(tmp_path)
