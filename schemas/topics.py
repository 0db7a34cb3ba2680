"""Topic names and their settings: part of the contract every service shares (docs/architecture.md)."""

from __future__ import annotations

from common.kafka_admin import TopicSpec

RAW_ZOHO = "raw.zoho"
RAW_MOODLE = "raw.moodle"
DEADLETTER = "deadletter"
ZOHO_OUTCOMES = "zoho.outcomes"
MOODLE_OUTCOMES = "moodle.outcomes"
# Requests of the control plane to a sink; acted on within days or not at all.
COMMANDS_ZOHO = "commands.zoho"

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
KEEP_30_DAYS = {"retention.ms": str(30 * 24 * 3600 * 1000), "retention.bytes": "-1"}


def canonical(entity: str) -> str:
    return f"canonical.{entity}"


def contract_topics(partitions: int) -> list[TopicSpec]:
    """Every topic of the design, all with one partition count so any two can be joined."""
    names = [RAW_ZOHO, RAW_MOODLE, *(canonical(e) for e in CANONICAL_ENTITIES), DEADLETTER, ZOHO_OUTCOMES,
             MOODLE_OUTCOMES]
    return [*(TopicSpec(name, partitions, dict(KEEP_FOREVER)) for name in names),
            TopicSpec(COMMANDS_ZOHO, partitions, dict(KEEP_30_DAYS))]
