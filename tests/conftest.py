"""Session fixtures: the broker, the database, tenants and the running services."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from common.settings import PROJECT_ROOT
from tests.infra import Infra, Service, StreamsRun, free_port, start_infra, start_service, stop_service

OPERATOR_KEY = "operator-key-0123456789abcdef"


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    infra = start_infra()
    yield infra
    infra.close()


@dataclass(frozen=True)
class TenantCreds:
    name: str
    moodle_secret: str
    zoho_token: str
    control_key: str

    def sign(self, body: bytes, msg_id: str, at: float | None = None) -> dict[str, str]:
        ts = int(at if at is not None else time.time())
        sig = Webhook(self.moodle_secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body.decode())
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sig,
            "X-Tenant-ID": self.name,
            "Content-Type": "application/json",
        }


def control_api(control: Service, creds: TenantCreds | None, method: str, path: str, **kw: Any) -> httpx.Response:
    """A call to the control-plane API with the tenant's key (or none)."""
    headers = {"Authorization": f"Bearer {creds.control_key}"} if creds else {}
    return httpx.request(method, f"{control.url}/control/v1{path}", headers=headers, timeout=30, **kw)


def _creds(name: str) -> TenantCreds:
    return TenantCreds(
        name=name,
        moodle_secret="whsec_" + base64.b64encode(f"{name}-moodle-secret-0123456789abcdef".encode()).decode(),
        zoho_token=f"{name}-zoho-token-0123456789",
        control_key=f"{name}-control-key-0123456789",
    )


@pytest.fixture(scope="session")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TenantCreds]:
    return {name: _creds(name) for name in ("default", "college-b")}


@pytest.fixture(scope="session")
def tenants_file(tmp_path_factory: pytest.TempPathFactory, tenants: dict[str, TenantCreds]) -> Path:
    path = tmp_path_factory.mktemp("config") / "tenants.json"
    path.write_text(json.dumps({"tenants": {
        t.name: {"moodle_webhook_secret": t.moodle_secret, "zoho_webhook_token": t.zoho_token,
                 "control_api_key": t.control_key} for t in tenants.values()
    }}))
    return path


@pytest.fixture
def tenant_factory(tenants_file: Path) -> Callable[..., TenantCreds]:
    """Adds a tenant of its own to the live tenants file (services re-read it) and returns its credentials."""

    def make(mapping: dict[str, Any] | None = None, name: str | None = None) -> TenantCreds:
        creds = _creds(name or f"t-{uuid.uuid4().hex[:10]}")
        config = json.loads(tenants_file.read_text())
        config["tenants"][creds.name] = {"moodle_webhook_secret": creds.moodle_secret,
                                         "zoho_webhook_token": creds.zoho_token, "mapping": mapping or {},
                                         "control_api_key": creds.control_key}
        tmp = tenants_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(config))
        tmp.replace(tenants_file)
        time.sleep(1.2)  # the ingress checks the file at most once a second
        return creds

    return make


@pytest.fixture
def fresh_tenant(tenant_factory: Callable[..., TenantCreds]) -> TenantCreds:
    return tenant_factory()


@pytest.fixture(scope="session")
def service_env(infra: Infra, tenants_file: Path) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap,
        "DATABASE_URL": infra.database_url,
        "TENANTS_FILE": str(tenants_file),
        "DEFAULT_TENANT": "default",
        "TOPIC_PARTITIONS": "4",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def projections_schema(infra: Infra) -> None:
    """The projection tables the control plane reads, created by the projector's own migrations."""
    subprocess.run([sys.executable, "-m", "projections", "migrate"], check=True, cwd=PROJECT_ROOT, timeout=120,
                   env={**os.environ, "DATABASE_URL": infra.database_url, "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap})


@pytest.fixture(scope="session")
def ingress(service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "ingress.log"
    env = {**service_env, "INGRESS_PORT": str(port), "INGRESS_DELIVERY_TIMEOUT_S": "3"}
    url = f"http://127.0.0.1:{port}"
    proc = start_service("producers", env, log, f"{url}/healthz")
    yield Service(url, proc, log)
    stop_service(proc)


@pytest.fixture(scope="session")
def control(service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "control.log"
    url = f"http://127.0.0.1:{port}"
    # A slow refill (burst 20, then one call per 5 s per tenant): the rate-limit test sees its 429 however loaded
    # the machine is, and no other test makes 20 calls as one tenant.
    env = {**service_env, "CONTROL_PORT": str(port), "CONTROL_OPERATOR_KEY": OPERATOR_KEY,
           "CONTROL_RATE_PER_S": "0.2"}
    proc = start_service("control", env, log, f"{url}/healthz")
    yield Service(url, proc, log)
    stop_service(proc)


@pytest.fixture
def streams_run(service_env: dict[str, str], tmp_path: Path) -> Iterator[StreamsRun]:
    """A streams generation of its own (fresh state, its own app id); workers are started by the test."""
    run = StreamsRun(
        app_id=f"mzsync-test-{uuid.uuid4().hex[:8]}",
        env={**service_env, "STREAMS_TICK_INTERVAL_S": "1"},
        tmp=tmp_path,
    )
    run.env["STREAMS_APP_ID"] = run.app_id
    yield run
    run.stop_all()
