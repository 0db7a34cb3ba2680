"""Periodic work that must change tables (expiry) runs as a message on each owned partition.

faust only lets an agent processing an event write a table, and a write goes to that
event's partition; so a timer sends a tick to every partition this worker owns, and the
tick's handler touches only keys that live on the tick's partition.
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from streams.app import PARTITIONS, app, config, moodle_topic, person_topic
from streams.messages import KIND

_partitioner = DefaultPartitioner()
_ALL = list(range(PARTITIONS))


def partition_of(key: str) -> int:
    return int(_partitioner(key.encode(), _ALL, _ALL))


@app.timer(interval=config.tick_interval_s)
async def send_ticks() -> None:
    names = {moodle_topic.get_topic_name(): moodle_topic, person_topic.get_topic_name(): person_topic}
    for tp in app.consumer.assignment():
        topic = names.get(tp.topic)
        if topic is not None:
            await topic.send(key=b"tick", value=b"", partition=tp.partition, headers={KIND: b"tick"})
