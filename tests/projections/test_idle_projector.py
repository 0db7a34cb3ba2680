"""An idle projector applies an event as soon as it arrives: its batch wait bounds how long it waits for the
next event, not how long an event that arrived waits for others to fill a batch."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from ops.college.events import BASE_MS, event, produce
from tests.infra import Infra, stop_service
from tests.projections.helpers import new_schema, query, start_projector, wait_caught_up

# Long enough that a projector holding a batch open for it would miss the deadline below most of the time.
BATCH_WAIT_S = 20
DEADLINE_S = 5


def test_a_lone_event_is_applied_without_waiting_for_a_batch(infra: Infra, tmp_path: Path) -> None:
    t = f"idle-{uuid.uuid4().hex[:8]}"
    schema = new_schema()
    proc = start_projector(infra, schema, tmp_path / "projector.log",
                           extra={"PROJECTOR_BATCH_WAIT_S": str(BATCH_WAIT_S)})
    try:
        wait_caught_up(infra, schema)
        time.sleep(1)  # idle: waiting for the next event
        for n in range(3):
            sid = f"70{n}"
            produce(infra.bootstrap, iter([event(t, "student", sid, BASE_MS,
                                                 {"zoho_id": sid, "academic_email": f"s{sid}@college.example"})]))
            sent = time.monotonic()
            while not query(infra, schema, "SELECT 1 FROM student WHERE tenant = %s AND id = %s", t, sid):
                assert time.monotonic() - sent < DEADLINE_S, f"student {sid} not applied within {DEADLINE_S}s"
                time.sleep(0.05)
    finally:
        stop_service(proc)
