"""The sink as a real process between the test broker/database and the Zoho emulator (one org per test)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from schemas.codec import decode, encode
from tests.infra import Infra, free_port, metric_sum, read_records, start_service, stop_service, wait_until
from tests.zoho_emulator.harness import Emulator, Receiver, running_emulator, unique_field, webhook_receiver

ORGS = 32
ENROLLMENT_KEY = "Moodle_Enrollment_Key"
RUN = uuid.uuid4().hex[:8]


@dataclass
class Org:
    tenant: str
    client_id: str
    client_secret: str
    refresh_token: str
    id_prefix: str
    modules: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.refresh_token, "id_prefix": self.id_prefix, "webhook_token": "tok",
                "modules": self.modules}


def _org(i: int, modules: dict[str, Any] | None = None) -> Org:
    return Org(f"sink-{RUN}-{i}", f"1000.SINK{i}", f"secret-{i}", f"1000.refresh-{i}", f"{6100000 + i * 1000}",
               modules or {})


@pytest.fixture(scope="session")
def orgs() -> list[Org]:
    return [_org(i) for i in range(ORGS)]


@pytest.fixture(scope="session")
def grade_id_unique_org() -> Org:
    """An org whose admin also set BTEC_Grades.Moodle_Grade_ID to "Do not allow duplicate values"."""
    return _org(ORGS, unique_field("BTEC_Grades", "Moodle_Grade_ID"))


@pytest.fixture(scope="session")
def sink_receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture(scope="session")
def sink_emulator(orgs: list[Org], grade_id_unique_org: Org, sink_receiver: Receiver,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = {"orgs": [o.config() for o in [*orgs, grade_id_unique_org]],
              "webhooks": {"ingress_url": sink_receiver.url},
              "faults": {"timeout_s": 1.5, "seed": 11}, "call_log_size": 50_000}
    with running_emulator(config, tmp_path_factory.mktemp("sink-emulator")) as emu:
        yield emu


@dataclass
class ZohoOrg:
    """One tenant's Zoho org in the emulator, reached like the sink reaches it."""

    emu: Emulator
    org: Org
    students: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    @property
    def tenant(self) -> str:
        return self.org.tenant

    def account(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "accounts_url": self.emu.url, "api_domain": self.emu.url,
                "client_id": self.org.client_id, "client_secret": self.org.client_secret,
                "refresh_token": self.org.refresh_token}

    def api(self) -> httpx.Client:
        token = self.emu.token(self.org.client_id, self.org.client_secret, self.org.refresh_token)
        return httpx.Client(base_url=f"{self.emu.url}/crm/v8", timeout=10,
                            headers={"Authorization": f"Zoho-oauthtoken {token}"})

    def create(self, module: str, records: list[dict[str, Any]], key: str, trigger: bool = False) -> list[str]:
        ids: list[str] = []
        with self.api() as api:
            for start in range(0, len(records), 100):
                body: dict[str, Any] = {"data": records[start:start + 100], "duplicate_check_fields": [key]}
                if not trigger:
                    body["trigger"] = []
                resp = api.post(f"/{module}/upsert", json=body)
                assert resp.status_code in (200, 201), resp.text
                ids += [item["details"]["id"] for item in resp.json()["data"]]
        return ids

    def seed(self, students: int, classes: int = 2) -> None:
        self.students = self.create("BTEC_Students", [
            {"Academic_Email": f"s{i}@{self.tenant}.test", "First_Name": f"Student{i}"} for i in range(students)],
            "Academic_Email")
        self.classes = self.create("BTEC_Classes", [{"Class_Name": f"{self.tenant} class {i}"}
                                                    for i in range(classes)], "Class_Name")

    def records(self, module: str = "BTEC_Grades") -> list[dict[str, Any]]:
        return self.emu.records(module, self.tenant)

    def calls_to(self, module: str) -> list[dict[str, Any]]:
        """Every call this org's API saw for `module`: method, path, operation, status, records."""
        return [c for c in self.emu.calls(self.tenant) if c["path"].split("/")[3] == module]

    def write_calls(self) -> list[dict[str, Any]]:
        return [c for c in self.emu.calls(self.tenant) if c["method"] in ("POST", "PUT") and c["status"] < 300
                and c["path"].split("/")[3] in ("BTEC_Grades", "BTEC_Students")
                and not c["path"].endswith("/BTEC_Students/upsert")]

    def webhooks_fired(self) -> list[dict[str, Any]]:
        deliveries = self.emu.admin("GET", "webhooks")["deliveries"]
        return [d for d in deliveries if str(d["record_id"]).startswith(self.org.id_prefix)]


