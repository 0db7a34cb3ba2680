"""A scratch Moodle site: a private PostgreSQL cluster, a copy of the given Moodle tree, its CLI.

PostgreSQL refuses to run as root, so the cluster lives in a directory the `postgres` user can reach
(a fresh directory under /var/tmp, mode 0755: root's home is 0700) and its commands run as that user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

PHP = ["php", "-d", "max_input_vars=5000", "-d", "memory_limit=512M"]
DRIVER = Path(__file__).resolve().parent / "php" / "drive.php"
ADMIN_PASSWORD = "Check#Admin1"
DB_PASSWORD = "moodle-check"
PLUGIN_DIR = "local/moodle_zoho_sync"
BTEC_DIR = "grade/grading/form/btec"


class SiteError(RuntimeError):
    pass


def moodle_release(source: Path) -> str:
    """The tree's `$release` from version.php, e.g. "4.3 (Build: 20231009)"."""
    text = (source / "version.php").read_text()
    release = next((line for line in text.splitlines() if line.startswith("$release")), "")
    return release.split("'")[1] if "'" in release else "unknown"


def _run(cmd: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None,
         check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd,
                          timeout=timeout)
    with log.open("a") as out:
        out.write(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise SiteError(f"{' '.join(cmd[:4])}... exited {proc.returncode}:\n  " + "\n  ".join(tail))
    return proc


def _as_postgres(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *cmd]


class Cluster:
    """A throwaway PostgreSQL cluster on its own port, removed by `remove()`."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.root = Path(tempfile.mkdtemp(prefix="moodle-check-pg-", dir="/var/tmp"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    def start(self, snapshot: Path | None = None) -> None:
        """A new cluster with the `moodle` role and database, or the copy of one `stop()` left in `snapshot`."""
        if snapshot is not None:
            shutil.copytree(snapshot, self.data, symlinks=True)
            if os.geteuid() == 0:
                _run(["chown", "-R", "postgres:postgres", str(self.data)], self.log)
            self._start()
            return
        _run(_as_postgres(["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                           "--locale=C.UTF-8"]), self.log)
        self._start()
        self.psql(f"CREATE ROLE moodle LOGIN PASSWORD '{DB_PASSWORD}'")
        self.psql("CREATE DATABASE moodle OWNER moodle ENCODING 'UTF8' TEMPLATE template0")

    def _start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(_as_postgres(["pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options,
                           "-w", "start"]), self.log)

    def start_again(self) -> None:
        self._start()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _run(_as_postgres(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"]), self.log, check=False)

    def psql(self, sql: str) -> None:
        _run(_as_postgres(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-v",
                           "ON_ERROR_STOP=1", "-c", sql]), self.log)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Site:
    """A Moodle site installed from a source tree into `work/moodle`, data in `work/moodledata`."""

    def __init__(self, source: Path, work: Path, cluster: Cluster) -> None:
        self.source = source
        self.work = work
        self.root = work / "moodle"
        self.data = work / "moodledata"
        self.cluster = cluster
        self.log = work / "moodle.log"

    def copy(self, btec: Path | None, installed: Path | None = None) -> None:
        """The source tree (and the BTEC form) into the scratch site; with `installed`, the config.php and
        moodledata `snapshot()` saved right after an install."""
        for path in (self.root, self.data):
            if path.exists():
                shutil.rmtree(path)
        shutil.copytree(self.source, self.root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        if btec is not None:
            shutil.copytree(btec, self.root / BTEC_DIR, ignore=shutil.ignore_patterns(".git"))
        if installed is not None:
            shutil.copy2(installed / "config.php", self.root / "config.php")
            shutil.copytree(installed / "moodledata", self.data, symlinks=True)
        self.data.mkdir(parents=True, exist_ok=True)

    def snapshot(self, cache: Path) -> None:
        """The site as the installer left it (database, moodledata, config.php), for `--reuse-install`."""
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(parents=True)
        self.cluster.stop()
        shutil.copytree(self.cluster.data, cache / "pgdata", symlinks=True)
        self.cluster.start_again()
        shutil.copytree(self.data, cache / "moodledata", symlinks=True)
        shutil.copy2(self.root / "config.php", cache / "config.php")

    def install(self) -> None:
        _run([*PHP, "admin/cli/install.php", "--non-interactive", "--agree-license", "--lang=en",
              "--wwwroot=http://127.0.0.1", f"--dataroot={self.data}", "--dbtype=pgsql", "--dbhost=127.0.0.1",
              f"--dbport={self.cluster.port}", "--dbname=moodle", "--dbuser=moodle", f"--dbpass={DB_PASSWORD}",
              "--prefix=mdl_", "--fullname=Moodle check college", "--shortname=check", "--adminuser=admin",
              f"--adminpass={ADMIN_PASSWORD}", "--adminemail=admin@college.example",
              "--supportemail=admin@college.example"],
             self.log, cwd=self.root)

    def add_plugin(self, plugin: Path) -> None:
        target = self.root / PLUGIN_DIR
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(plugin, target)
        self.cli("admin/cli/upgrade.php", "--non-interactive")

    def cli(self, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run([*PHP, script, *args], self.log, cwd=self.root, check=check)

    def cfg(self, name: str, value: str, component: str | None = None) -> None:
        self.cli("admin/cli/cfg.php", *([f"--component={component}"] if component else []), f"--name={name}",
                 f"--set={value}")

    def drive(self, action: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
        proc = _run([*PHP, str(DRIVER), action, json.dumps(state or {})], self.log,
                    env={"MOODLE_ROOT": str(self.root)}, check=False)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            raise SiteError(f"drive.php {action} exited {proc.returncode}:\n  " + "\n  ".join(tail))
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def run_adhoc_tasks(self) -> str:
        """Moodle's own adhoc task runner, as cron would run it (a fresh process: nothing preloaded)."""
        started = time.monotonic()
        proc = self.cli("admin/cli/adhoc_task.php", "--execute", check=False)
        return f"exit {proc.returncode} in {time.monotonic() - started:.0f}s"
