"""Every kept schema version, parsed once at import, indexed by name and by fingerprint.

Files are `schemas/avro/<name>.v<N>.avsc`; a version, once released, is never edited or
removed, because the log keeps events written with it forever. Today's writer and reader
schema for a name is its highest version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

AVRO_DIR = Path(__file__).with_name("avro")
_FILE = re.compile(r"^(?P<name>[a-z_.]+)\.v(?P<version>[1-9][0-9]*)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    version: int
    path: Path
    parsed: Any
    # 8 bytes, little-endian, as single-object encoding puts them on the wire.
    fingerprint: bytes


@dataclass(frozen=True)
class Registry:
    versions: dict[str, tuple[SchemaVersion, ...]]
    by_fingerprint: dict[bytes, SchemaVersion]

    def latest(self, name: str) -> SchemaVersion:
        try:
            return self.versions[name][-1]
        except KeyError:
            raise KeyError(f"no schema named {name!r}; known: {', '.join(sorted(self.versions))}") from None

    def version(self, name: str, version: int) -> SchemaVersion:
        for candidate in self.versions.get(name, ()):
            if candidate.version == version:
                return candidate
        raise KeyError(f"no schema {name!r} version {version}")


def _load(path: Path, name: str, version: int) -> SchemaVersion:
    raw = orjson.loads(path.read_bytes())
    # Each file is self-contained; a fresh namespace lets two versions define the same named types.
    parsed = parse_schema(raw, named_schemas={})
    # fastavro renders CRC-64-AVRO as the little-endian bytes in hex, which is the wire order.
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    return SchemaVersion(name=name, version=version, path=path, parsed=parsed, fingerprint=fp)


def load_registry(directory: Path = AVRO_DIR) -> Registry:
    found: dict[str, list[SchemaVersion]] = {}
    for path in sorted(directory.glob("*.avsc")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: schema files are named <name>.v<N>.avsc")
        name, version = match["name"], int(match["version"])
        found.setdefault(name, []).append(_load(path, name, version))
    versions = {name: tuple(sorted(kept, key=lambda v: v.version)) for name, kept in found.items()}
    by_fingerprint: dict[bytes, SchemaVersion] = {}
    for kept in versions.values():
        for v in kept:
            other = by_fingerprint.setdefault(v.fingerprint, v)
            if other is not v:
                raise ValueError(f"{v.path.name} has the same canonical form as {other.path.name}")
    return Registry(versions=versions, by_fingerprint=by_fingerprint)


@cache
def registry() -> Registry:
    return load_registry()


def kept_versions() -> dict[str, list[int]]:
    """Schema name -> every kept version, oldest first."""
    return {name: [v.version for v in kept] for name, kept in sorted(registry().versions.items())}
