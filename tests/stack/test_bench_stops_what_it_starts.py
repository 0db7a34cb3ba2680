"""A benchmark leaves nothing running, whether it ends by itself, by Ctrl-C or by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import PROJECT_ROOT
from stack.config import StackConfig
from stack.embedded import EmbeddedStack
from stack.process import alive, port_open, port_owner, read_pid
from tests.infra import free_port, wait_until

OFF = int(os.environ.get("TEST_STACK_PORT_OFFSET", "0"))
STACK_NAME = f".stack-test-bench-{OFF}"

# A benchmark in miniature: its own stack and one service; it ends when a line arrives on its stdin.
BENCHMARK = """
import sys
from pathlib import Path
from bench.harness import own_stack, service, stops_what_it_starts

@stops_what_it_starts
def main(undo):
    name, kafka, pg, web, log = sys.argv[1:]
    own_stack(undo, name, kafka_port=int(kafka), pg_port=int(pg))
    service(undo, ["http.server", "--bind", "127.0.0.1", web], {}, Path(log), binds=(int(web),))
    print("up", flush=True)
    sys.stdin.readline()

main()
"""


def _two_free_ports() -> int:
    """A port whose next one is free too (Kafka's controller listens on kafka_port + 1)."""
    while True:
        port = free_port()
        if not port_open(port + 1):
            return port


@pytest.fixture
def ports() -> Iterator[tuple[int, int, int]]:
    kafka, pg, web = _two_free_ports(), free_port(), free_port()
    yield kafka, pg, web
    # Whatever the test saw, nothing of this stack stays on the machine.
    EmbeddedStack(StackConfig(root=PROJECT_ROOT / STACK_NAME, kafka_port=kafka, controller_port=kafka + 1,
                              pg_port=pg)).reset()


@pytest.mark.parametrize("end", ["exit", "SIGINT", "SIGTERM"])
def test_the_stack_and_services_of_a_benchmark_stop_with_it(end: str, ports: tuple[int, int, int],
                                                            tmp_path: Path) -> None:
    kafka, pg, web = ports
    env = {**os.environ, "BENCH_PORT_OFFSET": "0"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    bench = subprocess.Popen(
        [sys.executable, "-c", BENCHMARK, STACK_NAME, str(kafka), str(pg), str(web), str(tmp_path / "web.log")],
        cwd=PROJECT_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert bench.stdin is not None and bench.stdout is not None
    assert bench.stdout.readline().strip() == "up", bench.stderr.read() if bench.stderr else ""
    broker = read_pid(PROJECT_ROOT / STACK_NAME / "kafka" / "kafka.pid")
    server = wait_until(lambda: port_owner(web), timeout=30)
    assert alive(broker) and alive(server) and port_open(pg)

    if end == "exit":
        bench.stdin.write("done\n")
        bench.stdin.flush()
    else:
        bench.send_signal(getattr(signal, end))
    assert bench.wait(180) == (0 if end == "exit" else 128 + getattr(signal, end))

    assert not alive(broker) and not alive(server)
    assert not any(port_open(p) for p in (kafka, kafka + 1, pg, web))
