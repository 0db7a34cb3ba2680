"""A private PostgreSQL cluster from Debian's packages, in a project folder, on its own port."""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg

from stack.config import StackConfig
from stack.process import StackError, port_open, tail

log = logging.getLogger(__name__)


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        if os.geteuid() != 0:
            raise StackError("PostgreSQL is not installed: apt-get install -y postgresql")
        log.info("installing PostgreSQL from Debian's packages")
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent


class Postgres:
    def __init__(self, cfg: StackConfig, fast: bool = False) -> None:
        self.cfg = cfg
        self.dir = cfg.pg_dir
        self.data = self.dir / "data"
        self.run_dir = self.dir / "run"
        self.log_file = self.dir / "postgres.log"
        # Tests trade crash durability of the OS for speed; a killed process still loses nothing.
        self.fast = fast

    def _as_owner(self, args: list[str]) -> list[str]:
        # initdb and postgres refuse to run as root: use the Debian package's `postgres` user.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _owner(self) -> tuple[int, int]:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            return pw.pw_uid, pw.pw_gid
        return os.getuid(), os.getgid()

    def _pg_ctl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = self._as_owner([str(_bin_dir() / "pg_ctl"), "-D", str(self.data), *args])
        return subprocess.run(cmd, capture_output=True, text=True, check=check)

    def _init(self) -> None:
        bindir = _bin_dir()
        uid, gid = self._owner()
        if self.data.exists() and not (self.data / "PG_VERSION").exists():
            # initdb died half-way: the folder holds nothing worth keeping.
            shutil.rmtree(self.data)
        for d in (self.dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
        if (self.data / "PG_VERSION").exists():
            return
        result = subprocess.run(
            self._as_owner(
                [str(bindir / "initdb"), "-D", str(self.data), "-U", self.cfg.pg_user, "--auth=trust",
                 "-E", "UTF8", "--no-locale"]
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def running(self) -> bool:
        return self._pg_ctl("status").returncode == 0 if self.data.exists() else False

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.cfg.pg_user}@127.0.0.1:{self.cfg.pg_port}/postgres"

    def start(self) -> None:
        self._init()
        if self.running():
            if not self.ready():
                raise StackError(f"PostgreSQL runs but does not answer on {self.cfg.pg_port}. Log: {self.log_file}")
        else:
            if port_open(self.cfg.pg_port):
                raise StackError(f"port {self.cfg.pg_port} is taken by another process; set STACK_PG_PORT")
            opts = f"-p {self.cfg.pg_port} -k {self.run_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
            if self.fast:
                opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            result = self._pg_ctl("-l", str(self.log_file), "-o", opts, "-w", "-t", "60", "start")
            if result.returncode != 0:
                raise StackError(
                    f"PostgreSQL did not start:\n{result.stdout}{result.stderr}\nLog: {self.log_file}\n"
                    f"{tail(self.log_file)}"
                )
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.cfg.pg_db,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.cfg.pg_db}"')

    def stop(self) -> None:
        if self.running():
            self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")

    def status(self) -> dict[str, object]:
        up = self.running()
        return {
            "service": "postgres",
            "running": up,
            "address": self.cfg.database_url,
            "ready": self.ready() if up else False,
            "log": str(self.log_file),
            "data": str(self.data),
        }
