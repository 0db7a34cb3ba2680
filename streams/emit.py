"""Writing out: canonical events (unless unchanged or out of date) and dead letters."""

from __future__ import annotations

from schemas.keys import StateKey
from streams.app import DEAD_LETTERS, DROPPED, EVENTS_OUT, canonical_topics, deadletter_topic, emitted, publish
from streams.events import CanonicalEvent, DeadLetter


def entity_key(event: CanonicalEvent) -> str:
    if event.entity == "grade" and event.payload:
        # Every attempt is history of its own: attempt 2 never hides a late attempt 1.
        attempt = event.payload.get("attempt_number") or 1
        return StateKey(event.tenant, "grade", f"{event.entity_id}#{attempt}").text()
    return StateKey(event.tenant, event.entity, event.entity_id).text()


def is_news(event: CanonicalEvent, partition: int) -> bool:
    """Whether the event changes what was last emitted for its entity (same fingerprint → no)."""
    last = emitted.get(entity_key(event), partition)
    if last is None:
        return True
    if last.get("eid") == event.event_id:
        # The same event again: a restart replays input whose table writes survived a crash but whose sends
        # may not have (this table is shared, and another stage's batch may write it before this event is
        # stored). Sending it again is safe (same event id); skipping it could lose it.
        return True
    if last["fp"] == event.fingerprint and last["del"] == event.deleted:
        DROPPED.labels("unchanged").inc()
        return False
    if event.source_version < last["v"] or (event.source_version == last["v"] and
                                              _sequence(event) < (last.get("seq") or 0)):
        # An older version arriving late never overwrites a newer one; within one version (one second of a
        # Moodle record's life) the plugin's sequence says which change came last.
        DROPPED.labels("out_of_date").inc()
        return False
    return True


def _sequence(event: CanonicalEvent) -> int:
    return int((event.payload or {}).get("sequence") or 0)


async def emit(event: CanonicalEvent, partition: int) -> None:
    """Send `event` if it is news; the caller has filled its join ids. `partition`: the input being processed."""
    if not is_news(event, partition):
        return
    await publish(canonical_topics[event.entity], event.key, value=event.to_avro())
    emitted.set(entity_key(event), {"fp": event.fingerprint, "v": event.source_version, "del": event.deleted,
                                    "eid": event.event_id, "seq": _sequence(event)}, partition)
    EVENTS_OUT.labels(event.entity, event.event_type).inc()


async def dead(letter: DeadLetter) -> None:
    await publish(deadletter_topic, letter.key, value=letter.to_avro())
    DEAD_LETTERS.labels(letter.reason).inc()