@pytest.fixture
def zoho(sink_emulator: Emulator, orgs: list[Org]) -> Iterator[ZohoOrg]:
    org = orgs.pop()
    yield ZohoOrg(sink_emulator, org)
    sink_emulator.faults(rate_429=0, error_rate=0, timeout_rate=0, latency_ms=0, next=[])


@pytest.fixture
def zoho_grade_id_unique(sink_emulator: Emulator, grade_id_unique_org: Org) -> ZohoOrg:
    return ZohoOrg(sink_emulator, grade_id_unique_org)


# -- canonical events --------------------------------------------------------------------------------------

def lo(code: str, score: float, feedback: str | None = None) -> dict[str, Any]:
    return {"code": code, "title": None, "description": f"criterion {code}", "identification": None,
            "score": score, "feedback": feedback, "achieved": score >= 1}


def grade_event(tenant: str, user: int, assignment: int, student_id: str, class_id: str, *, attempt: int = 1,
                letter: str = "P", los: list[dict[str, Any]] | None = None, graded_ms: int = 1_760_000_000_000,
                role: str = "teacher", grader: str = "Ms Teacher", feedback: str | None = "Good work",
                origin: str = "moodle") -> dict[str, Any]:
    key = f"{user}_{assignment}"
    los = los if los is not None else [lo("P1", 1), lo("P2", 1)]
    payload = {
        "composite_key": key, "student_id": student_id, "student_name": f"Student {user}", "class_id": class_id,
        "class_name": "Class", "unit_id": "u1", "unit_name": "Unit 1: Programming", "program_id": "p1",
        "registration_id": "r1", "moodle_user_id": str(user), "assignment_id": str(assignment),
        "moodle_grade_id": f"g{user}{assignment}{attempt}", "grade_name": f"Student {user} - A{assignment}",
        "letter": letter, "grade_status": "Released", "attempt_number": attempt,
        "graded_at": graded_ms, "feedback": feedback, "grader_role": role,
        "grader_name": grader if role == "teacher" else None, "iv_name": grader if role == "iv" else None,
        "learning_outcomes": los,
    }
    body = json.dumps(payload, sort_keys=True)
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{body}")), "event_type": "GradeRecorded",
        "tenant": tenant, "entity": "grade", "entity_id": key, "origin": origin,
        "occurred_at": graded_ms, "received_at": graded_ms, "source_version": attempt * 10**13 + graded_ms,
        "raw": {"topic": "raw.moodle", "partition": 0, "offset": user}, "record_index": 0,
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, body).hex, "payload": payload,
    }


def enrollment_event(tenant: str, user: int, course: int, student_id: str | None, class_id: str | None, *,
                     enrolment: int | None = None, at_ms: int = 1_760_000_000_000, deleted: bool = False,
                     time_start_ms: int | None = 1_759_968_000_000, time_end_ms: int | None = None,
                     class_name: str | None = "Class") -> dict[str, Any]:
    """A canonical.moodle_enrollment v2 event as streams emits it once the user is linked and the course mapped."""
    enrolment_id = str(enrolment if enrolment is not None else user * 1000 + course)
    payload = {"enrolment_id": enrolment_id, "moodle_user_id": str(user), "course_id": str(course),
               "course_idnumber": None, "role": "student", "status": "active", "time_start": time_start_ms,
               "time_end": time_end_ms, "student_id": student_id, "class_id": class_id, "class_name": class_name}
    body = json.dumps({**payload, "deleted": deleted}, sort_keys=True)
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{body}/{at_ms}")),
        "event_type": "MoodleEnrollmentDeleted" if deleted else "MoodleEnrollmentUpserted", "tenant": tenant,
        "entity": "moodle_enrollment", "entity_id": enrolment_id, "origin": "moodle", "occurred_at": at_ms,
        "received_at": at_ms, "source_version": at_ms, "raw": {"topic": "raw.moodle", "partition": 0, "offset": user},
        "record_index": 0, "fingerprint": uuid.uuid5(uuid.NAMESPACE_OID, body).hex, "payload": payload,
    }


