"""What the control plane asks of the sinks: commands on `commands.zoho`, never a derived topic.

A retry names the canonical event that failed; the Zoho sink finds it in the log, writes it
again and reports the result on `zoho.outcomes`, so every derived topic keeps one writer. A pull asks
the Zoho puller to read a tenant's records now (all of them, or what changed since its watermark).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from fastapi import HTTPException
from pydantic import BaseModel, Field, StrictBool

from common.kafka import producer_config
from schemas.codec import encode
from schemas.keys import OutcomeKey
from schemas.topics import COMMANDS_ZOHO


class CommandWriter:
    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        self._producer = Producer(producer_config(bootstrap, linger_ms=0))
        self._timeout_s = timeout_s

    def _send(self, key: bytes, value: bytes) -> dict[str, Any]:
        result: dict[str, Any] = {}

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                result["error"] = str(err)
            else:
                result.update(topic=msg.topic(), partition=msg.partition(), offset=msg.offset())

        self._producer.produce(COMMANDS_ZOHO, value, key, on_delivery=delivered)
        if self._producer.flush(self._timeout_s) > 0 or "error" in result:
            raise RuntimeError(f"the command was not stored: {result.get('error', 'no acknowledgement in time')}")
        return result

    async def retry(self, tenant: str, entity: str, entity_id: str, event_id: str, reason: str) -> dict[str, Any]:
        command_id = uuid.uuid4().hex
        record = {"command_id": command_id, "command": "retry", "tenant": tenant, "entity": entity,
                  "entity_id": entity_id, "event_id": event_id, "reason": reason,
                  "requested_at": int(time.time() * 1000)}
        key = OutcomeKey(tenant, "retry", f"{entity}/{entity_id}").encode()
        stored = await asyncio.to_thread(self._send, key, encode("command.zoho", record))
        return {"command_id": command_id, **stored}

    async def pull(self, tenant: str, module: str | None, full: bool, reason: str) -> dict[str, Any]:
        command_id = uuid.uuid4().hex
        record = {"command_id": command_id, "command": "pull", "tenant": tenant, "module": module, "full": full,
                  "reason": reason, "requested_at": int(time.time() * 1000)}
        key = OutcomeKey(tenant, "pull", module or "*").encode()
        stored = await asyncio.to_thread(self._send, key, encode("command.zoho", record))
        return {"command_id": command_id, **stored}

    def close(self) -> None:
        self._producer.flush(self._timeout_s)


class PullRequest(BaseModel):
    module: str | None = Field(default=None, pattern="^[A-Za-z0-9_]{1,100}$",
                               description="One Zoho module (its API name); default every enabled module")
    full: StrictBool = Field(default=False, description="Read every record again, not only what changed")


async def ask_pull(commands: CommandWriter, tenant: str, asked: PullRequest, reason: str) -> dict[str, Any]:
    try:
        sent = await commands.pull(tenant, asked.module, asked.full, reason)
    except RuntimeError as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
    return {"command": sent, "module": asked.module, "full": asked.full}
