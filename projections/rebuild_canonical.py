"""A new streams generation: re-derive every canonical topic from raw.* with today's mapping rules.

The streams app (streams/) names its consumer group and internal topics after
`STREAMS_APP_ID`; a new id is a new generation with empty state. This command picks that id,
sets the new group's offsets on raw.zoho and raw.moodle to 0, and prints how to start the
workers. The new generation appends re-derived events to canonical.*: they carry the same
source versions, so the projector lets the later (re-derived) event win, and a replay after
it has caught up rebuilds projections from the new events.
"""

from __future__ import annotations

import re

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.topics import RAW_MOODLE, RAW_ZOHO

_VERSIONED = re.compile(r"^(?P<stem>.*-v)(?P<n>\d+)$")


def next_app_id(current: str) -> str:
    match = _VERSIONED.match(current)
    if match is None:
        return f"{current}-v2"
    return f"{match['stem']}{int(match['n']) + 1}"


def reset_generation(bootstrap: str, app_id: str) -> list[TopicPartition]:
    """Point `app_id`'s consumer group at offset 0 of every raw partition."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    meta = admin.list_topics(timeout=10).topics
    group = admin.describe_consumer_groups([app_id])[app_id].result()
    if group.members:
        raise RuntimeError(f"group {app_id} has running members; stop them, or pick a new app id")
    partitions = [TopicPartition(t, p, 0) for t in (RAW_ZOHO, RAW_MOODLE) if t in meta for p in meta[t].partitions]
    done = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(app_id, partitions)])
    result = done[app_id].result()
    return list(result.topic_partitions or [])
