"""Avro single-object encoding: every value names its writer schema, no registry service needed.

Wire format (Avro specification, "Single-object encoding"):
`0xC3 0x01` + the writer schema's 8-byte little-endian CRC-64-AVRO fingerprint + the
Avro binary body. `decode` looks the fingerprint up among every kept schema version and
resolves the body into today's reader schema (the highest version of the same name), so
events written years ago read as today's records, new optional fields filled with their
defaults. Logical types come back as Python types: timestamp-millis as an aware UTC
`datetime`, date as `date`.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from schemas.registry import SchemaVersion, kept_versions, registry

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8

__all__ = ["HEADER_SIZE", "MAGIC", "UnknownSchemaError", "decode", "encode", "kept_versions", "writer_of"]


class UnknownSchemaError(ValueError):
    """The bytes are not single-object encoded, or name a schema version we do not keep."""


def encode(name: str, record: dict[str, Any], version: int | None = None) -> bytes:
    """Encode with today's schema for `name`, or an older kept `version` (tests, back-fills)."""
    reg = registry()
    schema = reg.latest(name) if version is None else reg.version(name, version)
    out = BytesIO()
    out.write(MAGIC)
    out.write(schema.fingerprint)
    schemaless_writer(out, schema.parsed, record)
    return out.getvalue()


def writer_of(data: bytes) -> SchemaVersion:
    if len(data) < HEADER_SIZE or data[:2] != MAGIC:
        raise UnknownSchemaError("not Avro single-object encoded (no C3 01 marker)")
    found = registry().by_fingerprint.get(bytes(data[2:HEADER_SIZE]))
    if found is None:
        raise UnknownSchemaError(f"unknown schema fingerprint {bytes(data[2:HEADER_SIZE]).hex()}")
    return found


def decode(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return (schema name, record) read into today's reader schema for that name."""
    writer = writer_of(data)
    reader = registry().latest(writer.name)
    body = BytesIO(data[HEADER_SIZE:])
    if reader is writer:
        record = schemaless_reader(body, writer.parsed, None)
    else:
        record = schemaless_reader(body, writer.parsed, reader.parsed)
    if not isinstance(record, dict):
        raise UnknownSchemaError(f"{writer.name} does not decode to a record")
    return writer.name, record
