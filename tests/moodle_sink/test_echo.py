"""No echo loop: Moodle tells the ingress about the accounts and enrolments the sink made (the plugin's signed
user_created / enrollment_created webhooks, sent by the emulator to the real ingress); parsed into canonical
Moodle events, they cause no further write in Moodle."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from schemas.mapping import TenantMapping
from streams.events import CanonicalEvent
from streams.parse import RawPosition, parse_raw
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, end_offsets, read_at
from tests.moodle_emulator.harness import Emulator, running_emulator
from tests.moodle_sink.conftest import SinkRunner, enrollment, klass, outcomes, produce, student, wait_outcomes

TOKEN = "echo-site-token-0123456789"


@pytest.fixture
def echoing(ingress: Service, fresh_tenant: TenantCreds, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Emulator]:
    config = {"sites": [{"tenant": fresh_tenant.name, "wwwroot": "https://lms.echo-college.com",
                         "moodle_webhook_secret": fresh_tenant.moodle_secret,
                         "tokens": [{"token": TOKEN, "username": "zohosync"}]}],
              "webhooks": {"ingress_url": ingress.url, "backoff_s": 0.1, "max_attempts": 5}}
    with running_emulator(config, tmp_path_factory.mktemp("moodle-echo")) as emu:
        yield emu


def test_the_plugins_events_for_the_sinks_own_writes_cause_no_write(
        infra: Infra, echoing: Emulator, fresh_tenant: TenantCreds, sinks: SinkRunner) -> None:
    t = fresh_tenant.name
    sink = sinks.start([{"tenant": t, "url": echoing.url, "token": TOKEN}])
    produce(infra, [klass(t, 1, program_n=None, teacher_n=None), student(t, 1), student(t, 2),
                    enrollment(t, 1, 1), enrollment(t, 2, 1)])
    wait_outcomes(infra, t, 5)
    writes = [c for c in echoing.calls(t) if not c["wsfunction"].startswith(("core_user_get", "core_course_get"))]

    deliveries = echoing.settled(timeout=60)
    assert sorted(d["event_type"] for d in deliveries) == [
        "enrollment_created", "enrollment_created", "user_created", "user_created"]
    assert {(d["outcome"], d["status"]) for d in deliveries} == {("delivered", 202)}
    # What the streams make of them (the intake's parse), put on the canonical topics as they would be.
    producer = Producer({"bootstrap.servers": infra.bootstrap, "partitioner": "murmur2_random"})
    for delivery in deliveries:
        stored = json.loads(delivery["answer"])
        record = read_at(infra.bootstrap, "raw.moodle", stored["partition"], stored["offset"])
        (event,) = parse_raw(
            source="moodle", kind=record.headers["kind"].decode(), body=record.value or b"",
            content_type=record.headers["content-type"].decode(), tenant=t, mapping=TenantMapping(),
            raw=RawPosition("raw.moodle", record.partition, record.offset),
            received_at_ms=int(record.headers["received-at"]), delivery_id=None)
        assert isinstance(event, CanonicalEvent) and event.origin == "moodle"
        producer.produce(f"canonical.{event.entity}", event.to_avro(), f"{t}/{event.entity_id}")
    assert producer.flush(10) == 0
    mark = end_offsets(infra.bootstrap, "moodle.outcomes")

    time.sleep(3)  # several lingers of the sink
    later = [c for c in echoing.calls(t) if not c["wsfunction"].startswith(("core_user_get", "core_course_get"))]
    assert later == writes
    assert outcomes(infra, t, mark) == []
    assert len(echoing.table("enrolments", t)) == 2
    assert sink.metric("moodle_sink_outcomes_total", tenant=t) == 5
