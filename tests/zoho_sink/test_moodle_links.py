"""The Moodle sink's outcomes (`moodle.outcomes`) become the Moodle id fields of the Zoho records they came from,
written by this sink with `trigger: []`; the plugin's user_created for the same account writes nothing more."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Producer

from schemas.codec import encode
from tests.infra import Infra
from tests.zoho_sink.conftest import SinkRunner, ZohoOrg, link_event, now_ms, produce, wait_outcomes


def moodle_outcome(tenant: str, entity: str, record_key: str, action: str, moodle_id: str | None,
                   version: int = 1) -> dict[str, Any]:
    return {"tenant": tenant, "entity": entity, "record_key": record_key, "action": action, "moodle_id": moodle_id,
            "attempt": 1, "error_code": None, "error_message": None, "event_id": f"ev-{entity}-{record_key}",
            "entity_id": record_key, "fingerprint": None, "source_version": version,
            "raw": {"topic": "raw.zoho", "partition": 0, "offset": 7}, "received_at": now_ms(),
            "occurred_at": now_ms()}


def publish(infra: Infra, outcomes: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": infra.bootstrap, "partitioner": "murmur2_random"})
    for o in outcomes:
        producer.produce("moodle.outcomes", encode("moodle.outcome", o),
                         f"{o['tenant']}/{o['entity']}/{o['record_key']}")
    assert producer.flush(20) == 0


def test_moodle_ids_reach_zoho_without_firing_webhooks_and_the_echo_writes_nothing(
        infra: Infra, zoho: ZohoOrg, sinks: SinkRunner) -> None:
    zoho.seed(students=3, classes=1)
    (teacher,) = zoho.create("BTEC_Teachers", [{"Name": "Ms Teacher", "Academic_Email": f"t1@{zoho.tenant}.com"}],
                            "Academic_Email")
    t = zoho.tenant
    sinks.start(zoho)
    publish(infra, [
        moodle_outcome(t, "student", zoho.students[0], "created", "701"),
        moodle_outcome(t, "student", zoho.students[1], "linked", "702"),
        moodle_outcome(t, "student", zoho.students[2], "failed", None),       # nothing to write
        moodle_outcome(t, "teacher", teacher, "created", "703"),
        moodle_outcome(t, "class", zoho.classes[0], "created", "44"),
        moodle_outcome(t, "enrollment", "E1", "created", "701:44"),           # not a Zoho field
    ])
    done = wait_outcomes(infra, t, 4)
    assert {(o["module"], o["action"]) for o in done} == {("BTEC_Students", "updated"), ("BTEC_Teachers", "updated"),
                                                          ("BTEC_Classes", "updated")}
    students = {s["id"]: s for s in zoho.records("BTEC_Students")}
    assert [students[s]["Student_Moodle_ID"] for s in zoho.students] == ["701", "702", None]
    assert zoho.records("BTEC_Teachers")[0]["Teacher_Moodle_ID"] == "703"
    assert zoho.records("BTEC_Classes")[0]["Moodle_Class_ID"] == "44"
    time.sleep(1)
    assert zoho.emu.admin("GET", "webhooks")["pending"] == 0 and zoho.webhooks_fired() == []

    # The plugin's user_created for the account the Moodle sink made comes back linked by streams: same value,
    # no call; and the Moodle sink's "unchanged" on a re-run writes nothing either.
    calls = len(zoho.write_calls())
    produce(infra, "canonical.moodle_user", [link_event(t, 701, zoho.students[0], "email")])
    publish(infra, [moodle_outcome(t, "student", zoho.students[0], "unchanged", "701", version=2)])
    later = wait_outcomes(infra, t, 6)
    assert sorted(o["action"] for o in later).count("unchanged") == 2
    assert len(zoho.write_calls()) == calls
