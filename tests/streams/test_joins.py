"""Grades wait for their student, class → unit → program and registration, whatever the order."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from confluent_kafka.admin import AdminClient

from ops.college import webhooks as college
from tests.conftest import TenantCreds
from tests.infra import Infra, Service
from tests.streams.conftest import Sender, StreamsRun, canonical_events, deadletters, new_id, offsets, wait_for

ENTITIES = ("student", "class", "unit", "program", "registration", "grade")
MODULES = {"student": "BTEC_Students", "class": "BTEC_Classes", "unit": "BTEC", "program": "Products",
           "registration": "BTEC_Registrations", "grade": "BTEC_Grades"}


def _world() -> dict[str, str]:
    return {name: new_id() for name in ENTITIES}


def _bodies(ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {
        "program": college.program(ids["program"]),
        "unit": college.unit(ids["unit"], ids["program"]),
        "class": college.klass(ids["class"], ids["unit"], ids["program"]),
        "student": college.student(ids["student"], f"s{ids['student']}@college.example"),
        "registration": college.registration(ids["registration"], ids["student"], ids["program"]),
        "grade": college.zoho_grade(ids["grade"], ids["student"], ids["class"]),
    }


async def _send_permutations(sender: Sender, worlds: list[dict[str, str]]) -> None:
    orders = list(itertools.permutations(ENTITIES))
    sem = asyncio.Semaphore(40)
    async with sender.client() as client:

        async def one(ids: dict[str, str], order: tuple[str, ...]) -> None:
            bodies = _bodies(ids)
            async with sem:
                for entity in order:
                    body = college.notification(MODULES[entity], bodies[entity], new_id())
                    await sender.zoho(client, MODULES[entity], body)

        await asyncio.gather(*(one(ids, order) for ids, order in zip(worlds, orders, strict=True)))


def _assert_exactly_one_grade_each(grades: list[dict[str, Any]], worlds: list[dict[str, str]]) -> None:
    recorded = [g for g in grades if g["event_type"] == "GradeRecorded"]
    by_grade: dict[str, list[dict[str, Any]]] = {}
    for g in recorded:
        by_grade.setdefault(g["entity_id"], []).append(g)
    missing = [w["grade"] for w in worlds if w["grade"] not in by_grade]
    assert not missing, f"{len(missing)} grades never recorded"
    twice = {k: len(v) for k, v in by_grade.items() if len({e["event_id"] for e in v}) > 1 or len(v) > 1}
    assert not twice, f"grades recorded more than once: {list(twice.items())[:5]}"
    for ids in worlds:
        payload = by_grade[ids["grade"]][0]["payload"]
        assert payload["student_id"] == ids["student"]
        assert payload["class_id"] == ids["class"]
        assert payload["unit_id"] == ids["unit"]
        assert payload["program_id"] == ids["program"]
        assert payload["registration_id"] == ids["registration"]
        assert payload["letter"] == "M"


async def _run_permutations(infra: Infra, ingress: Service, tenant: TenantCreds, run: StreamsRun) -> None:
    start = offsets(infra, "canonical.grade", "deadletter")
    worlds = [_world() for _ in range(720)]
    await _send_permutations(Sender(ingress, tenant), worlds)

    def done() -> list[dict[str, Any]] | None:
        grades = canonical_events(infra, "grade", start["canonical.grade"], tenant.name)
        return grades if len({g["entity_id"] for g in grades}) >= len(worlds) else None

    grades = await wait_for(done, within=180)
    assert grades, "not every grade was released in time"
    await asyncio.sleep(2)  # anything emitted twice would show up now
    grades = canonical_events(infra, "grade", start["canonical.grade"], tenant.name)
    _assert_exactly_one_grade_each(grades, worlds)
    assert deadletters(infra, start["deadletter"], tenant.name) == []


async def test_every_arrival_order_yields_exactly_one_grade_recorded(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    streams_run.start("w1")
    await _run_permutations(infra, ingress, fresh_tenant, streams_run)


async def test_two_workers_sharing_the_partitions(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    streams_run.start("w1", wait=False)
    streams_run.start("w2", wait=False)
    for worker in list(streams_run.workers.values()):
        streams_run.wait_ready(worker)
    await _run_permutations(infra, ingress, fresh_tenant, streams_run)
    # Both workers took part: the group has two members, each owning partitions of the join stage.
    admin = AdminClient({"bootstrap.servers": infra.bootstrap})
    group = admin.describe_consumer_groups([streams_run.app_id])[streams_run.app_id].result()
    owned = [{tp.partition for tp in m.assignment.topic_partitions if tp.topic.endswith("-person")}
             for m in group.members]
    assert len(owned) == 2 and all(owned), owned
    assert owned[0].isdisjoint(owned[1])
