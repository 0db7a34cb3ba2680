"""SIGKILL at random points, replay from 0, and a replay swapped in under a running projector."""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ops.college.events import events, produce, replay_sizes
from ops.college.model import College, build
from projections.migrate import migrate
from projections.replay import catch_up, end_offsets
from tests.infra import Infra, stop_service
from tests.projections.helpers import (
    applied,
    differences,
    new_schema,
    query,
    start_projector,
    wait_caught_up,
)

STUDENTS = 1300  # ≈ 20,000 events
Built = tuple[str, str, str, int, list[int], College]


@pytest.fixture(scope="module")
def killed_and_clean(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The same 20,000 events: one schema built by a projector killed again and again, one by a clean run."""
    tenant = f"kill-{uuid.uuid4().hex[:8]}"
    college = build(11, replay_sizes(STUDENTS))
    produced = produce(infra.bootstrap, events(tenant, college))
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
    return tenant, killed, clean, produced, progress_at_kills, college


def test_sigkill_at_random_points_leaves_the_same_tables_as_a_clean_run(infra: Infra, killed_and_clean: Built) -> None:
    tenant, killed, clean, produced, kills, college = killed_and_clean
    assert produced >= 20_000
    total = sum(end_offsets(infra.bootstrap).values())
    assert any(0 < k < total for k in kills), f"no kill landed mid-stream: {kills} of {total}"
    assert differences(infra, killed, clean, tenant) == []
    # What the college holds, counted from the generator's model, independently of the projector.
    students = college.students
    cities = dict(query(infra, killed, "SELECT id, city FROM student WHERE tenant = %s", tenant))
    assert cities == {s.zoho_id: s.city for s in students}  # the late older version never won
    moodle_attempts = [a for s in students for g in s.grades for a in g.attempts]
    earlier = [g for s in students for g in s.earlier_grades]
    [(attempts, grades)] = query(infra, killed, "SELECT count(*), count(DISTINCT grade_id) FROM grade_attempt"
                                                " WHERE tenant = %s", tenant)
    assert (attempts, grades) == (len(moodle_attempts) + len(earlier),
                                  sum(len(s.grades) for s in students) + len(earlier))
    [(outcomes,)] = query(infra, killed, "SELECT count(*) FROM grade_learning_outcome WHERE tenant = %s", tenant)
    assert outcomes == sum(len(a.outcomes) for a in moodle_attempts)
    [(enrolled,)] = query(infra, killed, "SELECT count(*) FROM enrollment WHERE tenant = %s", tenant)
    withdrawn = sum(e.withdrawn for s in students for e in s.enrollments)
    assert withdrawn > 0 and enrolled == sum(len(s.enrollments) for s in students) - withdrawn
    [(installments,)] = query(infra, killed, "SELECT count(*) FROM registration_installment WHERE tenant = %s",
                              tenant)
    assert installments == sum(len(s.registration.schedule) for s in students)


def test_replay_from_offset_zero_gives_the_live_checksum(infra: Infra, killed_and_clean: Built) -> None:
    tenant, killed, _, _, _, _ = killed_and_clean
    replayed = new_schema()
    migrate(infra.database_url, replayed)
    catch_up(infra.bootstrap, infra.database_url, replayed, end_offsets(infra.bootstrap))
    assert differences(infra, killed, replayed, tenant) == []


def test_replay_swaps_in_while_the_projector_runs_and_it_carries_on(infra: Infra, tmp_path: Path) -> None:
    tenant = f"swap-{uuid.uuid4().hex[:8]}"
    live = new_schema()
    produce(infra.bootstrap, events(tenant, build(12, replay_sizes(150))))
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
        produce(infra.bootstrap, events(tenant, build(13, replay_sizes(150))))
        wait_caught_up(infra, live)
    finally:
        stop_service(proc)
    clean = new_schema()
    migrate(infra.database_url, clean)
    catch_up(infra.bootstrap, infra.database_url, clean, end_offsets(infra.bootstrap))
    assert differences(infra, live, clean, tenant) == []
    [(students,)] = query(infra, live, "SELECT count(*) FROM student WHERE tenant = %s", tenant)
    assert students == 300
