"""The OpenAPI documents tell the truth: schemathesis, every check on, against the running ingress and control plane.

Each run is the schemathesis CLI over real HTTP, against the services as deployed (subprocesses on the test
stack's broker and database), authenticated as a tenant of its own so the generated requests reach the
handlers: every status a route answers must be documented with its body's schema, a 405 must name every
method of its path in `Allow`, schema-valid requests must be accepted and invalid ones refused, and no
request may produce a server error. Warnings fail the run too, so "every request was refused at the door"
(401s, 404s) cannot pass for a clean run.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from pydantic import ValidationError

from common.settings import PROJECT_ROOT, Settings
from common.tenants import TenantsConfig, update_tenant
from tests.conftest import TenantCreds, control_api
from tests.infra import Infra, Service, end_offsets, free_port, start_service, stop_service, wait_until

# Enough to find what the first runs found (a few hundred requests per service) and, on two busy cores,
# well under two minutes for both runs; the same requests every time.
MAX_EXAMPLES = 50

# The retry route needs outcomes to find: one that did not fail (409) and one that did (202, one command per
# request to the Zoho sink). Partition 99 is out of the test topics' range, so no real outcome has it.
RETRY_PARTITION = 99


def _schemathesis(url: str, config: str, env: dict[str, str], workdir: Path) -> None:
    """Run schemathesis with every check against `url`; its report, asserting the run found nothing."""
    config_file = workdir / "schemathesis.toml"
    # Warnings fail the run; no crash cache left in the working tree.
    config_file.write_text(f"{config}\n[warnings]\nfail-on = true\n[cache]\nenabled = false\n")
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config_file), "run",
         f"{url}/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
         "--generation-deterministic", "--workers", "1", "--no-color"],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report


def _log_from(log: Path, offset: int) -> str:
    """What a service logged after `offset` (the session's services also log other tests' requests)."""
    with open(log, "rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace")


@pytest.fixture(scope="module")
def contract_control(service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                     projections_schema: None) -> Iterator[Service]:
    """A control plane of its own: the default per-tenant limit (a burst of 20) would answer the run with 429s."""
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "contract-control.log"
    url = f"http://127.0.0.1:{port}"
    env = {**service_env, "CONTROL_PORT": str(port), "CONTROL_RATE_PER_S": "100000", "CONTROL_BURST": "100000"}
    proc = start_service("control", env, log, f"{url}/healthz")
    yield Service(url, proc, log)
    stop_service(proc)


def test_the_ingress_answers_as_its_openapi_says(ingress: Service, infra: Infra,
                                                 tenant_factory: Callable[..., TenantCreds],
                                                 tmp_path: Path) -> None:
    t = tenant_factory()
    before = {topic: end_offsets(infra.bootstrap, topic) for topic in ("raw.zoho", "raw.moodle")}
    logged = ingress.log.stat().st_size
    config = f"""
hooks = "tests.contract.schemathesis_hooks"
[dictionaries.modules]
values = ["BTEC_Students", "BTEC_Grades", "BTEC_Payments"]
[parameters]
"X-Tenant-ID" = "{t.name}"
# Mostly modules the tenant accepts, sometimes anything: both the 202 and the 404 are reached.
module = {{ dictionary = "modules", probability = 0.9 }}
[auth.openapi.ZohoTokenHeader]
api_key = "${{CONTRACT_ZOHO_TOKEN}}"
[auth.openapi.ZohoTokenQuery]
api_key = "${{CONTRACT_ZOHO_TOKEN}}"
"""
    _schemathesis(ingress.url, config, {"CONTRACT_ZOHO_TOKEN": t.zoho_token,
                                        "CONTRACT_MOODLE_SECRET": t.moodle_secret}, tmp_path)
    # Signed and token-carrying requests got through to the log, for both sources.
    for topic, ends in before.items():
        assert sum(end_offsets(infra.bootstrap, topic).values()) > sum(ends.values()), topic
    assert "Traceback" not in _log_from(ingress.log, logged)


def test_the_control_plane_answers_as_its_openapi_says(contract_control: Service, control: Service,
                                                       infra: Infra, tenants_file: Path,
                                                       tenant_factory: Callable[..., TenantCreds],
                                                       tmp_path: Path) -> None:
    t = tenant_factory()
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        for offset, action in ((0, "unchanged"), (1, "failed")):
            conn.execute(
                "INSERT INTO projections.zoho_sync_outcome (topic_partition, topic_offset, tenant, module,"
                " record_key, action, zoho_id, attempt, error_code, error_message, event_id, entity, entity_id,"
                " occurred_at) VALUES (%s, %s, %s, 'BTEC_Grades', '1_1', %s, NULL, 1, NULL, NULL, %s, 'grade',"
                " '1_1', now()) ON CONFLICT DO NOTHING",
                (RETRY_PARTITION, offset, t.name, action, f"{t.name}-event-{offset}"))
    config = f"""
