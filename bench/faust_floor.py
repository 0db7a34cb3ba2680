"""The least a faust worker can do with a record: read it, or read it and send it on.

    FLOOR_TOPIC=raw.zoho FLOOR_COUNT=100000 FLOOR_RESULT=out.json python -m bench.faust_floor worker

With FLOOR_FORWARD_TO=<topic> each record is sent on, by FLOOR_SEND: `aiokafka` (faust's own producer,
`await topic.send`), `librdkafka` (`await topic.send` through the streams app's producer) or `publish`
(the streams app's cheap path, `LibrdkafkaProducer.produce`).

Run by bench/streams.py on the same pre-filled topic as the real workers, so the streams figure can be read
against what faust and aiokafka cost on this machine before any of our code runs. Writes
{"records", "seconds", "cpu_seconds"} (the process's, all threads) to FLOOR_RESULT and exits once FLOOR_COUNT
records were read.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import faust

from streams.producer import LibrdkafkaProducer, producer_of

COUNT = int(os.environ.get("FLOOR_COUNT", "100000"))
RESULT = Path(os.environ.get("FLOOR_RESULT", "faust-floor.json"))
FORWARD_TO = os.environ.get("FLOOR_FORWARD_TO", "")
SEND = os.environ.get("FLOOR_SEND", "aiokafka")


class App(faust.App):
    def _new_producer(self) -> faust.types.ProducerT:
        if SEND == "aiokafka":
            return super()._new_producer()
        return LibrdkafkaProducer(self.transport, loop=self.loop, beacon=self.beacon)


app = App(
    f"bench-floor-{uuid.uuid4().hex[:8]}",
    broker=f"kafka://{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}",
    store="memory://",
    # faust makes its data directory in the working directory unless told otherwise.
    datadir=os.environ.get("FLOOR_DATADIR", "bench-floor-data"),
    consumer_auto_offset_reset="earliest",
    topic_disable_leader=True,
    # The same producer settings as the streams app.
    producer_linger_ms=5,
    producer_max_batch_size=256 * 1024,
    stream_buffer_maxsize=8192,
)
source = app.topic(os.environ.get("FLOOR_TOPIC", "raw.zoho"), key_type=bytes, value_type=bytes,
                   key_serializer="raw", value_serializer="raw")
sink = app.topic(FORWARD_TO, key_type=bytes, value_type=bytes, key_serializer="raw",
                 value_serializer="raw") if FORWARD_TO else None


@app.agent(source, concurrency=1)
async def floor(stream: faust.StreamT[bytes]) -> None:
    seen, started, cpu = 0, 0.0, 0.0
    async for event in stream.events():
        if not seen:
            started, cpu = time.monotonic(), time.process_time()
        seen += 1
        if sink is not None and SEND == "publish":
            await producer_of(app).produce(FORWARD_TO, event.key, event.value)
        elif sink is not None:
            await sink.send(key=event.key, value=event.value)
        if seen >= COUNT:
            if sink is not None:
                await app.producer.flush()
            # Blocking is harmless here: the process ends right after.
            RESULT.write_text(  # noqa: ASYNC240
                json.dumps({"records": seen, "seconds": time.monotonic() - started,
                            "cpu_seconds": time.process_time() - cpu}))
            # The figure is taken; a graceful faust shutdown adds nothing to it.
            os._exit(0)


if __name__ == "__main__":
    app.main()
