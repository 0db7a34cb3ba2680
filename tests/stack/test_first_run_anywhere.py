"""A checkout in a folder nobody else may enter (root's home, a fresh `mktemp -d`) runs the embedded stack."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from common.settings import PROJECT_ROOT
from stack.process import StackError, port_open, require_free
from tests.infra import free_port


def _copy_of_the_checkout(dest: Path) -> None:
    """The files a fresh clone would have, as they are in the working tree (so uncommitted changes count)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        src = PROJECT_ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.fixture
def closed_clone() -> Iterator[Path]:
    outer = Path(tempfile.mkdtemp(prefix="mzsync-closed-"))  # mkdtemp makes it 0700
    clone = outer / "clone"
    clone.mkdir(mode=0o700)
    _copy_of_the_checkout(clone)
    try:
        yield clone
    finally:
        shutil.rmtree(outer, ignore_errors=True)


def _stack(clone: Path, ports: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The clone's own code (its `stack`, `common`) with this worktree's installed libraries, as `make run` would.
    env = {**os.environ, **ports, "PYTHONPATH": str(clone)}
    for name in ("STACK_DIR", "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "TENANTS_FILE"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "stack", *args], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_clone_in_a_closed_folder_starts_keeps_its_data_and_resets(closed_clone: Path) -> None:
    kafka, controller, pg = free_port(), free_port(), free_port()
    ports = {"STACK_KAFKA_PORT": str(kafka), "STACK_CONTROLLER_PORT": str(controller), "STACK_PG_PORT": str(pg)}
    dsn = f"postgresql://mzsync@127.0.0.1:{pg}/mzsync"
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (closed_clone.parent, closed_clone)}
    assert set(modes.values()) == {0o700}
    try:
        started = _stack(closed_clone, ports, "start")
        assert started.returncode == 0, started.stderr
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('from the first run')")
        assert (closed_clone / ".stack" / "postgres" / "postgres.log").is_file()

        assert _stack(closed_clone, ports, "stop").returncode == 0
        assert not port_open(pg) and not port_open(kafka)
        again = _stack(closed_clone, ports, "start")
        assert again.returncode == 0, again.stderr
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("from the first run",)]
        cluster = (closed_clone / ".stack" / "postgres").resolve()
    finally:
        reset = _stack(closed_clone, ports, "reset")
    assert reset.returncode == 0, reset.stderr
    assert not port_open(pg) and not port_open(kafka)
    assert not cluster.exists() and not (closed_clone / ".stack").exists()
    # Nothing was opened up to make it work.
    assert {p: stat.S_IMODE(p.stat().st_mode) for p in modes} == modes


def test_a_taken_port_names_its_owner_and_the_variable_that_moves_it() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StackError) as taken:
            require_free(port, "STACK_PG_PORT")
    me = Path("/proc/self/comm").read_text().strip()
    assert str(taken.value) == f"port {port} is taken (by pid {os.getpid()}, {me}): set STACK_PG_PORT to move it"
