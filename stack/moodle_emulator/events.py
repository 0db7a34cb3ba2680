"""What our plugin records for the changes a web-service call makes, with the bodies it sends.

The bodies follow the plugin's payload builder field for field (envelope `event_id, event_type, event_name,
timestamp, site_url, sequence, data`). `sequence` counts the events of one record (a user, a user enrolment) from
1, so the backend can order what arrives out of order. A user_updated that changes none of the fields the backend
uses is not recorded, as the plugin's observer compares a fingerprint of them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stack.moodle_emulator.store import EnrolInstance, PendingEvent, SiteStore, User, UserEnrolment

EVENT_NAMES = {
    "user_created": "\\core\\event\\user_created",
    "user_updated": "\\core\\event\\user_updated",
    "enrollment_created": "\\core\\event\\user_enrolment_created",
    "enrollment_updated": "\\core\\event\\user_enrolment_updated",
    "enrollment_deleted": "\\core\\event\\user_enrolment_deleted",
    "grade_updated": "\\mod_assign\\event\\submission_graded",
}
USER_FIELDS = ("username", "email", "firstname", "lastname", "idnumber")


def user_fingerprint(user: User) -> str:
    # The plugin hashes json_encode() of the fields in this order; only equality matters here.
    values = {name: str(getattr(user, name)) for name in USER_FIELDS}
    return hashlib.sha256(json.dumps(values, separators=(",", ":")).encode()).hexdigest()


def _enabled(store: SiteStore, event_type: str) -> bool:
    return store.config.moodle_webhook_secret is not None and event_type in store.config.plugin_events


def user_data(user: User) -> dict[str, Any]:
    return {"moodle_user_id": user.id, "username": user.username, "email": user.email, "firstname": user.firstname,
            "lastname": user.lastname, "idnumber": user.idnumber}


def enrolment_data(store: SiteStore, ue: UserEnrolment, instance: EnrolInstance, role: str) -> dict[str, Any]:
    return {
        "moodle_user_id": ue.userid,
        "course_id": instance.courseid,
        "course_idnumber": store.courses[instance.courseid].idnumber,
        "enrolment_id": ue.id,
        "role": role,
        "time_start": ue.timestart or ue.timecreated,
        "time_end": ue.timeend or None,
        "status": ue.status,
        "enrol_method": instance.enrol,
    }


def user_event(store: SiteStore, event_type: str, userid: int, at: int) -> None:
    if not _enabled(store, event_type):
        return
    user = store.users[userid]
    fingerprint = user_fingerprint(user)
    if event_type == "user_updated" and store.user_fingerprints.get(userid) == fingerprint:
        return
    store.set_fingerprint(userid, fingerprint)
    data = user_data(user)

    def build() -> dict[str, Any]:
        return data

    store.emit(PendingEvent(event_type, EVENT_NAMES[event_type], f"user:{userid}", at, build))


def enrolment_event(store: SiteStore, event_type: str, ue: UserEnrolment, instance: EnrolInstance, at: int) -> None:
    """The body is captured when the event happens, as the plugin does, except the role of a new enrolment:
    Moodle assigns it after the enrolment event, so it is read when the call's transaction commits."""
    if not _enabled(store, event_type):
        return
    data = enrolment_data(store, ue, instance, store.course_role(instance.courseid, ue.userid, instance.roleid))

    def build() -> dict[str, Any]:
        if event_type == "enrollment_created":
            return {**data, "role": store.course_role(instance.courseid, ue.userid, instance.roleid)}
        return data

    store.emit(PendingEvent(event_type, EVENT_NAMES[event_type], f"user_enrolment:{ue.id}", at, build))


def grade_event(store: SiteStore, grade_id: int, data: dict[str, Any], at: int) -> None:
    if _enabled(store, "grade_updated"):
        store.emit(PendingEvent("grade_updated", EVENT_NAMES["grade_updated"], f"assign_grade:{grade_id}", at,
                                lambda: data))