[auth.openapi.HTTPBearer]
bearer = "${{CONTRACT_CONTROL_KEY}}"
[[operations]]
include-path = "/control/v1/sync-history/{{partition}}/{{offset}}/retry"
parameters = {{ partition = {RETRY_PARTITION} }}
"""
    _schemathesis(contract_control.url, config, {"CONTRACT_CONTROL_KEY": t.control_key}, tmp_path)
    # Whatever the run stored, every service can still read the tenants file, and the tenant is still served.
    TenantsConfig.model_validate_json(tenants_file.read_text())
    settings = control_api(control, t, "GET", "/settings")
    assert settings.status_code == 200 and settings.json()["tenant"] == t.name
    assert "Traceback" not in _log_from(contract_control.log, 0)


def test_a_405_names_every_method_of_its_path(contract_control: Service,
                                              tenant_factory: Callable[..., TenantCreds]) -> None:
    t = tenant_factory()
    answer = httpx.request("DELETE", f"{contract_control.url}/control/v1/settings",
                           headers={"Authorization": f"Bearer {t.control_key}"})
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, PUT"
    assert json.loads(answer.text) == {"detail": "Method Not Allowed"}


def test_a_database_outage_is_the_documented_503(contract_control: Service, infra: Infra,
                                                 tenant_factory: Callable[..., TenantCreds]) -> None:
    t = tenant_factory()
    headers = {"Authorization": f"Bearer {t.control_key}"}
    documented = httpx.get(f"{contract_control.url}/openapi.json").json()["paths"]
    assert control_api(contract_control, t, "GET", "/status").status_code == 200
    infra.stop_database()
    try:
        for path in ("/status", "/sync-history"):
            answer = httpx.get(f"{contract_control.url}/control/v1{path}", headers=headers, timeout=30)
            assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1, answer.text
            assert "503" in documented[f"/control/v1{path}"]["get"]["responses"]
    finally:
        infra.start_database()
    assert wait_until(lambda: control_api(contract_control, t, "GET", "/status").status_code == 200, timeout=60)


def test_the_documented_body_limit_is_the_one_that_holds(ingress: Service,
                                                         tenant_factory: Callable[..., TenantCreds]) -> None:
    """Up to 1 MiB is stored; over it, or over the broker's own record limit, is a 413 — never a 503, which
    would ask the sender to retry what can never be stored."""
    t = tenant_factory()
    limit = 1024 * 1024

    def post(size: int, filler: Callable[[int], bytes]) -> httpx.Response:
        head, tail = b'{"record_id": "1", "data": {"id": "1", "note": "', b'"}}'
        body = head + filler(size - len(head) - len(tail)) + tail
        assert len(body) == size
        return httpx.post(f"{ingress.url}/webhooks/zoho/BTEC_Students", content=body, params={"token": t.zoho_token},
                          headers={"Content-Type": "application/json", "X-Tenant-ID": t.name}, timeout=30)

    assert post(limit, lambda n: b"x" * n).status_code == 202
    assert post(limit + 1, lambda n: b"x" * n).status_code == 413
    # Random text does not compress: 1 MiB of it plus key and headers is over the broker's record limit.
    random_text = post(limit, lambda n: base64.b64encode(os.urandom(n))[:n])
    assert random_text.status_code == 413, random_text.text


def test_odd_bodies_are_refused_and_every_service_can_still_read_the_tenants(
        control: Service, tenants_file: Path, tenant_factory: Callable[..., TenantCreds]) -> None:
    t = tenant_factory()
    headers = {"Authorization": f"Bearer {t.control_key}", "Content-Type": "application/json"}

    def put(path: str, raw: str) -> int:
        return httpx.put(f"{control.url}/control/v1{path}", content=raw.encode(), headers=headers).status_code

    # A lone surrogate is valid JSON but not Unicode: stored, no service could parse the file again; echoed
    # in the 422, it could not be encoded (that was a 500).
    assert put("/settings", '{"zoho_modules": ["\\ud800"]}') == 422
    assert put("/field-mapping", '{"picklists": {"payment.method": {"values": ["\\udfff"]}}}') == 422
    # An entity override that is not an object (this one was a 500), an unknown entity, an unknown key.
    assert put("/field-mapping", '{"entities": {"student": 5}}') == 422
    assert put("/field-mapping", '{"entities": {"learner": {"module": "Learners"}}}') == 422
    assert put("/field-mapping", '{"entitys": {}}') == 422
    assert put("/settings", '{"moodle_events": ["course_viewed"]}') == 422
    assert put("/field-mapping", "[]") == 422
    TenantsConfig.model_validate_json(tenants_file.read_text())
    assert control_api(control, t, "GET", "/field-mapping").json()["overrides"] == {}


def test_a_change_the_services_could_not_read_back_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"tenants": {"a": {"moodle_webhook_secret": "whsec_eA==", "zoho_webhook_token": "t"}}}))
    before = path.read_text()
    settings = Settings(TENANTS_FILE=path)
    with pytest.raises(ValidationError):
        update_tenant(settings, "a", lambda entry: entry.__setitem__("zoho_modules", ["\ud800"]))
    assert path.read_text() == before
