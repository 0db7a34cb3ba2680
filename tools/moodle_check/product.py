"""The product as `make run` starts it (embedded stack, ingress, streams worker, projector, Zoho sink, Zoho
emulator), on ports of its own, and what the check reads back from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from psycopg.rows import dict_row

from common.settings import PROJECT_ROOT
from schemas.codec import decode
from schemas.topics import MOODLE_OUTCOMES, RAW_MOODLE
from stack.process import free_port

T = TypeVar("T")


@dataclass(frozen=True)
class Ports:
    # Below the kernel's ephemeral range (32768–60999), where an outgoing connection may hold any port; above the
    # test stacks' (29092 and 25432 plus TEST_STACK_PORT_OFFSET).
    kafka: int = 31092
    controller: int = 31093
    postgres: int = 31432
    ingress: int = 31200
    emulator: int = 31290
    streams: int = 31266
    projector: int = 31268
    sink: int = 31270


class Product:
    def __init__(self, stack_dir: Path, ports: Ports, log_dir: Path) -> None:
        self.stack_dir = stack_dir
        self.ports = ports
        self.log_dir = log_dir
        self.ingress_url = f"http://127.0.0.1:{ports.ingress}"
        self.emulator_url = f"http://127.0.0.1:{ports.emulator}"
        self.env = {
            "STACK_DIR": str(stack_dir), "STACK_KAFKA_PORT": str(ports.kafka),
            "STACK_CONTROLLER_PORT": str(ports.controller), "STACK_PG_PORT": str(ports.postgres),
            "ZOHO_EMULATOR_PORT": str(ports.emulator), "INGRESS_PORT": str(ports.ingress),
            "STREAMS_WEB_PORT": str(ports.streams), "STREAMS_DATADIR": str(stack_dir / "streams-data"),
            "PROJECTOR_METRICS_PORT": str(ports.projector), "SINK_METRICS_PORT": str(ports.sink),
            "ZOHO_ACCOUNTS_FILE": str(stack_dir / "zoho-accounts.json"), "LOG_LEVEL": "INFO",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.moodle_sink_port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    def _stack(self, command: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "stack", command], env={**os.environ, **self.env},
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-10:]
            raise RuntimeError(f"python -m stack {command} exited {proc.returncode}:\n  " + "\n  ".join(tail))

    def start(self) -> None:
        """A fresh stack (no data from an earlier run: Moodle ids repeat between fresh sites) and the services."""
        self._stack("reset")
        self._stack("start")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        services = {
            "zoho-emulator": ["stack.zoho_emulator", "--port", str(self.ports.emulator), "--config",
                              str(self.stack_dir / "zoho-emulator.json"), "--ingress-url", self.ingress_url],
            "ingress": ["producers"],
            "streams": ["streams", "worker", "-l", "info"],
            "projector": ["projections", "run"],
            "zoho-sink": ["sinks.zoho"],
        }
        for name, args in services.items():
            out = (self.log_dir / f"{name}.log").open("ab")
            self.procs[name] = subprocess.Popen([sys.executable, "-m", *args], env={**os.environ, **self.env},
                                                stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        self._healthy(f"{self.emulator_url}/healthz", "zoho-emulator")
        self._healthy(f"{self.ingress_url}/healthz", "ingress")
        self._healthy(f"http://127.0.0.1:{self.ports.sink}/metrics", "zoho-sink")
        self._healthy(f"http://127.0.0.1:{self.ports.projector}/metrics", "projector")
        deadline = time.monotonic() + 180
        log = self.log_dir / "streams.log"
        while "Worker]: Ready" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.procs["streams"].poll() is not None:
                raise RuntimeError(f"the streams worker did not become ready; see {log}")
            time.sleep(0.5)

    def start_moodle_sink(self, name: str, sites: list[dict[str, Any]], group: str) -> None:
        """`python -m sinks.moodle` as `make run` starts it, with the given sites and consumer group (a new group
        reads every canonical event again: the re-run)."""
        self.moodle_sink_port = free_port()
        env = {**os.environ, **self.env, "MOODLE_SITES_JSON": json.dumps({"sites": sites}),
               "MOODLE_SINK_GROUP_ID": group, "MOODLE_SINK_METRICS_PORT": str(self.moodle_sink_port),
               "MOODLE_SINK_LINGER_MS": "500", "MOODLE_SINK_RETRY_PAUSE_S": "2"}
        out = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "sinks.moodle"], env=env, stdout=out,
                                            stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        self._healthy(f"http://127.0.0.1:{self.moodle_sink_port}/metrics", name)

    def stop_service(self, name: str) -> None:
        terminate(self.procs.pop(name))

    def metric(self, name: str, port: int, **labels: str) -> float:
        """The sum of a Prometheus metric's samples with these labels."""
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))

    def _healthy(self, url: str, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} not healthy at {url}; see {self.log_dir / (name + '.log')}")

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            terminate(proc)
        self.procs.clear()
        subprocess.run([sys.executable, "-m", "stack", "stop"], env={**os.environ, **self.env}, cwd=PROJECT_ROOT,
                       capture_output=True, timeout=120)

    # -- tenant ----------------------------------------------------------------------------------------------

    def tenant(self) -> tuple[str, str]:
        """The default tenant's name and its Moodle webhook secret."""
        config = json.loads((self.stack_dir / "tenants.json").read_text())
        name, secrets = next(iter(config["tenants"].items()))
        return name, str(secrets["moodle_webhook_secret"])

    # -- Zoho ------------------------------------------------------------------------------------------------

    def zoho_api(self) -> httpx.Client:
        org = json.loads((self.stack_dir / "zoho-emulator.json").read_text())["orgs"][0]
        token = httpx.post(f"{self.emulator_url}/oauth/v2/token", params={
            "grant_type": "refresh_token", "client_id": org["client_id"], "client_secret": org["client_secret"],
            "refresh_token": org["refresh_token"]}, timeout=10).json()["access_token"]
        return httpx.Client(base_url=f"{self.emulator_url}/crm/v8", timeout=10,
                            headers={"Authorization": f"Zoho-oauthtoken {token}"})

    def zoho_create(self, api: httpx.Client, module: str, record: dict[str, Any]) -> str:
        """A record created in Zoho by the registrar: no `trigger` key, so the org's workflow webhook tells the
        ingress about it, as a college's Zoho does."""
        resp = api.post(f"/{module}", json={"data": [record]})
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"Zoho {module} insert: {resp.status_code} {resp.text}")
        return str(resp.json()["data"][0]["details"]["id"])

    def zoho_update(self, api: httpx.Client, module: str, record_id: str, fields: dict[str, Any]) -> None:
        """A change made by the registrar (the workflow webhook tells the ingress)."""
        resp = api.put(f"/{module}", json={"data": [{"id": record_id, **fields}]})
        if resp.status_code not in (200, 202):
            raise RuntimeError(f"Zoho {module} update: {resp.status_code} {resp.text}")

    def zoho_records(self, module: str) -> list[dict[str, Any]]:
        tenant, _ = self.tenant()
        resp = httpx.get(f"{self.emulator_url}/__emulator/records/{module}", params={"tenant": tenant}, timeout=10)
        resp.raise_for_status()
        return list(resp.json()["data"])

    # -- projections and the raw log -------------------------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        url = f"postgresql://mzsync@127.0.0.1:{self.ports.postgres}/mzsync"
        with psycopg.connect(url, row_factory=dict_row, options="-csearch_path=projections") as conn:
            return list(conn.execute(sql, params).fetchall())

    def raw_moodle(self) -> list[dict[str, Any]]:
        """Every Moodle webhook body the ingress accepted, in arrival order per partition (one per record)."""
        bodies: list[dict[str, Any]] = []
        for value in self.topic(RAW_MOODLE):
            try:
                bodies.append(json.loads(value))
            except ValueError:
                continue
        return bodies

    def outcomes(self, tenant: str) -> list[dict[str, Any]]:
        """The Moodle sink's outcomes for a tenant, in order per record."""
        return [decode(value)[1] for value in self.topic(MOODLE_OUTCOMES, key_prefix=f"{tenant}/".encode())]

    def topic(self, topic: str, key_prefix: bytes = b"") -> list[bytes]:
        """Every message value of a topic (whose key starts with `key_prefix`), in order per partition."""
        consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{self.ports.kafka}",
                             "group.id": f"moodle-check-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
        try:
            parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
            consumer.assign([TopicPartition(topic, p, 0) for p in parts])
            values: list[bytes] = []
            seen = 0
            deadline = time.monotonic() + 30
            while seen < sum(ends.values()) and time.monotonic() < deadline:
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    continue
                seen += 1
                if (msg.key() or b"").startswith(key_prefix) and msg.value():
                    values.append(msg.value() or b"")
            return values
        finally:
            consumer.close()


def terminate(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, and SIGKILL if it has not ended after `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Poll until `done(probe())` or the timeout; the last value either way (the check reports what it found)."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(2)
        value = probe()
    return value
