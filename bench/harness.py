"""What every benchmark starts, stopped however the benchmark ends.

A benchmark's `main` takes an `ExitStack` (`@stops_what_it_starts` gives it one): the stack and the
services it starts are registered on it and stopped, newest first, on a normal end, on an exception,
and on SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal closed). Services run in process groups of
their own, so stopping one also ends anything it started. A benchmark's fixed ports move together with
BENCH_PORT_OFFSET, and a port already taken is reported with that variable.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import NoReturn

from common.settings import PROJECT_ROOT
from stack.config import StackConfig
from stack.embedded import EmbeddedStack
from stack.process import require_free

OFFSET_VARIABLE = "BENCH_PORT_OFFSET"
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def port(base: int) -> int:
    """A benchmark's fixed port, moved by BENCH_PORT_OFFSET."""
    return base + int(os.environ.get(OFFSET_VARIABLE, "0"))


def _ignore_signals() -> None:
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _end_on_signal(signum: int, _frame: FrameType | None) -> NoReturn:
    # Stopping is bounded (every stop has a timeout): a second Ctrl-C must not leave it half done.
    _ignore_signals()
    # The exit ends asyncio tasks on purpose: asyncio's "exception never retrieved" about them is noise.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    print(f"{signal.Signals(signum).name}: stopping what this benchmark started", file=sys.stderr)
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _stopped_on_exit() -> Iterator[ExitStack]:
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, _end_on_signal)
    try:
        with ExitStack() as undo:
            try:
                yield undo
            finally:
                _ignore_signals()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stops_what_it_starts(main: Callable[[ExitStack], None]) -> Callable[[], None]:
    @functools.wraps(main)
    def run() -> None:
        with _stopped_on_exit() as undo:
            main(undo)

    return run


def own_stack(undo: ExitStack, name: str, kafka_port: int, pg_port: int, partitions: int = 4) -> EmbeddedStack:
    """An emptied embedded stack in `<project>/<name>/` (controller on kafka_port + 1), stopped by `undo`."""
    cfg = StackConfig(root=PROJECT_ROOT / name, kafka_port=port(kafka_port), controller_port=port(kafka_port + 1),
                      pg_port=port(pg_port), port_variable=OFFSET_VARIABLE)
    stack = EmbeddedStack(cfg, partitions=partitions)
    # Also stops what a run killed by SIGKILL left running: its pid file and cluster are found in that folder.
    stack.reset()
    # Registered before starting: a start that fails half way (Kafka up, PostgreSQL not) is stopped too.
    undo.callback(stack.stop)
    stack.start()
    return stack


def service(undo: ExitStack, args: list[str], env: dict[str, str], log: Path,
            binds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """`python -m <args>` in a process group of its own, stopped by `undo`; `binds` are its fixed ports."""
    for bound in binds:
        require_free(bound, OFFSET_VARIABLE)
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", *args], env={**os.environ, **env}, cwd=PROJECT_ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    undo.callback(stop_group, proc)
    return proc


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM to the process's group, SIGKILL to what is left of it after `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
