"""Pid files, liveness and port checks shared by the embedded services."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import time
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    with contextlib.suppress(FileNotFoundError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def port_owner(port: int) -> int | None:
    """The pid of the process listening on TCP `port`, when /proc shows it (every process's, as root)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                # State 0A is LISTEN; the local address ends in the port, in hex.
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    return int(proc.name)
    return None


def port_taken(port: int, variable: str) -> str:
    """What to tell the operator when `port` is in use: by whom, and which variable moves it."""
    pid = port_owner(port)
    by = ""
    if pid is not None:
        name = ""
        with contextlib.suppress(OSError):
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        by = f" (by pid {pid}{', ' + name if name else ''})"
    return f"port {port} is taken{by}: set {variable} to move it"


# Above the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default). A port the
# kernel hands out (bind to 0) is also the source port of outgoing connections: a service killed and restarted
# could find its port held by another process's connection, or a client retrying it could connect to itself
# (TCP simultaneous open) and hold it.
_SERVICE_PORTS = range(61000, 65536)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, outside the ephemeral range, not handed out before by this process."""
    for _ in range(1000):
        port = random.choice(_SERVICE_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise StackError(f"no free port in {_SERVICE_PORTS.start}-{_SERVICE_PORTS.stop - 1}")


def require_free(port: int, variable: str) -> None:
    if port_open(port):
        raise StackError(port_taken(port, variable))


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait, then SIGKILL: a clean shutdown when possible, a bounded one always."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log yet)"


class StackError(RuntimeError):
    """A service could not be brought up; the message says why and where its log is."""
