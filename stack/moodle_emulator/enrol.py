"""Manual enrolments (enrol/manual/externallib.php) and core_enrol_get_enrolled_users (enrol/externallib.php)."""

from __future__ import annotations

import dataclasses
from typing import Any

from stack.moodle_emulator.context import Call
from stack.moodle_emulator.errors import MoodleException, coding_error, invalid_parameter, missing_record
from stack.moodle_emulator.events import enrolment_event
from stack.moodle_emulator.store import (
    ENROL_USER_ACTIVE,
    ENROL_USER_SUSPENDED,
    ROLES,
    SITEID,
    UserEnrolment,
)
from stack.moodle_emulator.users import user_details
from stack.moodle_emulator.validation import ALPHANUMEXT, DEFAULT, INT, OPTIONAL, RAW, Multiple, Single, Value, clean

ENROL_USERS = Single({"enrolments": Multiple(Single({
    "roleid": Value(INT), "userid": Value(INT), "courseid": Value(INT), "timestart": Value(INT, OPTIONAL),
    "timeend": Value(INT, OPTIONAL), "suspend": Value(INT, OPTIONAL),
}))})

UNENROL_USERS = Single({"enrolments": Multiple(Single({
    "userid": Value(INT), "courseid": Value(INT), "roleid": Value(INT, OPTIONAL),
}))})

GET_ENROLLED_USERS = Single({
    "courseid": Value(INT),
    "options": Multiple(Single({"name": Value(ALPHANUMEXT), "value": Value(RAW)}), DEFAULT, []),
})

# The keys get_enrolled_users returns, in its description's order (clean_returnvalue drops the others).
_ENROLLED_KEYS = ("id", "username", "firstname", "lastname", "fullname", "email", "address", "phone1", "phone2",
                  "department", "institution", "idnumber", "interests", "firstaccess", "lastaccess",
                  "lastcourseaccess", "description", "descriptionformat", "city", "country", "profileimageurlsmall",
                  "profileimageurl", "customfields", "groups", "roles", "preferences", "enrolledcourses")


def _no_instance() -> MoodleException:
    # Moodle passes the course as the link, not as the string's argument, so the placeholder stays in the text.
    return MoodleException("wsnoinstance", "Manual enrolment plugin instance doesn't exist or is disabled for the "
                                           "course (id = {$a->courseid})")


def enrol_users(call: Call, params: dict[str, Any]) -> None:
    store = call.store
    with store.transaction():
        for e in params["enrolments"]:
            courseid, userid, roleid = e["courseid"], e["userid"], e["roleid"]
            if courseid not in store.courses:
                raise invalid_parameter("Context does not exist")
            call.require("enrol/manual:enrol")
            if not call.can_assign(roleid):
                raise MoodleException("wsusercannotassign",
                                      f"You don't have the permission to assign this role ({roleid}) to this user "
                                      f"({userid}) in this course ({courseid}).")
            instance = store.manual_instance(courseid)
            if instance is None or instance.status != 0 or courseid == SITEID:
                raise _no_instance()
            timestart, timeend = e.get("timestart", 0), e.get("timeend", 0)
            status = ENROL_USER_SUSPENDED if e.get("suspend") else ENROL_USER_ACTIVE
            ue = store.user_enrolment(instance.id, userid)
            if ue is None:
                ue = store.add_user_enrolment(enrolid=instance.id, userid=userid, status=status, timestart=timestart,
                                              timeend=timeend, timecreated=call.now, timemodified=call.now)
                enrolment_event(store, "enrollment_created", ue, instance, call.now)
            elif (ue.timestart, ue.timeend, ue.status) != (timestart, timeend, status):
                ue = store.save_user_enrolment(dataclasses.replace(ue, status=status, timestart=timestart,
                                                                   timeend=timeend, timemodified=call.now))
                enrolment_event(store, "enrollment_updated", ue, instance, call.now)
            # role_assign() after the enrolment, and it is where a missing user is noticed.
            user = store.users.get(userid)
            if user is None:
                raise coding_error("User ID does not exist or is deleted!", f"userid:{userid}")
            store.assign_role(courseid, userid, roleid)


