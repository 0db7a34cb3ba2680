"""A single-node Apache Kafka (KRaft, combined broker + controller) from Maven Central jars."""

from __future__ import annotations

import base64
import hashlib
import logging
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from common.settings import PROJECT_ROOT
from stack.config import StackConfig
from stack.process import StackError, alive, port_open, read_pid, require_free, tail, terminate

log = logging.getLogger(__name__)

POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
# Jars are shared by every stack folder (dev and test) and keyed by the pom's content.
JARS_CACHE = PROJECT_ROOT / ".cache" / "kafka-libs"

_children: dict[int, subprocess.Popen[bytes]] = {}


def ensure_jars() -> Path:
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    libs = JARS_CACHE / digest
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StackError("Kafka needs Java 17+ and Maven (apt-get install -y openjdk-17-jre-headless maven)")
    tmp = libs.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("resolving Kafka jars from Maven Central", extra={"pom": str(POM)})
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"mvn could not resolve the Kafka jars:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    (libs / ".complete").touch()
    return libs


def _cluster_id() -> str:
    # Kafka's Uuid text form: URL-safe base64 without padding; it must not start with '-'.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class Kafka:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.dir = cfg.kafka_dir
        self.data = self.dir / "data"
        self.pid_file = self.dir / "kafka.pid"
        self.log_file = cfg.logs_dir / "kafka.log"
        self.stdout_file = cfg.logs_dir / "kafka.stdout"

    def _write_config(self) -> Path:
        props = self.dir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.cfg.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.cfg.kafka_port},"
                    f"CONTROLLER://127.0.0.1:{self.cfg.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.cfg.kafka_port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data}",
                    "num.partitions=4",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # Single node: a consumer group should not wait for peers that never come.
                    "group.initial.rebalance.delay.ms=0",
                    # Topics are created on purpose (stack bootstrap, faust), never by a typo.
                    "auto.create.topics.enable=false",
                    "log.retention.hours=-1",
                    "",
                ]
            )
        )
        log4j = self.dir / "log4j2.properties"
        log4j.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = RollingFile",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {self.log_file}",
                    f"appender.file.filePattern = {self.log_file}.%i",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "appender.file.policies.type = Policies",
                    "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
                    "appender.file.policies.size.size = 50MB",
                    "appender.file.strategy.type = DefaultRolloverStrategy",
                    "appender.file.strategy.max = 3",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "",
                ]
            )
        )
        return props

    def _java(self, libs: Path, *args: str, heap: str | None = None) -> list[str]:
        cmd = ["java"]
        if heap:
            cmd += [f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC"]
        cmd += [
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
            *args,
        ]
        return cmd

    def running(self) -> bool:
        return alive(read_pid(self.pid_file))

    def ready(self, timeout: float = 3.0) -> bool:
        if not port_open(self.cfg.kafka_port):
            return False
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap, "socket.timeout.ms": 2000})
        try:
            md = admin.list_topics(timeout=timeout)
        except Exception:
            return False
        return bool(md.brokers) and md.controller_id >= 0

    def start(self, timeout: float = 90.0) -> None:
        pid = read_pid(self.pid_file)
        if alive(pid):
            if self.ready(timeout=10):
                return
            raise StackError(
                f"Kafka (pid {pid}) is running but does not answer on {self.cfg.kafka_bootstrap}; "
                f"`python -m stack stop` then start again. Log: {self.log_file}\n{tail(self.log_file)}"
            )
        if pid:
            log.warning("removing stale Kafka pid file", extra={"pid": pid})
            self.pid_file.unlink(missing_ok=True)
        require_free(self.cfg.kafka_port, self.cfg.moved_by("kafka_port"))
        require_free(self.cfg.controller_port, self.cfg.moved_by("controller_port"))
        libs = ensure_jars()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        props = self._write_config()
        if not (self.data / "meta.properties").exists():
            # A half-formatted folder (crash during format) is useless: start it over.
            shutil.rmtree(self.data, ignore_errors=True)
            fmt = subprocess.run(
                self._java(libs, "kafka.tools.StorageTool", "format", "--standalone", "-t", _cluster_id(),
                           "-c", str(props)),
                capture_output=True,
                text=True,
            )
            if fmt.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{fmt.stdout}{fmt.stderr}")
        with open(self.stdout_file, "ab") as out:
            proc = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(props), heap=self.cfg.kafka_heap),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StackError(
                    f"Kafka exited with {proc.returncode} while starting. Log: {self.log_file}\n"
                    f"{tail(self.log_file)}\n{tail(self.stdout_file)}"
                )
            if self.ready():
                return
            time.sleep(0.5)
        self.stop()
        raise StackError(f"Kafka did not answer within {timeout:.0f}s. Log: {self.log_file}\n{tail(self.log_file)}")

    def stop(self) -> None:
        pid = read_pid(self.pid_file)
        if alive(pid):
            assert pid is not None
            terminate(pid, timeout=60)
            proc = _children.pop(pid, None)
            if proc is not None:
                proc.wait()
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> dict[str, object]:
        pid = read_pid(self.pid_file)
        return {
            "service": "kafka",
            "pid": pid if alive(pid) else None,
            "address": self.cfg.kafka_bootstrap,
            "ready": self.ready(timeout=2) if alive(pid) else False,
            "log": str(self.log_file),
            "data": str(self.data),
        }

