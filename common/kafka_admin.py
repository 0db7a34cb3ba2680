"""Idempotent topic bootstrap: create what is missing, grow what has too few partitions, re-assert settings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def ensure_topics(bootstrap: str, specs: list[TopicSpec], replication: int = 1,
                  timeout: float = 60.0) -> dict[str, str]:
    """Return what happened to each topic: created, exists, or grown."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = specs
    report: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        existing = admin.list_topics(timeout=10).topics
        missing = [s for s in wanted if s.name not in existing]
        if not missing:
            break
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, replication, config=s.config) for s in missing]
        )
        retry = False
        for name, fut in futures.items():
            try:
                fut.result()
                report[name] = "created"
            except KafkaException as exc:
                err = exc.args[0]
                if err.name() == "TOPIC_ALREADY_EXISTS":
                    report[name] = "exists"
                elif err.retriable() and time.monotonic() < deadline:
                    retry = True
                else:
                    raise
        if not retry:
            break
        time.sleep(0.5)
    # Metadata lags creation by a moment; wait until every topic is visible.
    existing = admin.list_topics(timeout=10).topics
    while any(s.name not in existing for s in wanted) and time.monotonic() < deadline:
        time.sleep(0.2)
        existing = admin.list_topics(timeout=10).topics
    grow = []
    for spec in wanted:
        have = len(existing[spec.name].partitions)
        report.setdefault(spec.name, "exists")
        if have < spec.partitions:
            # Growing moves keys between partitions; allowed, but loudly.
            log.warning("growing topic partitions", extra={"topic": spec.name, "from": have, "to": spec.partitions})
            grow.append(NewPartitions(spec.name, spec.partitions))
            report[spec.name] = f"grown {have}->{spec.partitions}"
    if grow:
        for fut in admin.create_partitions(grow).values():
            fut.result()
    # Retention is part of the contract: re-assert it on topics that already existed.
    resources = [
        ConfigResource(
            ConfigResource.Type.TOPIC,
            s.name,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in s.config.items()
            ],
        )
        for s in wanted
        if s.config
    ]
    # The client refuses an empty list (topics that carry no settings of their own).
    for fut in (admin.incremental_alter_configs(resources) if resources else {}).values():
        fut.result()
    return report
