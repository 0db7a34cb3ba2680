"""One streams worker for the operator tests, and the CLI run as the operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from common.settings import PROJECT_ROOT
from tests.infra import StreamsRun, Worker


@dataclass
class Streams:
    run: StreamsRun
    worker: Worker

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.worker.web_port}/metrics"


@pytest.fixture(scope="package")
def streams(service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streams]:
    run = StreamsRun(app_id=f"mzsync-ops-test-{uuid.uuid4().hex[:8]}",
                     env={**service_env, "STREAMS_TICK_INTERVAL_S": "1"}, tmp=tmp_path_factory.mktemp("streams"))
    run.env["STREAMS_APP_ID"] = run.app_id
    worker = run.start("w1")
    yield Streams(run, worker)
    run.stop_all()


@dataclass(frozen=True)
class CLI:
    env: dict[str, str]

    def __call__(self, *args: str, module: str = "ops", check: bool = True,
                 timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", module, *args], env={**os.environ, **self.env},
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)
        if check:
            assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(scope="session")
def cli(service_env: dict[str, str]) -> CLI:
    return CLI(service_env)
