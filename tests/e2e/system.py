"""The whole system for one tenant as real processes: ingress, streams worker, projector, Zoho sink and a Zoho
emulator org of its own, on the test broker and database — and, with `moodle=True`, the Moodle side too: the
Moodle sink, the Zoho puller and a Moodle emulator site that sends the plugin's signed webhooks to the ingress.
A supervisor thread restarts any service that exits (as systemd's `Restart=always` would), so a test can SIGKILL
them at will."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from ops.college.webhooks import Plan, rebase
from schemas.topics import RAW_MOODLE, RAW_ZOHO
from tests.conftest import TenantCreds
from tests.infra import Infra, end_offsets, free_port, start_service, stop_service
from tests.moodle_emulator.harness import Emulator

SERVICES = ("ingress", "streams", "projector", "sink")
MOODLE_TOKEN = "e2e-moodle-sink-token-0123456789"
RESTART_PAUSE_S = 3.0


@dataclass
class Process:
    """One service: how to start it, the running process, and what happened to it."""

    name: str
    spawn: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes] | None = None
    crashes: list[int] = field(default_factory=list)  # exit codes of exits the test did not cause
    spawned_at: float = 0.0


class System:
    def __init__(self, infra: Infra, service_env: dict[str, str], tenant: TenantCreds, tmp: Path,
                 sink_timeout_s: float = 2.0, moodle: bool = False) -> None:
        self.infra = infra
        self.tenant = tenant
        self.tmp = tmp
        run = uuid.uuid4().hex[:8]
        self.app_id = f"mzsync-e2e-{run}"
        self.schema = f"e2e_{run}"
        self.ingress_url = f"http://127.0.0.1:{free_port()}"
        self.emulator_url = f"http://127.0.0.1:{free_port()}"
        self.moodle = Emulator(f"http://127.0.0.1:{free_port()}") if moodle else None
        self._org = {"tenant": tenant.name, "client_id": f"1000.E2E{run.upper()}", "client_secret": f"secret-{run}",
                     "refresh_token": f"1000.refresh-{run}", "webhook_token": tenant.zoho_token,
                     "id_prefix": "5300001"}
        account: dict[str, Any] = {
            "tenant": tenant.name, "accounts_url": self.emulator_url, "api_domain": self.emulator_url,
            **{k: self._org[k] for k in ("client_id", "client_secret", "refresh_token")}}
        if moodle:
            # The college makes its enrollments in Zoho (the Moodle sink provisions them), so the Zoho sink does not
            # write Moodle's enrolments back as records of their own. The puller loads the org once at start and
            # then only when asked: nothing in the loop waits for it to bring back the Moodle ids the sink wrote
            # with `trigger: []` (a course the Moodle sink made names its class by idnumber).
            account["pull"] = {"interval_s": 3600, "overlap_s": 2}
        else:
            account["enrollments"] = {"key_field": "Moodle_Enrollment_Key"}
        accounts = json.dumps({"accounts": [account]})
        base = {**service_env, "LOG_LEVEL": "INFO"}
        self._env = {
            "ingress": {**base, "INGRESS_PORT": self.ingress_url.rsplit(":", 1)[1], "INGRESS_DELIVERY_TIMEOUT_S": "3"},
            "streams": {**base, "STREAMS_APP_ID": self.app_id, "STREAMS_DATADIR": str(tmp / "streams-data"),
                        "STREAMS_WEB_PORT": str(free_port()), "STREAMS_TICK_INTERVAL_S": "1"},
            "projector": {**base, "PROJECTIONS_SCHEMA": self.schema, "PROJECTOR_GROUP_ID": f"e2e-projector-{run}",
                          "PROJECTOR_METRICS_PORT": str(free_port()), "PROJECTOR_SESSION_TIMEOUT_MS": "6000"},
            "sink": {**base, "ZOHO_ACCOUNTS_JSON": accounts,
                     "SINK_GROUP_ID": f"e2e-sink-{run}", "SINK_METRICS_PORT": str(free_port()),
                     "SINK_SESSION_TIMEOUT_MS": "6000", "SINK_LINGER_MS": "300", "SINK_SETTLE_S": "1.0",
                     "SINK_RETRY_PAUSE_S": "0.5", "ZOHO_TIMEOUT_S": str(sink_timeout_s),
                     "ZOHO_BACKOFF_BASE_S": "0.05", "ZOHO_BACKOFF_CAP_S": "1.0"},
        }
        self._args = {"ingress": [], "streams": ["worker", "-l", "info"], "projector": ["run"], "sink": []}
        self._modules = {"ingress": "producers", "streams": "streams", "projector": "projections",
                         "sink": "sinks.zoho"}
        self._health = {"sink": f"http://127.0.0.1:{self._env['sink']['SINK_METRICS_PORT']}/metrics"}
        if self.moodle is not None:
            site = {"tenant": tenant.name, "url": self.moodle.url, "token": MOODLE_TOKEN, "timeout_s": 3}
            self._env |= {
                "moodle-sink": {**base, "MOODLE_SITES_JSON": json.dumps({"sites": [site]}),
                                "MOODLE_SINK_GROUP_ID": f"e2e-moodle-sink-{run}",
                                "MOODLE_SINK_METRICS_PORT": str(free_port()), "MOODLE_SINK_LINGER_MS": "300",
                                "MOODLE_SINK_RETRY_PAUSE_S": "0.5", "MOODLE_SINK_REFUSED_RETRY_S": "1",
                                "MOODLE_BACKOFF_BASE_S": "0.05", "MOODLE_BACKOFF_CAP_S": "0.2"},
                "puller": {**base, "ZOHO_ACCOUNTS_JSON": accounts, "PULLER_GROUP_ID": f"e2e-puller-{run}",
                           "PULLER_METRICS_PORT": str(free_port()), "ZOHO_TIMEOUT_S": str(sink_timeout_s),
                           "ZOHO_BACKOFF_BASE_S": "0.05", "ZOHO_BACKOFF_CAP_S": "1.0"},
            }
            self._args |= {"moodle-sink": [], "puller": []}
            self._modules |= {"moodle-sink": "sinks.moodle", "puller": "pullers.zoho"}
            self._health |= {
                "moodle-sink": f"http://127.0.0.1:{self._env['moodle-sink']['MOODLE_SINK_METRICS_PORT']}/metrics",
                "puller": f"http://127.0.0.1:{self._env['puller']['PULLER_METRICS_PORT']}/metrics"}
        self.processes = {name: Process(name, self._spawner(name)) for name in self._modules}
        self.emulator: subprocess.Popen[bytes] | None = None
        self.moodle_emulator: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    # -- processes ---------------------------------------------------------------------------------------

    def _spawner(self, name: str) -> Callable[[], subprocess.Popen[bytes]]:
        def spawn() -> subprocess.Popen[bytes]:
            return start_service(self._modules[name], self._env[name], self.tmp / f"{name}.log", None,
                                 args=self._args[name])
        return spawn

    def start(self) -> None:
        config = {"orgs": [self._org], "webhooks": {"ingress_url": self.ingress_url},
                  "faults": {"timeout_s": 3.0, "seed": 17}, "call_log_size": 50_000}
        self.emulator = self._emulator("stack.zoho_emulator", self.emulator_url, "emulator", config)
        if self.moodle is not None:
            # The college's Moodle with our plugin: it signs its webhooks with the tenant's secret and sends them
            # to this system's ingress (retried a few times: the ingress may be restarting).
            site = {"tenant": self.tenant.name, "wwwroot": "https://lms.horizon-college.com",
                    "moodle_webhook_secret": self.tenant.moodle_secret,
                    "tokens": [{"token": MOODLE_TOKEN, "username": "zohosync"}]}
            self.moodle_emulator = self._emulator("stack.moodle_emulator", self.moodle.url, "moodle-emulator", {
                "sites": [site], "webhooks": {"ingress_url": self.ingress_url, "backoff_s": 0.2, "max_attempts": 8}})
        # A new generation would read every tenant's raw records of the whole session from offset 0; this
        # tenant has none yet, so its group starts at the end of raw.* (as `rebuild-canonical` positions one).
        self._position_streams_group()
        for process in self.processes.values():
            self._spawn(process)
        self._wait_streams_ready()
        self._wait_healthy(f"{self.ingress_url}/healthz", "ingress")
        for name, url in self._health.items():
            self._wait_healthy(url, name)
        self._supervisor.start()

    def _emulator(self, module: str, url: str, name: str, config: dict[str, Any]) -> subprocess.Popen[bytes]:
        config_file = self.tmp / f"{name}.json"
        config_file.write_text(json.dumps(config))
        return start_service(module, {}, self.tmp / f"{name}.log", f"{url}/healthz",
                             args=["--port", url.rsplit(":", 1)[1], "--config", str(config_file)])

    def _position_streams_group(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.infra.bootstrap})
        ends = [TopicPartition(topic, p, end) for topic in (RAW_ZOHO, RAW_MOODLE)
                for p, end in end_offsets(self.infra.bootstrap, topic).items()]
        done = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(self.app_id, ends)])
        done[self.app_id].result()

    def _wait_streams_ready(self, timeout: float = 90) -> None:
        log = self.tmp / "streams.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log.exists() and "Worker]: Ready" in log.read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise AssertionError(f"the streams worker did not become ready; {self.logs()}")

    def _wait_healthy(self, url: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} not healthy at {url}; see {self.tmp / (name + '.log')}")

    @staticmethod
    def _spawn(process: Process) -> None:
        process.proc = process.spawn()
        process.spawned_at = time.monotonic()

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for process in self.processes.values():
                    assert process.proc is not None
                    code = process.proc.poll()
                    # A pause between restarts, so a service that cannot start yet (broker or database down)
                    # does not spin on two cores.
                    if code is not None and time.monotonic() - process.spawned_at > RESTART_PAUSE_S:
                        process.crashes.append(code)
                        self._spawn(process)

    def kill(self, name: str) -> None:
        """SIGKILL one service and start it again at once."""
        with self._lock:
            process = self.processes[name]
            assert process.proc is not None
            os.kill(process.proc.pid, signal.SIGKILL)
            process.proc.wait()
            self._spawn(process)

    def restart(self, name: str, **env: str) -> None:
        """Stop one service gracefully and start it again, with `env` changed (e.g. a new consumer group)."""
        with self._lock:
            process = self.processes[name]
            assert process.proc is not None
            stop_service(process.proc, timeout=30)
            self._env[name] |= env
            self._spawn(process)
        if name in self._health:
            self._wait_healthy(self._health[name], name)

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor.is_alive():
            self._supervisor.join()
        for process in self.processes.values():
            if process.proc is not None:
                stop_service(process.proc, timeout=30)
        for emulator in (self.emulator, self.moodle_emulator):
            if emulator is not None:
                stop_service(emulator)

    def crashes(self) -> dict[str, list[int]]:
        return {name: p.crashes for name, p in self.processes.items() if p.crashes}

    def logs(self, lines: int = 12) -> str:
        """Where the logs are, and each service's last lines: a CI run's temporary folder is gone afterwards."""
        tails = []
        for log_file in sorted(self.tmp.glob("*.log")):
            last = log_file.read_text(errors="replace").splitlines()[-lines:]
            tails.append("\n".join([f"--- {log_file.name}", *(line[:400] for line in last)]))
        return "\n".join([f"logs in {self.tmp}", *tails])

    # -- the emulator --------------------------------------------------------------------------------------

    def emulator_admin(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = httpx.request(method, f"{self.emulator_url}/__emulator/{path}", timeout=10, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def faults(self, **faults: Any) -> None:
        self.emulator_admin("POST", "faults", json=faults)

    def zoho_records(self, module: str) -> list[dict[str, Any]]:
        return list(self.emulator_admin("GET", f"records/{module}", params={"tenant": self.tenant.name})["data"])

    def zoho_api(self) -> httpx.Client:
        """A client of the tenant's Zoho org's REST API (v8), as the college's own tools use it."""
        token = httpx.post(f"{self.emulator_url}/oauth/v2/token", params={
            "grant_type": "refresh_token", "client_id": self._org["client_id"],
            "client_secret": self._org["client_secret"], "refresh_token": self._org["refresh_token"]},
            timeout=10).json()["access_token"]
        return httpx.Client(base_url=f"{self.emulator_url}/crm/v8", timeout=10,
                            headers={"Authorization": f"Zoho-oauthtoken {token}"})

    def seed_zoho(self, plan: Plan) -> Plan:
        """The college's students and classes as records of the tenant's Zoho org (created without workflow
        webhooks, as they were before the integration was switched on); the plan rebased onto the ids Zoho gave
        them, so the grades the sink writes can name their student and class."""
        students = [{"Academic_Email": s.email, **({"Student_Moodle_ID": s.moodle_user_id}
                                                   if s.linked_by == "student_moodle_id" else {})}
                    for s in plan.expected.students.values()]
        classes = [json.loads(r.body)["data"] for r in plan.requests if r.kind == "BTEC_Classes" and r.label == "new"]
        ids: dict[str, str] = {}
        with self.zoho_api() as api:
            for module, planned, records, key in (
                    ("BTEC_Students", list(plan.expected.students), students, "Academic_Email"),
                    ("BTEC_Classes", [c["id"] for c in classes], [{"Class_Name": c["Class_Name"]} for c in classes],
                     "Class_Name")):
                for start in range(0, len(records), 100):
                    resp = api.post(f"/{module}/upsert", json={"data": records[start:start + 100], "trigger": [],
                                                               "duplicate_check_fields": [key]})
                    assert resp.status_code in (200, 201), resp.text
                    for pid, item in zip(planned[start:start + 100], resp.json()["data"], strict=True):
                        ids[pid] = item["details"]["id"]
        return rebase(plan, ids)
