"""Consumed events -> the writes they call for, gathered per tenant and module at a flush; several changes to
one record collapse to the newest (highest source_version, then the later offset)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.mapping import DEFAULT_MAPPING, TenantMapping
from schemas.topics import MOODLE_OUTCOMES
from sinks.zoho import sink_metrics
from sinks.zoho.mapping import (
    GRADES,
    MOODLE_ID_FIELDS,
    PER_GRADER,
    ZohoWrite,
    enrollment_write,
    fingerprint,
    grade_write,
    link_write,
    moodle_id_write,
)
from sinks.zoho.settings import SinkTenant

GRADE_TOPIC = "canonical.grade"
USER_TOPIC = "canonical.moodle_user"
ENROLLMENT_TOPIC = "canonical.moodle_enrollment"
TOPICS = (GRADE_TOPIC, USER_TOPIC, ENROLLMENT_TOPIC, MOODLE_OUTCOMES)


def route(topic: str, event: dict[str, Any], tenants: dict[str, SinkTenant],
          mapping: TenantMapping = DEFAULT_MAPPING) -> ZohoWrite | None:
    """The write an event calls for, or None (counted by reason) when the sink has nothing to do with it.
    `mapping`: the tenant's, naming the Zoho modules the Moodle sink's ids go to."""
    tenant = tenants.get(str(event["tenant"]))
    payload = event.get("payload")
    reason: str | None = None
    if tenant is None:
        reason = "no_zoho_account"
    elif topic == MOODLE_OUTCOMES:
        # The Moodle sink made or linked a user or course: its id goes into the Zoho record (one writer per topic:
        # the Moodle sink reports, this sink writes Zoho).
        if event["entity"] not in MOODLE_ID_FIELDS:
            reason = "moodle_outcome_not_a_link"
        elif event["action"] == "failed" or not event.get("moodle_id"):
            reason = "moodle_outcome_without_id"
        else:
            return moodle_id_write(event, mapping.entities[str(event["entity"])].module)
    elif event["origin"] != "moodle":
        reason = "zoho_origin"  # Zoho already holds it: writing it back would be an echo
    elif topic == ENROLLMENT_TOPIC:
        # An unenrolment is a change to write too (End_Date), so this comes before the generic "deleted".
        options = tenant.options.enrollments
        if options is None:
            reason = "enrollments_disabled"
        elif payload is None:
            reason = "deleted"
        elif not payload.get("student_id") or not payload.get("class_id"):
            reason = "enrollment_not_linked"  # the Moodle user has no student yet, or the course no class
        else:
            return enrollment_write(event, options)
    elif payload is None or event["event_type"].endswith("Deleted"):
        reason = "deleted"
    elif topic == GRADE_TOPIC:
        if not tenant.options.grades:
            reason = "grades_disabled"
        elif event["event_type"] != "GradeRecorded" or not payload.get("student_id"):
            reason = "grade_not_joined"
        elif payload.get("released") is False and not tenant.options.unreleased_grades:
            # Older plugins send no release flag (None): their grades were always final.
            sink_metrics.SKIPPED.labels(reason="grade_not_released").inc()
            return dataclasses.replace(grade_write(event), held=True)
        else:
            return grade_write(event)
    elif topic == USER_TOPIC:
        if not tenant.options.student_links:
            reason = "links_disabled"
        elif not payload.get("student_id"):
            reason = "user_not_linked"
        elif payload.get("link_method") == "student_moodle_id":
            reason = "link_from_zoho"  # the link was read from Student_Moodle_ID: Zoho has it
        else:
            return link_write(event)
    else:
        reason = "unknown_topic"
    sink_metrics.SKIPPED.labels(reason=reason).inc()
    return None


def with_fields(write: ZohoWrite, extra: dict[str, Any]) -> ZohoWrite:
    """`write` with those of `extra`'s fields it does not set itself."""
    missing = {k: v for k, v in extra.items() if k not in write.fields}
    if not missing:
        return write
    fields = {**write.fields, **missing}
    return dataclasses.replace(write, fields=fields, fingerprint=fingerprint(fields, write.rows))


def carried(older: ZohoWrite, newer: ZohoWrite) -> ZohoWrite:
    """The newer write, with what only the older one would have written: a teacher's grade then the IV's
    regrade in one batch must leave both names in Zoho, as the two writes one after the other would."""
    if newer.module != GRADES:
        return newer
    return with_fields(newer, {k: older.fields[k] for k in PER_GRADER if k in older.fields})


@dataclass
class Group:
    """One tenant's changes to one module: the newest write per record, and the ones it superseded."""

    tenant: str
    module: str
    newest: dict[str, ZohoWrite] = field(default_factory=dict)
    superseded: list[ZohoWrite] = field(default_factory=list)
    # Grader fields of unreleased grades, per record: carried by the record's next write.
    held: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, write: ZohoWrite) -> None:
        if write.held:
            graders = {k: write.fields[k] for k in PER_GRADER if k in write.fields}
            if graders:
                self.held.setdefault(write.record_key, {}).update(graders)
            return
        held = self.newest.get(write.record_key)
        if held is None or write.source_version >= held.source_version:
            self.newest[write.record_key] = write if held is None else carried(held, write)
            if held is not None:
                self.superseded.append(held)
        else:
            self.newest[write.record_key] = carried(write, held)
            self.superseded.append(write)


def groups(writes: Iterable[ZohoWrite]) -> list[Group]:
    """Writes in the order they were consumed, gathered per tenant and module."""
    out: dict[tuple[str, str], Group] = {}
    for write in writes:
        out.setdefault((write.tenant, write.module), Group(write.tenant, write.module)).add(write)
    return list(out.values())
