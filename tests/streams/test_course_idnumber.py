"""A course the Moodle sink made names its class by idnumber: its grades and enrolments join without waiting for
Zoho's Moodle_Class_ID (written with no workflow trigger, so only the next pull would bring it)."""

from __future__ import annotations

from typing import Any

from ops.college import webhooks as college
from tests.conftest import TenantCreds
from tests.infra import Infra, Service
from tests.streams.conftest import Sender, StreamsRun, canonical_events, new_id, offsets, wait_for


async def test_grade_and_enrolment_in_a_course_known_only_by_its_idnumber(
        infra: Infra, ingress: Service, fresh_tenant: TenantCreds, streams_run: StreamsRun) -> None:
    sender = Sender(ingress, fresh_tenant)
    start = offsets(infra, "canonical.grade", "canonical.moodle_enrollment")
    pid, uid, cid, sid, rid = (new_id() for _ in range(5))
    muid, course = 7401, 501
    streams_run.start("w1")
    async with sender.client() as client:
        # Moodle first: the course's idnumber is the class's Zoho id, which nothing has announced yet.
        await sender.moodle(client, "enrollment_created",
                            college.moodle_enrolment(muid, course, 99401, new_id(), course_idnumber=cid))
        await sender.moodle(client, "grade_updated",
                            college.moodle_grade(muid, course, 61, 72.0, new_id(), course_idnumber=cid))
        # Then Zoho: the class has no Moodle_Class_ID (the sink's write of it fired no webhook).
        for module, body in (("BTEC_Students", college.student(sid, f"c{sid}@college.example", moodle_id=muid)),
                             ("Products", college.program(pid)), ("BTEC", college.unit(uid, pid)),
                             ("BTEC_Classes", college.klass(cid, uid, pid)),
                             ("BTEC_Registrations", college.registration(rid, sid, pid))):
            await sender.zoho(client, module, college.notification(module, body, new_id()))

    def joined() -> tuple[dict[str, Any], dict[str, Any]] | None:
        grades = [g for g in canonical_events(infra, "grade", start["canonical.grade"], fresh_tenant.name)
                  if g["event_type"] == "GradeRecorded"]
        enrolments = [e for e in canonical_events(infra, "moodle_enrollment", start["canonical.moodle_enrollment"],
                                                  fresh_tenant.name) if e["payload"]["class_id"]]
        return (grades[-1], enrolments[-1]) if grades and enrolments else None

    found = await wait_for(joined, within=90)
    assert found, "the grade or the enrolment in the course named by its idnumber was never joined"
    grade, enrolment = found
    assert (grade["payload"]["class_id"], grade["payload"]["unit_id"], grade["payload"]["program_id"],
            grade["payload"]["registration_id"], grade["payload"]["student_id"]) == (cid, uid, pid, rid, sid)
    assert (enrolment["payload"]["class_id"], enrolment["payload"]["student_id"]) == (cid, sid)
