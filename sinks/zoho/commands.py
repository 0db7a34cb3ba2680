"""Commands of the control plane to the Zoho sink (`commands.zoho`): a retry names a canonical event to write
again; the sink reads that event back from its canonical topic and treats it like a new one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.log import LogError, find_newest, partition_for, watermarks
from schemas.codec import UnknownSchemaError, decode
from schemas.keys import EntityKey
from schemas.topics import canonical


@dataclass(frozen=True)
class Found:
    topic: str
    event: dict[str, Any]


def retried_event(bootstrap: str, command: dict[str, Any]) -> Found | None:
    """The canonical event a retry command names, or None when it is no longer in the topic's recent history.
    Blocking (it reads the log): run it off the event loop."""
    topic = canonical(str(command["entity"]))
    key = EntityKey(str(command["tenant"]), str(command["entity_id"])).encode()
    wanted = str(command["event_id"])

    def is_wanted(record: Any) -> bool:
        if record.key != key or not record.value:
            return False
        try:
            return bool(decode(record.value)[1]["event_id"] == wanted)
        except (UnknownSchemaError, ValueError, KeyError):
            return False

    try:
        partition = partition_for(key, len(watermarks(bootstrap, topic)))
        record = find_newest(bootstrap, topic, partition, is_wanted)
    except LogError:
        return None
    if record is None or record.value is None:
        return None
    return Found(topic, decode(record.value)[1])