def unenrol_users(call: Call, params: dict[str, Any]) -> None:
    store = call.store
    with store.transaction():
        for e in params["enrolments"]:
            courseid, userid = e["courseid"], e["userid"]
            if courseid not in store.courses:
                raise missing_record("context", "SELECT * FROM {context} WHERE instanceid = ? AND contextlevel = ?")
            call.require("enrol/manual:unenrol")
            instance = store.manual_instance(courseid)
            if instance is None:
                raise _no_instance()
            if userid not in store.users:
                raise invalid_parameter(f"User id not exist: {userid}")
            ue = store.user_enrolment(instance.id, userid)
            if ue is None:
                continue  # not enrolled: Moodle does nothing and says nothing
            # The plugin sends the role the user had, so the event is recorded before the roles go.
            enrolment_event(store, "enrollment_deleted", ue, instance, call.now)
            store.drop_user_enrolment(ue)
            if not any(x.userid == userid for x in store.enrolments_of_course(courseid)):
                store.unassign_all(courseid, userid)


def _active(call: Call, ue: UserEnrolment) -> bool:
    """get_enrolled_sql(onlyactive): enrolment active and within its dates, instance enabled, user not suspended."""
    instance = call.store.enrols[ue.enrolid]
    return (ue.status == ENROL_USER_ACTIVE and instance.status == 0 and ue.timestart <= call.now
            and (ue.timeend == 0 or ue.timeend > call.now) and not call.store.users[ue.userid].suspended)


def get_enrolled_users(call: Call, params: dict[str, Any]) -> list[dict[str, Any]]:
    store = call.store
    options = {o["name"]: o["value"] for o in params["options"]}
    sortby = options.get("sortby", "id")
    if sortby not in ("id", "firstname", "lastname", "siteorder"):
        raise invalid_parameter(f"Invalid value for sortby parameter (value: {sortby}), allowed values are: "
                                "id,firstname,lastname,siteorder")
    direction = options.get("sortdirection", "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise invalid_parameter(f"Invalid value for sortdirection parameter\n                        (value: "
                                f"{direction}),allowed values are: ASC,DESC")
    courseid = params["courseid"]
    course = store.courses.get(courseid)
    if course is None:
        raise missing_record("course", "SELECT * FROM {course} WHERE id = ?")
    call.require("moodle/course:viewparticipants")
    onlyactive, onlysuspended = bool(options.get("onlyactive")), bool(options.get("onlysuspended"))
    if onlyactive or onlysuspended:
        call.require("moodle/course:enrolreview")
    by_user: dict[int, bool] = {}
    for ue in store.enrolments_of_course(courseid):
        by_user[ue.userid] = by_user.get(ue.userid, False) or _active(call, ue)
    chosen = [store.users[uid] for uid, active in by_user.items()
              if (not onlyactive or active) and (not onlysuspended or not active)]
    key = "id" if sortby == "siteorder" else sortby
    chosen.sort(key=lambda u: getattr(u, key), reverse=direction == "DESC")
    start = clean(options.get("limitfrom", 0), INT)
    number = clean(options.get("limitnumber", 0), INT)
    chosen = chosen[start:start + number] if number else chosen[start:]
    wanted = [f.strip() for f in options["userfields"].split(",")] if "userfields" in options else None
    courses_of = store.courses_of_users()
    out = []
    for user in chosen:
        details = user_details(call, user)
        details["lastcourseaccess"] = 0
        details["roles"] = [{"roleid": r, "name": "", "shortname": ROLES[r].shortname, "sortorder": 0}
                            for r in sorted(store.roles(courseid, user.id), key=lambda r: ROLES[r].sortorder)]
        details["enrolledcourses"] = [
            {"id": c.id, "fullname": c.fullname, "shortname": c.shortname}
            for c in sorted((store.courses[i] for i in courses_of.get(user.id, ())), key=lambda c: c.id)]
        keys = [k for k in _ENROLLED_KEYS if wanted is None or k in wanted or k in ("id", "fullname")]
        out.append({k: details[k] for k in keys if k in details})
    return out
