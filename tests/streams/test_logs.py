"""A streams worker logs JSON lines (faust's worker command turns stderr into a logger; its lines were lost)."""

from __future__ import annotations

import json
from typing import Any

from tests.infra import StreamsRun, wait_until


def test_a_worker_logs_one_json_object_per_line(streams_run: StreamsRun) -> None:
    worker = streams_run.start("w1")

    def started() -> dict[str, Any] | None:
        for line in worker.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("message") == "worker started":
                    return dict(entry)
        return None

    entry = wait_until(started, timeout=30, interval=0.5)
    assert entry, f"no JSON line from the worker: see {worker.log}"
    assert entry["service"] == "streams" and entry["level"] == "INFO"
    assert entry["app_id"] == streams_run.app_id
