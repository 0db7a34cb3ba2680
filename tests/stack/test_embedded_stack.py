"""The embedded stack behaves like a service an operator can trust."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from common.settings import PROJECT_ROOT
from schemas.topics import CANONICAL_ENTITIES, contract_topics
from tests.infra import Infra, free_port, read_records


@pytest.fixture
def embedded(infra: Infra) -> Infra:
    if infra.kind != "embedded":
        pytest.fail("these tests exercise the embedded stack; run them without Docker or an external cluster")
    return infra


OFF = int(os.environ.get("TEST_STACK_PORT_OFFSET", "0"))
TEST_STACK = PROJECT_ROOT / (f".stack-test-{OFF}" if OFF else ".stack-test")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STACK_DIR": str(TEST_STACK), "STACK_KAFKA_PORT": str(29092 + OFF),
           "STACK_CONTROLLER_PORT": str(29093 + OFF), "STACK_PG_PORT": str(25432 + OFF)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "stack", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=300)


def test_topics_of_the_design_exist_copartitioned_and_kept_forever(embedded: Infra) -> None:
    admin = AdminClient({"bootstrap.servers": embedded.bootstrap})
    topics = admin.list_topics(timeout=10).topics
    names = ["raw.zoho", "raw.moodle", "deadletter", "zoho.outcomes", *(f"canonical.{e}" for e in CANONICAL_ENTITIES)]
    assert {len(topics[n].partitions) for n in names} == {4}
    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in names])
    for res, fut in configs.items():
        assert fut.result()["retention.ms"].value == "-1", res.name


def test_start_is_idempotent_and_status_reports_where_logs_are(embedded: Infra) -> None:
    first = _cli("start")
    assert first.returncode == 0, first.stderr
    again = _cli("start")
    assert again.returncode == 0, again.stderr
    assert f"{len(contract_topics(4))} ready" in again.stdout
    status = _cli("status")
    assert status.returncode == 0
    assert "kafka.log" in status.stdout and "postgres.log" in status.stdout
    assert '"ready": true' in status.stdout


def test_data_survives_stop_and_start(embedded: Infra) -> None:
    with psycopg.connect(embedded.database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survives (v text)")
        conn.execute("INSERT INTO survives VALUES ('kept')")
    p = Producer({"bootstrap.servers": embedded.bootstrap})
    p.produce("zoho.outcomes", key=b"survival", value=b"still here")
    assert p.flush(10) == 0

    assert _cli("stop").returncode == 0
    down = _cli("status")
    assert down.returncode == 3 and '"ready": false' in down.stdout
    assert _cli("start").returncode == 0

    assert any(r.value == b"still here" for r in read_records(embedded.bootstrap, "zoho.outcomes"))
    with psycopg.connect(embedded.database_url) as conn:
        assert conn.execute("SELECT v FROM survives").fetchall() == [("kept",)]


def test_stale_pid_file_is_detected_and_repaired(embedded: Infra) -> None:
    assert _cli("stop").returncode == 0
    pid_file = TEST_STACK / "kafka" / "kafka.pid"
    pid_file.write_text("999999")  # a crashed run's leftover: no such process
    started = _cli("start")
    assert started.returncode == 0, started.stderr
    assert pid_file.read_text().strip() != "999999"
    assert '"ready": true' in _cli("status").stdout


def test_a_foreign_process_on_the_port_is_reported_clearly(embedded: Infra, tmp_path: Path) -> None:
    env = {**os.environ, "STACK_DIR": str(tmp_path / "other"), "STACK_KAFKA_PORT": str(29092 + OFF),
           "STACK_CONTROLLER_PORT": str(free_port()), "STACK_PG_PORT": str(free_port())}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "stack", "start"], capture_output=True, text=True, env=env,
                            cwd=PROJECT_ROOT, timeout=300)
    assert result.returncode == 1
    # The broker of the test stack holds it: the message says who, and what to set.
    broker = (TEST_STACK / "kafka" / "kafka.pid").read_text().strip()
    assert f"port {29092 + OFF} is taken (by pid {broker}, java): set STACK_KAFKA_PORT to move it" in result.stderr
    subprocess.run([sys.executable, "-m", "stack", "stop"], env=env, cwd=PROJECT_ROOT, timeout=120)
