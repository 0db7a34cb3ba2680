"""Every acknowledged webhook accounted for: the 202's raw position holds the body that was sent, and that record
(or a copy of the same record: a redelivery, an unchanged resend, a retry after a lost answer) produced a
canonical event or a dead letter. A copy produces nothing when the streams recognise it as seen; an older version
of a record produces nothing when a newer one of the same record (same raw key) came first, as a retried request
can arrive after the next change of its record (a create after its delete)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from schemas.codec import decode
from schemas.topics import CANONICAL_ENTITIES, DEADLETTER, RAW_MOODLE, RAW_ZOHO, canonical
from tests.e2e.load import Ack
from tests.infra import Infra, end_offsets, read_records

Position = tuple[str, int, int]
Offsets = dict[str, dict[int, int]]

RAW_TOPICS = (RAW_ZOHO, RAW_MOODLE)
DERIVED_TOPICS = (*(canonical(e) for e in CANONICAL_ENTITIES), DEADLETTER)


def marks(infra: Infra) -> Offsets:
    """The end of every topic the accounting reads: records of the test come after it."""
    return {topic: end_offsets(infra.bootstrap, topic) for topic in (*RAW_TOPICS, *DERIVED_TOPICS)}


def record_of(body: bytes) -> str:
    """What a body says, without the delivery id a redelivery or resend changes."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    if isinstance(parsed, dict):
        parsed = {k: v for k, v in parsed.items() if k not in ("notification_id", "event_id")}
    return json.dumps(parsed, sort_keys=True)


def _position(raw: dict[str, Any]) -> Position:
    return (str(raw["topic"]), int(raw["partition"]), int(raw["offset"]))


def produced(infra: Infra, since: Offsets, tenant: str) -> set[Position]:
    """Raw positions named by the tenant's canonical events and dead letters."""
    out: set[Position] = set()
    for topic in DERIVED_TOPICS:
        for rec in read_records(infra.bootstrap, topic, since[topic], timeout=60):
            _, item = decode(rec.value or b"")
            if item["tenant"] == tenant:
                out.add(_position(item["raw"]))
    return out


def unaccounted(infra: Infra, since: Offsets, tenant: str, acks: Iterable[Ack]) -> list[str]:
    """The acknowledged requests the log does not account for, one line each (empty when all are)."""
    prefix = f"{tenant}/".encode()
    stored: dict[Position, tuple[bytes, bytes]] = {}  # (key, body)
    for topic in RAW_TOPICS:
        for rec in read_records(infra.bootstrap, topic, since[topic], timeout=60):
            if (rec.key or b"").startswith(prefix):
                stored[(topic, rec.partition, rec.offset)] = (rec.key or b"", rec.value or b"")
    made = produced(infra, since, tenant)
    copies_made: set[str] = {record_of(body) for pos, (_, body) in stored.items() if pos in made}
    records_made: set[bytes] = {key for pos, (key, _) in stored.items() if pos in made}
    problems = []
    for ack in acks:
        pos = (ack.topic, ack.partition, ack.offset)
        entry = stored.get(pos)
        if entry is None or entry[1] != ack.request.body:
            problems.append(f"{ack.request.path} acknowledged at {pos}, which does not hold its body")
        elif pos not in made and record_of(ack.request.body) not in copies_made and entry[0] not in records_made:
            problems.append(f"{ack.request.path} ({ack.request.label}) at {pos}: no event, no dead letter, "
                            "and no copy of it produced one")
    return problems
