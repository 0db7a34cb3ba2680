"""A Moodle enrolment is known at once, and goes out again with its Zoho student and class once they are known."""

from __future__ import annotations

from typing import Any

from ops.college import webhooks as college
from tests.conftest import TenantCreds
from tests.infra import Infra, Service
from tests.streams.conftest import Sender, StreamsRun, canonical_events, new_id, offsets, settled, wait_for


async def test_enrolment_before_its_link_and_class_is_joined_once_they_arrive(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.moodle_enrollment")
    pid, uid, cid, sid = (new_id() for _ in range(4))
    muid, course, enrolment = 7301, 88, 99001
    streams_run.start("w1")
    async with sender.client() as client:
        # Nothing is known about this user or course yet.
        await sender.moodle(client, "enrollment_created", college.moodle_enrolment(muid, course, enrolment, new_id()))

        def unlinked() -> list[dict[str, Any]] | None:
            return canonical_events(infra, "moodle_enrollment", start["canonical.moodle_enrollment"],
                                    fresh_tenant.name) or None

        first = await wait_for(unlinked, within=60)
        assert first and first[0]["entity_id"] == str(enrolment)
        assert first[0]["payload"]["student_id"] is None and first[0]["payload"]["class_id"] is None

        # The student names its Moodle user (the link); the class names the Moodle course.
        for module, body in (("BTEC_Students", college.student(sid, f"e{sid}@college.example", moodle_id=muid)),
                             ("Products", college.program(pid)), ("BTEC", college.unit(uid, pid)),
                             ("BTEC_Classes", college.klass(cid, uid, pid, course=course))):
            await sender.zoho(client, module, college.notification(module, body, new_id()))

    def joined() -> dict[str, Any] | None:
        events = canonical_events(infra, "moodle_enrollment", start["canonical.moodle_enrollment"], fresh_tenant.name)
        done = [e for e in events if e["payload"]["class_id"]]
        return done[-1] if done else None

    event = await wait_for(joined, within=90)
    assert event, "the enrolment was never joined with its student and class"
    assert event["payload"]["student_id"] == sid
    assert event["payload"]["class_id"] == cid
    assert event["payload"]["course_id"] == str(course)
    events = canonical_events(infra, "moodle_enrollment", start["canonical.moodle_enrollment"], fresh_tenant.name)
    assert {e["entity_id"] for e in events} == {str(enrolment)}
    assert len([e for e in events if e["payload"]["class_id"]]) == 1


async def test_unenrolment_of_a_linked_user_carries_student_and_class(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.moodle_enrollment", "canonical.class", "canonical.student")
    pid, uid, cid, sid = (new_id() for _ in range(4))
    muid, course, enrolment = 7302, 89, 99002
    streams_run.start("w1")
    async with sender.client() as client:
        for module, body in (("BTEC_Students", college.student(sid, f"u{sid}@college.example", moodle_id=muid)),
                             ("Products", college.program(pid)), ("BTEC", college.unit(uid, pid)),
                             ("BTEC_Classes", college.klass(cid, uid, pid, course=course))):
            await sender.zoho(client, module, college.notification(module, body, new_id()))

        def linked_and_known() -> bool:
            # The class reaches the student side and the link the Moodle side before the enrolment is sent.
            return bool(canonical_events(infra, "class", start["canonical.class"], fresh_tenant.name)) and bool(
                canonical_events(infra, "student", start["canonical.student"], fresh_tenant.name))

        assert await wait_for(linked_and_known, within=60)
        await sender.moodle(client, "enrollment_created", college.moodle_enrolment(muid, course, enrolment, new_id()))
        await sender.moodle(client, "enrollment_deleted",
                            college.moodle_enrolment(muid, course, enrolment, new_id(), event="enrollment_deleted"))

    def deleted() -> dict[str, Any] | None:
        events = canonical_events(infra, "moodle_enrollment", start["canonical.moodle_enrollment"], fresh_tenant.name)
        gone = [e for e in events if e["event_type"].endswith("Deleted")]
        return gone[-1] if gone else None

    event = await wait_for(deleted, within=90)
    assert event, "the unenrolment never came out"
    assert event["payload"]["student_id"] == sid
    assert event["payload"]["class_id"] == cid


async def test_the_plugins_sequence_orders_changes_made_in_the_same_second(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    """Suspended then reactivated within one second, delivered the other way round: the reactivation stands."""
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.moodle_enrollment")
    streams_run.start("w1")

    def change(status: int, sequence: int) -> dict[str, Any]:
        body = college.moodle_enrolment(7303, 90, 99003, f"me-{new_id()}", event="enrollment_updated")
        body["data"] |= {"status": status, "sequence": sequence}
        return body

    def events() -> list[dict[str, Any]]:
        return canonical_events(infra, "moodle_enrollment", start["canonical.moodle_enrollment"], fresh_tenant.name)

    async with sender.client() as client:
        await sender.moodle(client, "enrollment_updated", change(0, 3))
        assert await wait_for(events, within=60)
        await sender.moodle(client, "enrollment_updated", change(1, 2))
        await settled(infra, streams_run)
        out = events()
        assert [(e["payload"]["status"], e["payload"]["sequence"]) for e in out] == [("active", 3)]
        # In order, both states go out and the last one stands.
        await sender.moodle(client, "enrollment_updated", change(1, 4))
        await sender.moodle(client, "enrollment_updated", change(0, 5))
        await settled(infra, streams_run)
    assert [(e["payload"]["status"], e["payload"]["sequence"]) for e in events()] == [
        ("active", 3), ("suspended", 4), ("active", 5)]
