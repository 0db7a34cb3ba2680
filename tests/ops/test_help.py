"""Every command answers --help."""

from __future__ import annotations

import pytest

from tests.ops.conftest import CLI

# No broker needed: --help must work on a machine with nothing running.
cli = CLI({})

COMMANDS = [(), ("status",), ("deadletter",), ("deadletter", "list"), ("deadletter", "show"),
            ("deadletter", "retry"), ("replay",), ("stack",), ("demo",)]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mzsync")
def test_help(command: tuple[str, ...]) -> None:
    out = cli(*command, "--help").stdout
    assert out.startswith(f"usage: mzsync {' '.join(command)}".rstrip())
    assert "--help" in out


def test_demo_module_help() -> None:
    out = cli("--help", module="ops.demo").stdout
    assert out.startswith("usage: python -m ops.demo") and "--students" in out and "--seed" in out


def test_a_missing_command_is_an_error_not_a_traceback() -> None:
    done = cli("deadletter", check=False)
    assert done.returncode == 2 and "required" in done.stderr and "Traceback" not in done.stderr
