"""The demo college through every component, as real processes over real HTTP, Kafka and PostgreSQL: the
projections and the tenant's Zoho org end exactly as the generator's independent expected state says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ops.college.webhooks import plan
from tests.e2e.accounting import marks, unaccounted
from tests.e2e.load import send
from tests.e2e.state import diff, expected_state, observed_state, wait_for_expected
from tests.e2e.system import System

SEED, STUDENTS = 4242, 40


def test_demo_college_ends_exactly_as_expected_in_postgres_and_zoho(system_factory: Callable[..., System]) -> None:
    system = system_factory()
    college = system.seed_zoho(plan(SEED, STUDENTS))
    expected = expected_state(college)
    since = marks(system.infra)

    report = asyncio.run(send(system.ingress_url, system.tenant, college.requests, per_second=None))
    assert not report.rejected, report.rejected[:5]
    assert len(report.acks) == len(college.requests)

    remaining = wait_for_expected(system, expected, timeout=150)
    assert not remaining, "\n".join([*remaining, system.logs()])
    time.sleep(3)  # anything written twice, or echoed back by a Zoho workflow, would show up now
    assert diff(expected, observed_state(system)) == []
    assert unaccounted(system.infra, since, system.tenant.name, report.acks) == []
    assert system.crashes() == {}
