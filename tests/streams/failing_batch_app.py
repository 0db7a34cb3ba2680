"""A faust worker built as the streams app's (its consumer and stream, batches taken the same way) whose batch
body raises the first time it meets a poison record: tests/streams/test_consumer.py checks that nothing of that
batch is lost. `python -m tests.streams.failing_batch_app worker`, configured by the environment."""

from __future__ import annotations

import os
from contextlib import aclosing

import faust

from streams.consumer import Stream, harden


class App(faust.App):
    def _new_consumer(self) -> faust.types.ConsumerT:
        consumer = super()._new_consumer()
        harden(consumer)
        return consumer


app = App(os.environ["TEST_APP_ID"], broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP_SERVERS']}", Stream=Stream,
          datadir=os.environ["TEST_DATADIR"], web_enabled=False, consumer_auto_offset_reset="earliest",
          broker_commit_interval=0.5, topic_disable_leader=True)
source = app.topic(os.environ["TEST_SOURCE"], key_type=bytes, value_type=bytes, key_serializer="raw",
                   value_serializer="raw")
sink = app.topic(os.environ["TEST_SINK"], key_type=bytes, value_type=bytes, key_serializer="raw",
                 value_serializer="raw")
POISON = os.environ["TEST_POISON"].encode()
# The poison fails its batch once (faust restarts the agent in the same process); the second time it goes through.
failed: list[bytes] = []


@app.agent(source)
async def copy(stream: faust.StreamT[bytes]) -> None:
    async with aclosing(stream.take_events(10, within=0.3)) as batches:  # type: ignore[attr-defined]
        async for events in batches:
            if not failed and any(e.value == POISON for e in events):
                failed.append(POISON)
                raise RuntimeError("a batch that fails")
            for e in events:
                await sink.send(value=e.value)


if __name__ == "__main__":
    app.main()
