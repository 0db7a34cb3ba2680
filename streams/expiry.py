"""Expiring waiting records on a tick: the same walk for every stage that keeps records waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from schemas.deadletter import UNRESOLVED_DEPENDENCY
from schemas.keys import tenant_of
from streams import waiting
from streams.app import WAITING, config, waiting_counts
from streams.emit import dead
from streams.messages import event_from_avro
from streams.ticks import partition_of


async def expire(stage: str, pending: Any, partition: int, why: Callable[[list[str]], str]) -> None:
    """Dead-letter this partition's records that waited too long; recount what still waits."""
    now = int(time.time() * 1000)
    count = 0
    per_tenant: dict[str, int] = {}
    for key, items in list(pending.items()):
        if partition_of(key) != partition:
            continue
        keep = []
        for item in items:
            if waiting.is_released(item):
                if now - item["ra"] <= waiting.RELEASED_KEEP_MS:
                    keep.append(item)
                continue
            if now - item["at"] > config.pending_expiry_s * 1000:
                ev = event_from_avro(waiting.value_of(item))
                await dead(waiting.letter(ev, UNRESOLVED_DEPENDENCY, item["m"], why(item["m"])))
            else:
                keep.append(item)
        if len(keep) != len(items):
            if keep:
                pending[key] = keep
            else:
                del pending[key]
        waiting_now = len(waiting.live(keep))
        count += waiting_now
        tenant = tenant_of(key)
        per_tenant[tenant] = per_tenant.get(tenant, 0) + waiting_now
    # Recounting from the records themselves keeps the cap's counters honest.
    for tenant, total in per_tenant.items():
        waiting_counts[waiting.count_key(stage, tenant, partition)] = total
    WAITING.labels(stage, str(partition)).set(count)
