"""The Moodle sink's outcomes reach the projection (moodle_sync_outcome, moodle_sync_state), the control plane's
sync history (target=moodle) and status, and `mzsync status`."""

from __future__ import annotations

import asyncio

from control.queries import ProjectionQueries
from ops.status import gather
from projections.migrate import migrate
from projections.replay import catch_up, end_offsets
from tests.infra import Infra
from tests.moodle_sink.conftest import MoodleSite, SinkRunner, klass, produce, student, wait_outcomes
from tests.projections.helpers import new_schema, query


def test_outcomes_are_projected_and_shown(infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    sinks.start([site.site()])
    produce(infra, [student(t, 1), student(t, 2, email="not-an-address"), klass(t, 1, program_n=None,
                                                                                teacher_n=None)])
    wait_outcomes(infra, t, 3)
    schema = new_schema()
    migrate(infra.database_url, schema)
    catch_up(infra.bootstrap, infra.database_url, schema, end_offsets(infra.bootstrap))

    state = dict(((e, k), a) for e, k, a in query(
        infra, schema, "SELECT entity, record_key, action FROM moodle_sync_state WHERE tenant = %s", t))
    assert state == {("student", "S00001"): "created", ("student", "S00002"): "failed",
                     ("class", "C0001"): "created"}

    async def read() -> tuple[list[dict[str, object]], dict[str, object]]:
        queries = ProjectionQueries(infra.database_url, schema)
        try:
            return (await queries.moodle_sync_history(t, "failed", None, None, 10), await queries.status(t))
        finally:
            await queries.close()

    failed, status = asyncio.run(read())
    assert [(h["entity"], h["record_key"], h["error_code"]) for h in failed] == [
        ("student", "S00002", "invalidparameter")]
    assert status["moodle_outcomes"] == {"created": 2, "failed": 1}

    shown = gather(infra.bootstrap, [], 1000, t).to_json()
    assert sorted((o["entity"], o["action"]) for o in shown["moodle_outcomes"]) == [
        ("class", "created"), ("student", "created"), ("student", "failed")]
