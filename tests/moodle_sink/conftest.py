"""The Moodle sink as a real process between the test broker/database and the Moodle emulator (one site, one
tenant per test), fed with canonical Zoho events like the streams write them."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from schemas.codec import decode, encode
from tests.infra import Infra, free_port, metric_sum, read_records, start_service, stop_service, wait_until
from tests.moodle_emulator.harness import Emulator, Receiver, running_emulator, webhook_receiver

SITES = 16
RUN = uuid.uuid4().hex[:8]
FUNCTIONS = ["core_webservice_get_site_info", "core_user_create_users", "core_user_update_users",
             "core_user_get_users_by_field", "core_course_create_categories", "core_course_get_categories",
             "core_course_create_courses", "core_course_update_courses", "core_course_get_courses_by_field",
             "enrol_manual_enrol_users", "enrol_manual_unenrol_users"]
WRITES = ("core_user_create_users", "core_user_update_users", "core_course_create_categories",
          "core_course_create_courses", "core_course_update_courses", "enrol_manual_enrol_users",
          "enrol_manual_unenrol_users")


def token(i: int) -> str:
    return f"sink-token-{RUN}-{i:02d}"


def limited_token(i: int) -> str:
    return f"limited-token-{RUN}-{i:02d}"


@pytest.fixture(scope="session")
def sink_receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture(scope="session")
def site_numbers() -> list[int]:
    return list(range(SITES))


@pytest.fixture(scope="session")
def sink_moodle(sink_receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = {
        "sites": [{"tenant": f"ms-{RUN}-{i}", "wwwroot": f"https://lms{i}.college.example",
                   "services": {"moodle_zoho_sync": FUNCTIONS},
                   "tokens": [{"token": token(i), "username": "zohosync", "service": "moodle_zoho_sync"},
                              {"token": limited_token(i), "username": "limited", "service": "moodle_zoho_sync",
                               "missing_capabilities": ["moodle/user:create"]}]}
                  for i in range(SITES)],
        "webhooks": {"ingress_url": sink_receiver.url},
        "faults": {"timeout_s": 1.0},
    }
    with running_emulator(config, tmp_path_factory.mktemp("sink-moodle")) as emu:
        yield emu


@dataclass
class MoodleSite:
    emu: Emulator
    number: int

    @property
    def tenant(self) -> str:
        return f"ms-{RUN}-{self.number}"

    def site(self, good_token: bool = True, **options: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "url": self.emu.url,
                "token": token(self.number) if good_token else limited_token(self.number), "timeout_s": 3,
                "options": options}

    def table(self, name: str) -> list[dict[str, Any]]:
        return self.emu.table(name, self.tenant)

    def users(self) -> list[dict[str, Any]]:
        # Without guest, admin and the token users.
        return [u for u in self.table("users") if u["username"] not in ("guest", "admin", "zohosync", "limited")]

    def write_calls(self) -> list[dict[str, Any]]:
        return [c for c in self.emu.calls(self.tenant) if c["wsfunction"] in WRITES and c["errorcode"] is None
                and c["status"] == 200]


@pytest.fixture
def site(sink_moodle: Emulator, site_numbers: list[int]) -> Iterator[MoodleSite]:
    yield MoodleSite(sink_moodle, site_numbers.pop())
    sink_moodle.faults(next=[], latency_ms=0)


# -- canonical Zoho events ---------------------------------------------------------------------------------

_offsets = iter(range(1, 10**9))


def event(tenant: str, entity: str, zoho_id: str, payload: dict[str, Any] | None, *, version: int = 1,
          deleted: bool = False) -> dict[str, Any]:
    at = 1_760_000_000_000 + version
    body = json.dumps(payload, sort_keys=True, default=str)
    kind = "".join(part.capitalize() for part in entity.split("_"))
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{entity}/{zoho_id}/{body}/{version}")),
        "event_type": f"{kind}{'Deleted' if deleted else 'Upserted'}", "tenant": tenant, "entity": entity,
        "entity_id": zoho_id, "origin": "zoho", "occurred_at": at, "received_at": at, "source_version": at,
        "raw": {"topic": "raw.zoho", "partition": 0, "offset": next(_offsets)}, "record_index": 0,
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, body).hex, "warnings": [], "payload": payload,
    }


def student(tenant: str, n: int, *, status: str = "Active", version: int = 1, email: str | None = None,
            **extra: Any) -> dict[str, Any]:
    zoho_id = f"S{n:05d}"
    payload = {"zoho_id": zoho_id, "student_number": f"STU-{n:05d}", "first_name": f"First{n}",
               "last_name": f"Last{n}", "full_name": None, "display_name": None,
               "academic_email": email or f"student{n}@horizon-college.com", "email": None, "phone": None,
               "city": None, "country": None, "nationality": None, "status": status, "moodle_user_id": None,
               "modified_at": None, **extra}
    return event(tenant, "student", zoho_id, payload, version=version)


def teacher(tenant: str, n: int, version: int = 1) -> dict[str, Any]:
    zoho_id = f"T{n:04d}"
    payload = {"zoho_id": zoho_id, "name": f"Teacher Number{n}", "email": f"teacher{n}@horizon-college.com",
               "academic_email": None, "phone": None, "moodle_user_id": None, "modified_at": None}
    return event(tenant, "teacher", zoho_id, payload, version=version)


def program(tenant: str, n: int) -> dict[str, Any]:
    zoho_id = f"P{n:03d}"
    payload = {"zoho_id": zoho_id, "name": f"BTEC Program {n}", "program_code": None, "major": None,
               "level": None, "status": "Active", "moodle_category_id": None, "price": None, "modified_at": None}
    return event(tenant, "program", zoho_id, payload)


def klass(tenant: str, n: int, *, program_n: int | None = 1, teacher_n: int | None = 1, version: int = 1,
          **extra: Any) -> dict[str, Any]:
    zoho_id = f"C{n:04d}"
    payload = {"zoho_id": zoho_id, "name": f"Class {n} Programming", "short_name": None,
               "program_id": f"P{program_n:03d}" if program_n is not None else None, "program_name": None,
               "unit_id": None, "unit_name": None, "teacher_id": f"T{teacher_n:04d}" if teacher_n else None,
               "teacher_name": None, "moodle_course_id": None, "status": "Active",
               "start_date": date(2026, 9, 1), "end_date": date(2027, 6, 30), "modified_at": None, **extra}
    return event(tenant, "class", zoho_id, payload, version=version)


def enrollment(tenant: str, student_n: int, class_n: int, *, version: int = 1, deleted: bool = False,
               end: date | None = None) -> dict[str, Any]:
    zoho_id = f"E{student_n:05d}{class_n:04d}"
    payload = {"zoho_id": zoho_id, "student_id": f"S{student_n:05d}", "student_name": None,
               "class_id": f"C{class_n:04d}", "class_name": None, "start_date": date(2026, 9, 1), "end_date": end,
               "enrollment_type": "Normal", "moodle_course_id": None, "modified_at": None}
    return event(tenant, "enrollment", zoho_id, payload, version=version, deleted=deleted)


def produce(infra: Infra, events: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": infra.bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"})
    for e in events:
        producer.produce(f"canonical.{e['entity']}", encode(f"canonical.{e['entity']}", e),
                         f"{e['tenant']}/{e['entity_id']}")
    assert producer.flush(20) == 0


def outcomes(infra: Infra, tenant: str, start: dict[int, int] | None = None) -> list[dict[str, Any]]:
    prefix = f"{tenant}/".encode()
    return [decode(r.value)[1] for r in read_records(infra.bootstrap, "moodle.outcomes", start)
            if r.key and r.key.startswith(prefix) and r.value]


def wait_outcomes(infra: Infra, tenant: str, count: int, timeout: float = 60,
                  start: dict[int, int] | None = None) -> list[dict[str, Any]]:
    found = wait_until(lambda: (o if len(o := outcomes(infra, tenant, start)) >= count else None), timeout, 0.5)
    assert found is not None, f"expected {count} outcomes, got {len(outcomes(infra, tenant, start))}"
    return list(found)


def dead_letters(infra: Infra, tenant: str) -> list[dict[str, Any]]:
    prefix = f"{tenant}/".encode()
    return [decode(r.value)[1] for r in read_records(infra.bootstrap, "deadletter")
            if r.key and r.key.startswith(prefix) and r.value]


# -- the sink process --------------------------------------------------------------------------------------

@dataclass
class SinkProcess:
    url: str
    proc: Any
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        return metric_sum(f"{self.url}/metrics", name, **labels)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class SinkRunner:
    def __init__(self, infra: Infra, logs: Path) -> None:
        self.infra = infra
        self.logs = logs
        self.running: list[SinkProcess] = []

    def start(self, sites: list[dict[str, Any]], group: str | None = None, **env: str) -> SinkProcess:
        port = free_port()
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap, "DATABASE_URL": self.infra.database_url,
            "MOODLE_SITES_JSON": json.dumps({"sites": sites}),
            "MOODLE_SINK_GROUP_ID": group or f"moodle-sink-test-{uuid.uuid4().hex[:8]}",
            "MOODLE_SINK_METRICS_PORT": str(port), "MOODLE_SINK_LINGER_MS": "300",
            "MOODLE_SINK_RETRY_PAUSE_S": "0.5", "MOODLE_SINK_REFUSED_RETRY_S": "1",
            "MOODLE_BACKOFF_BASE_S": "0.05", "MOODLE_BACKOFF_CAP_S": "0.2", **env,
        }
        log = self.logs / f"moodle-sink-{len(self.running)}.log"
        url = f"http://127.0.0.1:{port}"
        sink = SinkProcess(url, start_service("sinks.moodle", settings, log, f"{url}/metrics"), log)
        self.running.append(sink)
        return sink

    def stop_all(self) -> None:
        for sink in self.running:
            stop_service(sink.proc)


@pytest.fixture
def sinks(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkRunner]:
    runner = SinkRunner(infra, tmp_path_factory.mktemp("moodle-sink-logs"))
    yield runner
    runner.stop_all()
