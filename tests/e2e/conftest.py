"""A whole system per test: its own tenant, streams generation, projections schema, sink group and Zoho org."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TenantCreds
from tests.e2e.system import System
from tests.infra import Infra


@pytest.fixture
def system_factory(infra: Infra, service_env: dict[str, str], tenant_factory: Callable[..., TenantCreds],
                   tmp_path: Path) -> Iterator[Callable[..., System]]:
    started: list[System] = []

    def make(**kwargs: Any) -> System:
        system = System(infra, service_env, tenant_factory(), tmp_path, **kwargs)
        started.append(system)
        system.start()
        return system

    yield make
    for system in started:
        system.stop()
