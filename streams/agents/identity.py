"""Stage 2, keyed by tenant/email: Zoho students and Moodle users meet; a match is a link."""

from __future__ import annotations

import faust
from faust.types import EventT

from schemas.keys import EntityKey
from streams import batches
from streams.app import app, identities, identity_topic, moodle_topic
from streams.messages import Item, decode_batch
from streams.outbox import Outbox

MAX_USERS_PER_EMAIL = 20


async def _identity(event: EventT, outbox: Outbox) -> None:
    partition = event.message.partition
    moodle = moodle_topic.get_topic_name()
    for item in decode_batch(event.value):
        tenant, email = EntityKey.parse(item.key)
        state = identities.get(item.key, partition) or {"student": None, "users": []}
        if item.kind == "student_email":
            if state["student"] != item.student:
                identities.set(item.key, {**state, "student": item.student}, partition)
            for muid in state["users"]:
                outbox.add(moodle, Item(EntityKey(tenant, muid).text(), "link", item.student, email, item.event))
        elif item.kind == "moodle_user":
            muid = item.event[2]
            if muid and muid not in state["users"]:
                identities.set(item.key, {**state, "users": [*state["users"], muid][-MAX_USERS_PER_EMAIL:]},
                               partition)
            outbox.add(moodle, Item(EntityKey(tenant, muid).text(), "user", state["student"], None, item.event))


@app.agent(identity_topic, concurrency=1)
async def identity(stream: faust.StreamT[bytes]) -> None:
    await batches.run(stream, _identity, (identities,))
