"""`mzsync sync pull`: ask the Zoho puller (through the control plane, with the operator's key) to read
tenants' records now, and follow each run to its end with a progress bar."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import httpx
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from common.settings import Settings
from common.tenants import load_tenants

FINAL = ("done", "failed", "paused")


class SyncError(RuntimeError):
    pass


@dataclass(frozen=True)
class ControlPlane:
    url: str
    key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ControlPlane:
        url = os.environ.get("CONTROL_URL") or f"http://127.0.0.1:{os.environ.get('CONTROL_PORT', '8001')}"
        key = settings.control_operator_key or load_tenants(settings).operator_key
        if not key:
            raise SyncError("no operator key: set CONTROL_OPERATOR_KEY or the tenants file's operator_key")
        return cls(url.rstrip("/"), key)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = httpx.request(method, f"{self.url}/control/v1/tenants{path}", timeout=30,
                                 headers={"Authorization": f"Bearer {self.key}"}, **kw)
        except httpx.HTTPError as exc:
            raise SyncError(f"the control plane at {self.url} does not answer: {exc}") from None
        if resp.status_code >= 400:
            raise SyncError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()


def pull(control: ControlPlane, tenants: list[str] | None, module: str | None, full: bool,
         timeout_s: float = 3600.0) -> list[dict[str, Any]]:
    """Trigger a pull for each tenant (default: all) and wait for every run to end; the runs as they ended."""
    names = tenants or [t["tenant"] for t in control.call("GET", "")["items"] if not t["disabled"]]
    asked = {name: control.call("POST", f"/{name}/sync/trigger", json={"module": module, "full": full})
             ["command"]["command_id"] for name in names}
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=None),
                  TextColumn("{task.fields[records]:>8} records  {task.fields[deletions]:>5} deleted  "
                             "{task.fields[status]}"), TimeElapsedColumn()) as bar:
        tasks = {name: bar.add_task(name, total=None, records=0, deletions=0, status="queued") for name in names}
        while len(finished) < len(names):
            if time.monotonic() > deadline:
                raise SyncError(f"pulls still running after {timeout_s:.0f}s: {sorted(set(names) - set(finished))}")
            for name, run_id in asked.items():
                if name in finished:
                    continue
                run = next((r for r in control.call("GET", f"/{name}/sync/pulls")["runs"] if r["run_id"] == run_id),
                           None)
                if run is None:
                    continue  # the puller has not read the command yet
                bar.update(tasks[name], records=run["records"], deletions=run["deletions"], status=run["status"])
                if run["status"] in FINAL:
                    bar.update(tasks[name], total=1, completed=1)
                    finished[name] = {"tenant": name, **run}
            time.sleep(0.5)
    return [finished[name] for name in names]