def link_event(tenant: str, user: int, student_id: str, method: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "event_id": f"{tenant}-link-{user}-{method}", "event_type": "MoodleUserUpserted", "tenant": tenant,
        "entity": "moodle_user", "entity_id": str(user), "origin": "moodle", "occurred_at": now,
        "received_at": now, "source_version": now, "raw": {"topic": "raw.moodle", "partition": 0, "offset": 0},
        "record_index": 0, "fingerprint": f"fp-{user}-{method}",
        "payload": {"moodle_user_id": str(user), "email": f"u{user}@x.test", "student_id": student_id,
                    "link_method": method},
    }


def produce(infra: Infra, topic: str, events: list[dict[str, Any]]) -> None:
    name = topic.removeprefix("canonical.")
    # Partitioned like the streams write them (Java murmur2), so readers find a key where it would be.
    producer = Producer({"bootstrap.servers": infra.bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"})
    for event in events:
        producer.produce(topic, encode(f"canonical.{name}", event), f"{event['tenant']}/{event['entity_id']}")
    assert producer.flush(20) == 0


def outcomes(infra: Infra, tenant: str, start: dict[int, int] | None = None) -> list[dict[str, Any]]:
    prefix = f"{tenant}/".encode()
    return [decode(r.value)[1] for r in read_records(infra.bootstrap, "zoho.outcomes", start)
            if r.key and r.key.startswith(prefix) and r.value]


def dead_letters(infra: Infra, tenant: str) -> list[dict[str, Any]]:
    prefix = f"{tenant}/".encode()
    return [decode(r.value)[1] for r in read_records(infra.bootstrap, "deadletter")
            if r.key and r.key.startswith(prefix) and r.value]


def wait_outcomes(infra: Infra, tenant: str, count: int, timeout: float = 60,
                  start: dict[int, int] | None = None) -> list[dict[str, Any]]:
    found = wait_until(lambda: (o if len(o := outcomes(infra, tenant, start)) >= count else None), timeout, 0.5)
    assert found is not None, f"expected {count} outcomes, got {len(outcomes(infra, tenant, start))}"
    return list(found)


def lo_rows(record: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((r["LO_Code"], r["LO_Score"]) for r in record.get("Learning_Outcomes_Assessm") or [])


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

    def start(self, zoho: ZohoOrg, group: str | None = None, options: dict[str, Any] | None = None,
              **env: str) -> SinkProcess:
        """`options`: the tenant's sink options beside its account (e.g. `enrollments`)."""
        port = free_port()
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap, "DATABASE_URL": self.infra.database_url,
            "ZOHO_ACCOUNTS_JSON": json.dumps({"accounts": [{**zoho.account(), **(options or {})}]}),
            "SINK_GROUP_ID": group or f"sink-test-{uuid.uuid4().hex[:8]}", "SINK_METRICS_PORT": str(port),
            "SINK_LINGER_MS": "300", "SINK_SETTLE_S": "1.0", "SINK_RETRY_PAUSE_S": "0.5",
            "ZOHO_TIMEOUT_S": "1.0", "ZOHO_BACKOFF_BASE_S": "0.05", "ZOHO_BACKOFF_CAP_S": "0.5", **env,
        }
        log = self.logs / f"sink-{zoho.tenant}-{len(self.running)}.log"
        url = f"http://127.0.0.1:{port}"
        sink = SinkProcess(url, start_service("sinks.zoho", settings, log, f"{url}/metrics"), log)
        self.running.append(sink)
        return sink

    def stop_all(self) -> None:
        for sink in self.running:
            stop_service(sink.proc)


@pytest.fixture
def sinks(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkRunner]:
    runner = SinkRunner(infra, tmp_path_factory.mktemp("sink-logs"))
    yield runner
    runner.stop_all()


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
