"""Pulled records into `raw.zoho`, shaped and keyed like Zoho's workflow webhooks, so one path follows."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer

from common.kafka import producer_config
from schemas.keys import RawKey
from schemas.topics import RAW_ZOHO

# Marks a pulled record in its headers (`kind` stays the module: the streams parse by it).
VIA_PULL = b"pull"


class RawWriter:
    def __init__(self, bootstrap: str) -> None:
        self._producer = Producer(producer_config(bootstrap, linger_ms=20))
        self._failures: list[str] = []

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._failures.append(str(err))

    def _append(self, tenant: str, module: str, record_id: str, body: dict[str, Any], delivery_id: str,
                run_id: str) -> None:
        headers: list[tuple[str, str | bytes | None]] = [
            ("source", b"zoho"), ("tenant", tenant.encode()), ("kind", module.encode()),
            ("content-type", b"application/json"), ("received-at", str(int(time.time() * 1000)).encode()),
            ("request-id", run_id.encode()), ("delivery-id", delivery_id.encode()), ("via", VIA_PULL)]
        value = orjson.dumps(body)
        while True:
            try:
                self._producer.produce(RAW_ZOHO, value, RawKey(tenant, module, record_id).encode(), headers=headers,
                                       on_delivery=self._delivered)
                return
            except BufferError:
                self._producer.poll(0.1)

    def record(self, tenant: str, module: str, record: dict[str, Any], run_id: str) -> None:
        """One record as a workflow webhook's update. Its delivery id names the record's version, so pulling an
        unchanged record again is a redelivery the streams drop at once."""
        record_id = str(record["id"])
        modified = str(record.get("Modified_Time") or "")
        body = {"notification_id": f"pull-{uuid.uuid4().hex}", "timestamp": modified or None, "module": module,
                "operation": "update", "record_id": record_id, "data": record}
        self._append(tenant, module, record_id, body, f"pull:{module}:{record_id}:{modified}", run_id)

    def deletion(self, tenant: str, module: str, record_id: str, deleted_at: datetime, run_id: str) -> None:
        body = {"notification_id": f"pull-{uuid.uuid4().hex}", "timestamp": deleted_at.isoformat(), "module": module,
                "operation": "delete", "record_id": record_id, "data": {"id": record_id}}
        self._append(tenant, module, record_id, body, f"pull-delete:{module}:{record_id}", run_id)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Every appended record acknowledged by the broker, or an error: the watermark moves only after this."""
        left = self._producer.flush(timeout_s)
        if left or self._failures:
            failures, self._failures = self._failures, []
            raise RuntimeError(f"raw.zoho did not store {left} pulled records: {failures[:3]}")
