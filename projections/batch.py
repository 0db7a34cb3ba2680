"""One batch of Kafka records → one PostgreSQL transaction holding the rows and the next offsets."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from projections.apply import Applier
from projections.deadletters import DeadLetterWriter, index_row
from projections.events import (
    MALFORMED,
    DeadLetterRow,
    Decoded,
    EntityChange,
    Outcome,
    Position,
    Rejected,
    decode_record,
)
from projections.offsets import TopicPartitionKey, advance, claim

log = logging.getLogger(__name__)

# Attempts at a batch that PostgreSQL rolled back for a deadlock or serialization conflict.
TRANSIENT_ATTEMPTS = 5


class Message(Protocol):
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...


class Fenced(Exception):
    """The stored offsets are not where this process left them."""


@dataclass
class BatchResult:
    applied: int
    rejected: list[Rejected]
    fenced: bool = False


def _bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


class BatchWriter:
    """Applies batches to `schema`, exactly once per record, given where each partition stands."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str, dead_letters: DeadLetterWriter | None) -> None:
        self.conn = conn
        self.schema = schema
        self.applier = Applier(conn, schema)
        self.applier.prepare()
        self.dead_letters = dead_letters
        # next offset to apply per partition, as stored in the schema when this process last looked
        self.positions: dict[TopicPartitionKey, int] = {}

    def fresh(self, msgs: Sequence[Message]) -> list[Message]:
        """Records of owned partitions not applied yet, in log order, each once."""
        out: list[Message] = []
        seen: dict[TopicPartitionKey, int] = {}
        for m in msgs:
            tp = (m.topic() or "", m.partition() or 0)
            offset = m.offset() or 0
            start = self.positions.get(tp)
            if start is None or offset < start or offset <= seen.get(tp, -1):
                continue
            seen[tp] = offset
            out.append(m)
        return out

    def write(self, msgs: Sequence[Message]) -> BatchResult:
        """Apply fresh records; on `fenced`, positions must be re-read from the schema."""
        if not msgs:
            return BatchResult(0, [])
        decoded = [decode_record(m.topic() or "", m.partition() or 0, m.offset() or 0, _bytes(m.key()),
                                 _bytes(m.value())) for m in msgs]
        try:
            rejected = self._retrying(msgs, decoded, isolate=False)
        except Fenced:
            return BatchResult(0, [], fenced=True)
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
            log.warning("batch failed, applying its records one by one", extra={"error": str(exc)})
            try:
                rejected = self._retrying(msgs, decoded, isolate=True)
            except Fenced:
                return BatchResult(0, [], fenced=True)
        return BatchResult(len(msgs) - len(rejected), rejected)

    def _retrying(self, msgs: Sequence[Message], decoded: list[Decoded], isolate: bool) -> list[Rejected]:
        """The transaction again when PostgreSQL aborted it only for a conflict with another writer.

        Two writers of one schema (replay workers, projector instances) can lock rows of the same table in
        opposite orders when their partitions touch the same rows (dead-letter index, sync history); the
        loser is rolled back whole, so applying the batch again is exact.
        """
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                return self._transaction(msgs, decoded, isolate)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
                if attempt == TRANSIENT_ATTEMPTS:
                    raise
                log.warning("batch rolled back by a conflict, applying it again",
                            extra={"error": str(exc), "attempt": attempt})
                time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.random())
        raise AssertionError("unreachable")

    def _transaction(self, msgs: Sequence[Message], decoded: list[Decoded], isolate: bool) -> list[Rejected]:
        ends: dict[TopicPartitionKey, int] = {}
        for m in msgs:
            ends[(m.topic() or "", m.partition() or 0)] = (m.offset() or 0) + 1
        expected = {tp: self.positions[tp] for tp in ends}
        rejected: list[tuple[Rejected, int]] = []
        with self.conn.transaction():
            if not claim(self.conn, self.schema, expected):
                raise Fenced
            if isolate:
                for m, item in zip(msgs, decoded, strict=True):
                    try:
                        with self.conn.transaction():
                            self._apply([item], [])
                    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                        rejected.append((Rejected(item_position(m), _bytes(m.key()), _bytes(m.value()) or b"",
                                                  tenant_of(item), MALFORMED, f"rejected by PostgreSQL: {exc}"),
                                         m.timestamp()[1]))
            else:
                rejected = [(d, m.timestamp()[1]) for m, d in zip(msgs, decoded, strict=True)
                            if isinstance(d, Rejected)]
                self._apply(decoded, [])
            for r, _ts in rejected:
                log.warning("dead-lettered", extra={"topic": r.position.topic, "partition": r.position.partition,
                                                    "offset": r.position.offset, "reason": r.reason,
                                                    "detail": r.message})
            if rejected:
                self._apply([], [index_row(r, ts) for r, ts in rejected])
                if self.dead_letters is not None:
                    self.dead_letters.send(rejected)
            advance(self.conn, self.schema, ends)
        self.positions.update(ends)
        return [r for r, _ in rejected]

    def _apply(self, decoded: Sequence[Decoded], extra_letters: list[DeadLetterRow]) -> None:
        changes = [d for d in decoded if isinstance(d, EntityChange)]
        outcomes = [d for d in decoded if isinstance(d, Outcome)]
        letters = [d for d in decoded if isinstance(d, DeadLetterRow)] + extra_letters
        self.applier.apply(changes, outcomes, letters)


def item_position(m: Message) -> Position:
    return Position(m.topic() or "", m.partition() or 0, m.offset() or 0)


def tenant_of(item: Decoded) -> str:
    if isinstance(item, EntityChange):
        return item.entity_key[0]
    if isinstance(item, Outcome):
        return item.state_key[0]
    if isinstance(item, Rejected):
        return item.tenant
    # a dead letter's row: (id, reason, message, errors, tenant, …)
    return str(item.row[4])
