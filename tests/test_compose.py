"""docker-compose.yml: the services Docker users expect, wired with the embedded stack's names."""

from __future__ import annotations

from pathlib import Path

import yaml

from common.settings import PROJECT_ROOT


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_compose_has_redpanda_console_postgres_and_every_service() -> None:
    services = _compose()["services"]
    assert {"redpanda", "console", "postgres", "topics", "ingress", "control", "streams", "projector", "zoho-sink",
            "moodle-sink", "zoho-puller", "zoho-emulator"} <= set(services)
    assert services["zoho-emulator"]["profiles"] == ["emulator"]
    assert "redpanda" in services["redpanda"]["image"]
    assert "console" in services["console"]["image"]
    assert services["console"]["environment"]["KAFKA_BROKERS"] == "redpanda:9092"


def test_services_use_the_same_configuration_names_as_the_embedded_stack() -> None:
    services = _compose()["services"]
    for name in ("topics", "ingress", "control", "streams", "projector", "zoho-sink", "moodle-sink",
                 "zoho-puller"):
        env = services[name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "redpanda:9092"
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert "TENANTS_JSON" in env
        assert services[name]["build"] == "."


def test_ingress_waits_for_topics_and_exposes_its_port() -> None:
    services = _compose()["services"]
    assert services["ingress"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert "8000:8000" in services["ingress"]["ports"]
    assert services["topics"]["command"][-2:] == ["stack", "topics"]


def test_dockerfile_installs_the_project_and_runs_the_ingress() -> None:
    dockerfile = Path(PROJECT_ROOT / "Dockerfile").read_text()
    assert "pip install ." in dockerfile
    assert '"-m", "producers"' in dockerfile
    for package in ("common", "producers", "control", "streams", "projections", "sinks", "pullers", "schemas", "stack"):
        assert f"COPY {package} {package}" in dockerfile
