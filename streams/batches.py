"""How every stage reads: a batch of faust events at a time, its state and next-stage messages written once.

At-least-once as before: everything a batch sends (canonical events, dead letters, next-stage messages,
changelog records) is queued before `take_events` acks the batch's events, and faust flushes the producer
(waits for every queued message) before it commits any offset. And a batch's state is written only once what
it sent is stored: state that survives a crash never says something was sent that was not, so a record
released from waiting is simply deleted (its input, read again, finds it gone only if its events are out).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any, Protocol, cast

import faust
from faust.types import EventT
from mode.types.signals import BaseSignalT

from streams.app import FAILED_BATCHES, PARTITIONS, SKIPPED, app, config, delivered, publish
from streams.consumer import Stream
from streams.outbox import Outbox
from streams.state import State
from streams.waiting import Satisfied, Waiting

log = logging.getLogger(__name__)

Handler = Callable[[EventT, Outbox], Awaitable[None]]


class Table(Protocol):
    async def flush(self) -> None: ...

    def discard(self) -> None: ...


# A stage-topic message carries what one batch of the stage before routed to one partition (about
# batch_max / partitions records, at most MAX_ITEMS_PER_MESSAGE): a few make a batch of about batch_max records.
# Taking batch_max of them would make batches of tens of thousands of records, all their changes held in memory.
STAGE_BATCH_MESSAGES = max(1, config.batch_max // 100)


class Positions:
    """The highest offset a stage took from each partition since its partitions were last assigned: every topic a
    stage reads is written without transactions and never compacted, so offsets follow one another, and a jump
    means records were skipped. A record read again (an offset below the highest) is no jump; a partition that
    was another worker's meanwhile starts afresh. A skipped record holds its partition's commit back until the
    partition is read again (streams/consumer.py): it is reported, not lost."""

    assignments = 0  # counted by the app on every assignment

    def __init__(self) -> None:
        self._highest: dict[tuple[str, int], int] = {}
        self._assignment = Positions.assignments

    def check(self, topic: str, partition: int, offset: int) -> None:
        if self._assignment != Positions.assignments:
            self._highest.clear()
            self._assignment = Positions.assignments
        highest = self._highest.get((topic, partition))
        if highest is None or offset > highest:
            self._highest[(topic, partition)] = offset
        if highest is not None and offset > highest + 1:
            SKIPPED.labels(topic).inc(offset - highest - 1)
            log.warning("records skipped", extra={"topic": topic, "partition": partition, "after": highest,
                                                  "next": offset})


@app.on_partitions_assigned.connect
async def _assigned(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
    Positions.assignments += 1


async def run(stream: faust.StreamT[bytes], handle: Handler, states: tuple[Table, ...] = (), *,
              stage_topic: bool = True, reset: Callable[[], None] | None = None) -> None:
    """Process `stream` batch by batch with `handle`; `states` are the tables this stage writes; `stage_topic`:
    its messages are batches of records (else one record each: the raw topics); `reset`: rebuilds what the stage
    keeps in memory from its tables (its waiting index) after a batch failed."""
    outbox = Outbox(PARTITIONS)
    positions = Positions()
    size = STAGE_BATCH_MESSAGES if stage_topic else config.batch_max
    # take_events is the app's Stream's (streams/consumer.py; the StreamT interface lacks it): it acks a batch's
    # events once the body has run, and not at all when the body raised, the generator being closed at once.
    async with aclosing(cast(Stream, stream).take_events(size, within=config.batch_wait_s)) as batches:
        async for events in batches:
            try:
                # Every table read and write names its partition (State, Deliveries): no current event to set.
                for event in events:
                    msg = event.message
                    positions.check(msg.topic, msg.partition, msg.offset)
                    await handle(event, outbox)
                for topic, partition, value in outbox.take():
                    await publish(topic, None, value, partition=partition)
                await delivered()
                for st in states:
                    await st.flush()
            except Exception:
                # The batch's input is read again (faust restarts the agent): as after a crash, nothing it changed
                # and did not write may be written, and memory holds only what the tables say.
                FAILED_BATCHES.labels(handle.__name__.strip("_")).inc()
                outbox.clear()
                for st in states:
                    st.discard()
                if reset is not None:
                    reset()
                raise


def rebuild(pending: Waiting, states: tuple[State, ...], satisfied: Satisfied | None = None) -> None:
    """After partitions were assigned and their tables recovered: drop cached state and rebuild the stage's
    waiting index from its table, for exactly the partitions this worker owns now (`satisfied`: Waiting.rebuild)."""
    for st in (pending.state, *states):
        st.forget()
    pending.rebuild(satisfied)
