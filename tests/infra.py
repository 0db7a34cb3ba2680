"""Test infrastructure: one broker and one database per test run, and helpers to use them.

A Docker engine that answers means Redpanda and Postgres containers (testcontainers);
`KAFKA_BOOTSTRAP_SERVERS` + `DATABASE_URL` mean an external cluster; otherwise the
project's own embedded stack in `.stack-test/` on its own ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from common import log
from common.kafka_admin import ensure_topics
from common.log import Record
from common.settings import PROJECT_ROOT
from schemas.topics import contract_topics
from stack.process import free_port

PARTITIONS = 4


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@dataclass
class Infra:
    bootstrap: str
    database_url: str
    kind: str
    _stop: Any = None
    _start: Any = None
    _stop_db: Any = None
    _start_db: Any = None
    _closers: list[Any] = field(default_factory=list)

    def stop_broker(self) -> None:
        self._stop()

    def start_broker(self) -> None:
        self._start()

    def stop_database(self) -> None:
        self._stop_db()

    def start_database(self) -> None:
        self._start_db()

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


def start_infra() -> Infra:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
        infra = Infra(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"], "external")

        def unsupported() -> None:
            raise RuntimeError("cannot stop an external broker or database from a test; run the suite on the "
                               "embedded stack")

        infra._stop = infra._start = infra._stop_db = infra._start_db = unsupported
    elif docker_engine_answers():
        from testcontainers.community.kafka import RedpandaContainer
        from testcontainers.community.postgres import PostgresContainer

        redpanda = RedpandaContainer("docker.redpanda.com/redpandadata/redpanda:v24.2.18").start()
        pg = PostgresContainer("postgres:16", driver=None).start()
        infra = Infra(redpanda.get_bootstrap_server(), pg.get_connection_url(driver=None), "testcontainers")
        # Pausing keeps the mapped ports, so clients see an outage and then the same broker again.
        infra._stop = lambda: redpanda.get_wrapped_container().pause()
        infra._start = lambda: redpanda.get_wrapped_container().unpause()
        infra._stop_db = lambda: pg.get_wrapped_container().pause()
        infra._start_db = lambda: pg.get_wrapped_container().unpause()
        infra._closers += [redpanda.stop, pg.stop]
    else:
        from stack.config import StackConfig
        from stack.embedded import EmbeddedStack

        # Several suites may run side by side on one machine (each with its own offset).
        off = int(os.environ.get("TEST_STACK_PORT_OFFSET", "0"))
        suffix = f"-{off}" if off else ""
        cfg = StackConfig(root=PROJECT_ROOT / f".stack-test{suffix}", kafka_port=29092 + off,
                          controller_port=29093 + off, pg_port=25432 + off, port_variable="TEST_STACK_PORT_OFFSET")
        stack = EmbeddedStack(cfg, partitions=PARTITIONS, fast_postgres=True)
        # Each run starts from nothing: results must not depend on a previous run's data.
        stack.reset()
        stack.start()
        infra = Infra(cfg.kafka_bootstrap, cfg.database_url, "embedded")
        infra._stop = stack.kafka.stop
        infra._start = stack.kafka.start
        infra._stop_db = stack.postgres.stop
        infra._start_db = stack.postgres.start
        infra._closers.append(stack.stop)
    ensure_topics(infra.bootstrap, contract_topics(PARTITIONS))
    return infra


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def start_service(module: str, env: dict[str, str], log: Path, health_url: str | None,
                  args: list[str] | None = None, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *(args or [])],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
    )
    if health_url:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{module} exited with {proc.returncode}; see {log}")
            try:
                if httpx.get(health_url, timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        proc.kill()
        raise RuntimeError(f"{module} did not become healthy; see {log}")
    return proc


def stop_service(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    return {p: high for p, (_, high) in log.watermarks(bootstrap, topic).items()}


def read_records(bootstrap: str, topic: str, start: dict[int, int] | None = None,
                 timeout: float = 30.0) -> list[Record]:
    """Every record from `start` (default: the beginning) up to the current end of each partition; `timeout`:
    how long the read may go without a record before it gives up."""
    return sorted(log.scan(bootstrap, topic, start, idle_timeout=timeout), key=lambda r: (r.partition, r.offset))


def read_at(bootstrap: str, topic: str, partition: int, offset: int) -> Record:
    return log.read_at(bootstrap, topic, partition, offset)


def metric_sum(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` at a service's /metrics that carry all of `labels`."""
    text = httpx.get(metrics_url, timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    web_port: int


@dataclass
class StreamsRun:
    """One generation of the streams app (its own app id: fresh state, reads raw.* from the start)."""

    app_id: str
    env: dict[str, str]
    tmp: Path
    workers: dict[str, Worker] = field(default_factory=dict)

    def start(self, name: str, wait: bool = True) -> Worker:
        log = self.tmp / f"{name}.log"
        port = free_port()
        env = {**os.environ, **self.env, "STREAMS_DATADIR": str(self.tmp / f"data-{name}"),
               "STREAMS_WEB_PORT": str(port)}
        proc = subprocess.Popen([sys.executable, "-m", "streams", "worker", "-l", "info"], env=env,
                                stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        worker = Worker(name, proc, log, port)
        self.workers[name] = worker
        if wait:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: Worker, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        start_size = 0
        while time.monotonic() < deadline:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited; see {worker.log}")
            text = worker.log.read_text(errors="replace")[start_size:]
            if "Worker]: Ready" in text:
                return
            time.sleep(0.3)
        raise RuntimeError(f"worker {worker.name} not ready; see {worker.log}")

    def kill(self, name: str) -> None:
        worker = self.workers.pop(name)
        worker.proc.kill()
        worker.proc.wait()

    def stop_all(self) -> None:
        for worker in list(self.workers.values()):
            stop_service(worker.proc, timeout=30)
        self.workers.clear()


def position_at_end(bootstrap: str, group: str, topics: tuple[str, ...]) -> None:
    """Commit `group`'s offsets at the current end of `topics`: a new generation for one test's tenant need not
    read the whole session's records first (as `rebuild-canonical` positions a real one)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    ends = [TopicPartition(topic, p, end) for topic in topics for p, end in end_offsets(bootstrap, topic).items()]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, ends)])[group].result()
