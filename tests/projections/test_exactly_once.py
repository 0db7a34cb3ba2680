"""SIGKILL at random points, replay from 0, and a replay swapped in under a running projector."""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from projections.migrate import migrate
from projections.replay import catch_up, end_offsets
from projections.synthetic import college, produce
from tests.infra import Infra, stop_service
from tests.projections.helpers import (
    applied,
    differences,
    new_schema,
    query,
    start_projector,
    wait_caught_up,
)

STUDENTS = 1240  # ≈ 20,000 events


@pytest.fixture(scope="module")
def killed_and_clean(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str, int, list[int]]:
    """The same 20,000 events: one schema built by a projector killed again and again, one by a clean run."""
    tenant = f"kill-{uuid.uuid4().hex[:8]}"
    produced = produce(infra.bootstrap, college(tenant, STUDENTS, seed=11))
    logs = tmp_path_factory.mktemp("projector")
    killed, clean = new_schema(), new_schema()
    rng = random.Random()
    progress_at_kills: list[int] = []
    total = sum(end_offsets(infra.bootstrap).values())
    # Small batches: many commits, so the kills land between, during and just after them.
    small = {"PROJECTOR_BATCH_SIZE": "300"}
    for i in range(8):
        proc = start_projector(infra, killed, logs / "killed.log", instance="kill-test", extra=small)
        time.sleep(rng.uniform(1.2, 2.6) if i else rng.uniform(2.0, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        progress_at_kills.append(sum(applied(infra, killed).values()))
        if progress_at_kills[-1] >= total:
            break
    proc = start_projector(infra, killed, logs / "killed.log", instance="kill-test", extra=small)
    try:
        wait_caught_up(infra, killed)
    finally:
        stop_service(proc)
    proc = start_projector(infra, clean, logs / "clean.log")
    try:
        wait_caught_up(infra, clean)
    finally:
        stop_service(proc)
    return tenant, killed, clean, produced, progress_at_kills


def test_sigkill_at_random_points_leaves_the_same_tables_as_a_clean_run(
        infra: Infra, killed_and_clean: tuple[str, str, str, int, list[int]]) -> None:
    tenant, killed, clean, produced, kills = killed_and_clean
    assert produced >= 20_000
    total = sum(end_offsets(infra.bootstrap).values())
    assert any(0 < k < total for k in kills), f"no kill landed mid-stream: {kills} of {total}"
    assert differences(infra, killed, clean, tenant) == []
    # What the events say, counted independently of the projector: every attempt kept, once.
    [(students, irbid)] = query(infra, killed, "SELECT count(*), count(*) FILTER (WHERE city = 'Irbid')"
                                               " FROM student WHERE tenant = %s", tenant)
    assert students == irbid == STUDENTS  # the late older version never won
    [(attempts, grades)] = query(infra, killed, "SELECT count(*), count(DISTINCT grade_id) FROM grade_attempt"
                                                " WHERE tenant = %s", tenant)
    assert (attempts, grades) == (STUDENTS * 8, STUDENTS * 6)
    [(outcomes,)] = query(infra, killed, "SELECT count(*) FROM grade_learning_outcome WHERE tenant = %s", tenant)
    assert outcomes == STUDENTS * 8 * 3
    [(enrolled,)] = query(infra, killed, "SELECT count(*) FROM enrollment WHERE tenant = %s", tenant)
    assert enrolled == STUDENTS - len(range(0, STUDENTS, 10))  # every tenth was deleted
    [(installments,)] = query(infra, killed, "SELECT count(*) FROM registration_installment WHERE tenant = %s",
                              tenant)
    assert installments == STUDENTS * 3


def test_replay_from_offset_zero_gives_the_live_checksum(
        infra: Infra, killed_and_clean: tuple[str, str, str, int, list[int]]) -> None:
    tenant, killed, _, _, _ = killed_and_clean
    replayed = new_schema()
    migrate(infra.database_url, replayed)
    catch_up(infra.bootstrap, infra.database_url, replayed, end_offsets(infra.bootstrap))
    assert differences(infra, killed, replayed, tenant) == []


def test_replay_swaps_in_while_the_projector_runs_and_it_carries_on(infra: Infra, tmp_path: Path) -> None:
    tenant = f"swap-{uuid.uuid4().hex[:8]}"
    live = new_schema()
    produce(infra.bootstrap, college(tenant, 150, seed=12))
    proc = start_projector(infra, live, tmp_path / "live.log")
    try:
        wait_caught_up(infra, live)
        env = {"KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap, "DATABASE_URL": infra.database_url,
               "PROJECTIONS_SCHEMA": live}
        out = subprocess.run([".venv/bin/python", "-m", "projections", "replay"], env=env, capture_output=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr.decode()[-4000:]
        assert out.stdout.decode().strip() == live
        # The swapped-in schema answers, and the live projector keeps writing into it.
        produce(infra.bootstrap, college(tenant, 150, seed=13))
        wait_caught_up(infra, live)
    finally:
        stop_service(proc)
    clean = new_schema()
    migrate(infra.database_url, clean)
    catch_up(infra.bootstrap, infra.database_url, clean, end_offsets(infra.bootstrap))
    assert differences(infra, live, clean, tenant) == []
    [(students,)] = query(infra, live, "SELECT count(*) FROM student WHERE tenant = %s", tenant)
    assert students == 300
