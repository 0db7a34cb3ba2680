"""Stage 2, keyed by tenant/email: Zoho students and Moodle users meet; a match is a link."""

from __future__ import annotations

import faust

from schemas.keys import EntityKey
from streams.app import app, identities, identity_topic, moodle_topic, publish
from streams.messages import EMAIL, KIND, STUDENT, event_from_avro, header

MAX_USERS_PER_EMAIL = 20


@app.agent(identity_topic, concurrency=1)
async def identity(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        key = event.key.decode() if isinstance(event.key, bytes) else str(event.key)
        tenant, email = EntityKey.parse(key)
        kind = header(event.headers, KIND)
        state = identities.get(key) or {"student": None, "users": []}
        if kind == "student_email":
            student = header(event.headers, STUDENT)
            state["student"] = student
            identities[key] = state
            for muid in state["users"]:
                await publish(moodle_topic, EntityKey(tenant, muid).encode(), value=event.value,
                              headers={KIND: b"link", STUDENT: (student or "").encode(), EMAIL: email.encode()})
        elif kind == "moodle_user":
            muid = event_from_avro(event.value).entity_id
            if muid and muid not in state["users"]:
                state["users"] = [*state["users"], muid][-MAX_USERS_PER_EMAIL:]
                identities[key] = state
            headers = {KIND: b"user"}
            if state["student"]:
                headers[STUDENT] = state["student"].encode()
            await publish(moodle_topic, EntityKey(tenant, muid).encode(), value=event.value, headers=headers)

