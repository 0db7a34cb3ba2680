"""Periodic work that must change tables (expiry) runs as a message on each owned partition.

A table write goes to the partition of the record being processed; so a timer sends a tick to every
partition this worker owns, and the tick's handler touches only keys that live on the tick's partition.
"""

from __future__ import annotations

from streams.app import app, config, moodle_topic, person_topic
from streams.messages import KIND, TICK


@app.timer(interval=config.tick_interval_s)
async def send_ticks() -> None:
    names = {moodle_topic.get_topic_name(): moodle_topic, person_topic.get_topic_name(): person_topic}
    for tp in app.consumer.assignment():
        topic = names.get(tp.topic)
        if topic is not None:
            await topic.send(key=b"tick", value=b"", partition=tp.partition, headers={KIND: TICK.encode()})
