"""A private PostgreSQL cluster from Debian's packages, on its own port, one per stack folder.

As root, the cluster runs as Debian's `postgres` user (initdb and postgres refuse to run as root), and
that user often cannot enter the folders above the stack: a clone in root's home (0700 on Debian) or in
a fresh `mktemp -d`. So, as root, the cluster's files (data, socket, log) live where Debian keeps its own
clusters, in `/var/lib/postgresql/mzsync/<stack>-<hash>/` (0700, owned by `postgres`), and
`<stack>/postgres` is a symbolic link to that folder: the paths the operator uses stay the same, and no
permission of theirs is loosened. A cluster created inside the stack folder before (an older layout,
which worked where the parents were open) keeps being used where it is. Run as another user, the
cluster runs as that user, inside the stack folder.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import psycopg

from stack.config import StackConfig
from stack.process import StackError, require_free, tail

log = logging.getLogger(__name__)

CLUSTERS = Path("/var/lib/postgresql/mzsync")


def cluster_home(stack_root: Path) -> Path:
    """The folder under CLUSTERS for the stack in `stack_root`: readable name, unique per path."""
    root = stack_root.resolve()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:10]
    # A short name keeps the socket path under the 107 bytes a unix socket path may have.
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{root.parent.name}{root.name}")[-40:]
    return CLUSTERS / f"{label}-{digest}"


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
        self.link = cfg.pg_dir
        # Tests trade crash durability of the OS for speed; a killed process still loses nothing.
        self.fast = fast

    @property
    def dir(self) -> Path:
        """Where the cluster's files are (see the module's docstring); asked each time, as reset changes it."""
        if self.link.is_symlink():
            return self.link.resolve()
        if os.geteuid() != 0 or (self.link / "data" / "PG_VERSION").exists():
            return self.link
        return cluster_home(self.cfg.root)

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def run_dir(self) -> Path:
        return self.dir / "run"

    @property
    def log_file(self) -> Path:
        return self.dir / "postgres.log"

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

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        # The working folder is one the owner can enter: the caller's may be a 0700 folder of root's.
        return subprocess.run(self._as_owner(args), capture_output=True, text=True, cwd=self.dir)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([str(_bin_dir() / "pg_ctl"), "-D", str(self.data), *args])

    def _place_outside_the_stack(self, home: Path, uid: int, gid: int) -> None:
        for d in (CLUSTERS, home):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
            d.chmod(0o700)
        # For whoever finds the folder under /var/lib/postgresql: which stack it belongs to.
        (home / "stack-dir").write_text(f"{self.cfg.root}\n")
        if not self.link.is_symlink():
            # What a failed initdb left inside the stack (the fault this layout fixes): nothing worth keeping.
            shutil.rmtree(self.link, ignore_errors=True)
            self.link.parent.mkdir(parents=True, exist_ok=True)
            self.link.symlink_to(home, target_is_directory=True)

    def _init(self) -> None:
        bindir = _bin_dir()
        uid, gid = self._owner()
        home = self.dir
        if home != self.link:
            self._place_outside_the_stack(home, uid, gid)
        if self.data.exists() and not (self.data / "PG_VERSION").exists():
            # initdb died half-way: the folder holds nothing worth keeping.
            shutil.rmtree(self.data)
        for d in (home, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
        if (self.data / "PG_VERSION").exists():
            return
        result = self._run([str(bindir / "initdb"), "-D", str(self.data), "-U", self.cfg.pg_user, "--auth=trust",
                            "-E", "UTF8", "--no-locale"])
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
            require_free(self.cfg.pg_port, self.cfg.moved_by("pg_port"))
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

    def remove(self) -> None:
        """Delete the cluster's files, wherever they are (call after stop)."""
        home = self.dir
        # Through the link, only a folder this stack made (it names its stack) is ever deleted.
        if home == self.link or (home / "stack-dir").exists():
            shutil.rmtree(home, ignore_errors=True)
        if self.link.is_symlink():
            self.link.unlink()
        else:
            shutil.rmtree(self.link, ignore_errors=True)
        if home.parent == CLUSTERS:
            # The last stack's cluster gone: no empty folder left behind in /var/lib/postgresql.
            with contextlib.suppress(OSError):
                CLUSTERS.rmdir()

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
