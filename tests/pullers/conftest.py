"""The Zoho puller as a real process between the Zoho emulator and the broker, with a streams worker and a
projector behind it, so a test checks what a registrar would: the rows in PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from schemas.topics import RAW_MOODLE, RAW_ZOHO
from tests.conftest import TenantCreds
from tests.infra import Infra, StreamsRun, free_port, position_at_end, start_service, stop_service
from tests.projections.helpers import new_schema, start_projector
from tests.streams.conftest import drained
from tests.zoho_emulator.harness import Emulator, running_emulator

RUN = uuid.uuid4().hex[:6]
ORGS = 6


def _org(i: int) -> dict[str, Any]:
    return {"tenant": f"pull-{RUN}-{i}", "client_id": f"1000.PULL{i}", "client_secret": f"pull-secret-{i}",
            "refresh_token": f"1000.pull-refresh-{i}", "id_prefix": f"{6300000 + i * 1000}",
            "webhook_token": f"pull-{RUN}-{i}-zoho-token-0123456789"}


@pytest.fixture(scope="session")
def pull_orgs() -> list[dict[str, Any]]:
    return [_org(i) for i in range(ORGS)]


@pytest.fixture(scope="session")
def pull_emulator(pull_orgs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    # Its workflow webhooks go to a port nobody listens on: the ingress is down for every change made in
    # Zoho here, and Zoho does not retry them. Only the puller brings those changes in.
    config = {"orgs": pull_orgs, "webhooks": {"ingress_url": f"http://127.0.0.1:{free_port()}"},
              "call_log_size": 50_000}
    with running_emulator(config, tmp_path_factory.mktemp("pull-emulator")) as emu:
        yield emu


@dataclass
class College:
    """One tenant: its Zoho org in the emulator, its pipeline (streams generation + projector schema)."""

    infra: Infra
    emu: Emulator
    org: dict[str, Any]
    creds: TenantCreds
    streams: StreamsRun
    schema: str
    logs: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    puller_url: str = ""

    @property
    def tenant(self) -> str:
        return str(self.org["tenant"])

    def account(self, **pull: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "accounts_url": self.emu.url, "api_domain": self.emu.url,
                "client_id": self.org["client_id"], "client_secret": self.org["client_secret"],
                "refresh_token": self.org["refresh_token"], "pull": {"interval_s": 3600, "overlap_s": 5, **pull}}

    def start_puller(self, **pull: Any) -> None:
        port = free_port()
        self.puller_url = f"http://127.0.0.1:{port}"
        env = {**self.env, "ZOHO_ACCOUNTS_JSON": json.dumps({"accounts": [self.account(**pull)]}),
               "PULLER_METRICS_PORT": str(port), "PULLER_GROUP_ID": f"puller-{uuid.uuid4().hex[:8]}",
               "PULLER_TICK_S": "0.5", "ZOHO_BACKOFF_BASE_S": "0.05", "ZOHO_BACKOFF_CAP_S": "0.5"}
        self.processes.append(start_service("pullers.zoho", env, self.logs / f"puller-{len(self.processes)}.log",
                                            f"{self.puller_url}/metrics"))

    def runs(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.infra.database_url) as conn:
            cur = conn.execute("SELECT run_id, trigger, status, records, deletions, calls, error FROM zoho_pull_run"
                               " WHERE tenant = %s ORDER BY requested_at", (self.tenant,))
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def wait_runs_done(self, count: int, timeout: float = 120) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [r for r in self.runs() if r["status"] in ("done", "failed", "paused")]
            if len(done) >= count:
                return done
            time.sleep(0.5)
        raise AssertionError(f"{count} pull runs did not end within {timeout}s: {self.runs()}")

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.infra.database_url) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return conn.execute(sql, (self.tenant, *params)).fetchall()

    def wait_rows(self, sql: str, expected: Callable[[list[tuple[Any, ...]]], bool], timeout: float = 120
                  ) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + timeout
        found: list[tuple[Any, ...]] = []
        while time.monotonic() < deadline:
            try:
                found = self.rows(sql)
            except psycopg.errors.UndefinedTable:
                found = []
            if expected(found):
                return found
            time.sleep(0.5)
        raise AssertionError(f"projection never reached the expected state; last: {found[:5]} ({len(found)} rows)")

    def api(self) -> httpx.Client:
        token = self.emu.token(str(self.org["client_id"]), str(self.org["client_secret"]),
                               str(self.org["refresh_token"]))
        return httpx.Client(base_url=f"{self.emu.url}/crm/v8", timeout=10,
                            headers={"Authorization": f"Zoho-oauthtoken {token}"})

    def streams_settle(self, quiet_s: float = 5.0, timeout: float = 120) -> None:
        """Until the streams generation has read everything in raw.zoho (its committed offsets at the end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if drained(self.infra, self.streams):
                time.sleep(quiet_s)
                return
            time.sleep(0.5)
        raise AssertionError("the streams worker did not catch up")

    def stop(self) -> None:
        for proc in self.processes:
            stop_service(proc)
        self.streams.stop_all()


@pytest.fixture
def college(infra: Infra, pull_emulator: Emulator, pull_orgs: list[dict[str, Any]], service_env: dict[str, str],
            tenant_factory: Callable[..., TenantCreds], streams_run: StreamsRun, tmp_path: Path) -> Iterator[College]:
    org = pull_orgs.pop()
    creds = tenant_factory(name=str(org["tenant"]))
    schema = new_schema()
    found = College(infra, pull_emulator, org, creds, streams_run, schema, tmp_path, dict(service_env))
    position_at_end(infra.bootstrap, streams_run.app_id, (RAW_ZOHO, RAW_MOODLE))
    streams_run.start("w1")
    found.processes.append(start_projector(infra, schema, tmp_path / "projector.log"))
    yield found
    found.stop()
