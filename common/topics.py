"""Topic names and their settings: part of the contract in docs/contract.md."""

from __future__ import annotations

from dataclasses import dataclass, field

RAW_ZOHO = "raw.zoho"
RAW_MOODLE = "raw.moodle"
DEADLETTER = "deadletter"
ZOHO_OUTCOMES = "zoho.outcomes"

CANONICAL_ENTITIES: tuple[str, ...] = (
    "student",
    "program",
    "class",
    "unit",
    "teacher",
    "enrollment",
    "registration",
    "payment",
    "grade",
    "moodle_user",
    "moodle_enrollment",
)

KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


def canonical(entity: str) -> str:
    return f"canonical.{entity}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def contract_topics(partitions: int) -> list[TopicSpec]:
    """Every topic of the contract (docs/contract.md), all with one partition count so any two can be joined."""
    names = [RAW_ZOHO, RAW_MOODLE, *(canonical(e) for e in CANONICAL_ENTITIES), DEADLETTER, ZOHO_OUTCOMES]
    return [TopicSpec(name, partitions, dict(KEEP_FOREVER)) for name in names]
