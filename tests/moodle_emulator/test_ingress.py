"""Against the real ingress (embedded Kafka): every webhook the emulator sends (users, enrolments, a grade) is
accepted, stored in raw.moodle and parsed into canonical events without a dead letter."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from schemas.mapping import TenantMapping
from streams.events import CanonicalEvent
from streams.parse import RawPosition, parse_raw
from tests.conftest import TenantCreds
from tests.infra import Infra, Service, read_at
from tests.moodle_emulator.harness import Emulator, emulator_config, running_emulator, student


@pytest.fixture(scope="module")
def linked(ingress: Service, tenants: dict[str, TenantCreds],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = emulator_config(ingress.url, secret=tenants["default"].moodle_secret)
    with running_emulator(config, tmp_path_factory.mktemp("moodle-emulator-ingress")) as emu:
        yield emu


def test_the_ingress_accepts_every_webhook_and_streams_parse_them(linked: Emulator, infra: Infra) -> None:
    s1, s2 = linked.call("core_user_create_users", {"users": [student(1), student(2)]})
    linked.call("core_user_update_users", {"users": [{"id": s1["id"], "lastname": "Haddad"}]})
    (course,) = linked.call("core_course_create_courses", {"courses": [
        {"fullname": "Unit 1", "shortname": "U1", "categoryid": 1, "idnumber": "CLS-1"}]})
    linked.call("enrol_manual_enrol_users", {"enrolments": [
        {"roleid": 5, "userid": s1["id"], "courseid": course["id"]},
        {"roleid": 3, "userid": s2["id"], "courseid": course["id"]}]})
    linked.call("enrol_manual_enrol_users", {"enrolments": [
        {"roleid": 5, "userid": s1["id"], "courseid": course["id"], "suspend": 1}]})
    linked.admin("POST", "grade", json={"userid": s2["id"], "courseid": course["id"], "grade": 72.5,
                                        "grader_userid": s1["id"], "learning_outcomes": [{"code": "P1", "score": 1}]})
    linked.call("enrol_manual_unenrol_users", {"enrolments": [{"userid": s1["id"], "courseid": course["id"]}]})

    deliveries = linked.settled(timeout=60)
    assert len(deliveries) == 8
    assert {(d["outcome"], d["status"]) for d in deliveries} == {("delivered", 202)}
    seen: list[tuple[str, str, str]] = []
    for delivery in deliveries:
        stored = json.loads(delivery["answer"])
        record = read_at(infra.bootstrap, "raw.moodle", stored["partition"], stored["offset"])
        assert record.headers["tenant"] == b"default"
        parsed = parse_raw(
            source="moodle", kind=record.headers["kind"].decode(), body=record.value or b"",
            content_type=record.headers["content-type"].decode(), tenant="default", mapping=TenantMapping(),
            raw=RawPosition("raw.moodle", record.partition, record.offset),
            received_at_ms=int(record.headers["received-at"]),
            delivery_id=(record.headers.get("delivery-id") or b"").decode() or None)
        assert len(parsed) == 1 and isinstance(parsed[0], CanonicalEvent), parsed
        event = parsed[0]
        seen.append((delivery["event_type"], event.entity, event.entity_id))
    users = {str(s1["id"]), str(s2["id"])}
    assert sorted(t for t, entity, eid in seen if entity == "moodle_user" and eid in users) == [
        "user_created", "user_created", "user_updated"]
    assert sorted(t for t, entity, _ in seen if entity == "moodle_enrollment") == [
        "enrollment_created", "enrollment_created", "enrollment_deleted", "enrollment_updated"]
    assert [t for t, entity, _ in seen if entity == "grade"] == ["grade_updated"]
