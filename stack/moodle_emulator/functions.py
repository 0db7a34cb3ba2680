"""The emulated web-service functions: each one's parameter description and implementation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stack.moodle_emulator import courses, enrol, users
from stack.moodle_emulator.config import EMULATED_FUNCTIONS
from stack.moodle_emulator.context import Call
from stack.moodle_emulator.validation import ALPHANUMEXT, DEFAULT, Multiple, Single, Value

SITE_INFO = Single({"serviceshortnames": Multiple(Value(ALPHANUMEXT), DEFAULT, [])})


@dataclass(frozen=True)
class Function:
    params: Single
    run: Callable[[Call, dict[str, Any]], Any]
    # The name of the main list parameter, to count the records of a batched call in the call log.
    batch: str | None = None


def site_info(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config, user = call.config, call.user
    functions = call.config.services[call.token.service]
    return {
        "sitename": config.sitename, "username": user.username, "firstname": user.firstname,
        "lastname": user.lastname, "fullname": f"{user.firstname} {user.lastname}", "lang": "en",
        "userid": user.id, "siteurl": config.wwwroot,
        "userpictureurl": f"{config.wwwroot}/theme/image.php/boost/core/1700000000/u/f1",
        "functions": [{"name": name, "version": config.version} for name in functions],
        "downloadfiles": 0, "uploadfiles": 0, "release": config.release, "version": config.version,
        "mobilecssurl": "",
        "advancedfeatures": [{"name": name, "value": 1} for name in (
            "usecomments", "usetags", "enablenotes", "enableblogs", "enablecompletion", "enablebadges",
            "messaging")] + [{"name": "mnet_dispatcher_mode", "value": 0}],
        "usercanmanageownfiles": True, "userquota": 104857600, "usermaxuploadfilesize": 104857600,
        "userhomepage": 1, "userprivateaccesskey": "emulator", "siteid": 1, "sitecalendartype": "gregorian",
        "usercalendartype": "gregorian", "userissiteadmin": False, "theme": "boost", "limitconcurrentlogins": 0,
    }


FUNCTIONS: dict[str, Function] = {
    "core_webservice_get_site_info": Function(SITE_INFO, site_info),
    "core_user_create_users": Function(users.CREATE_USERS, users.create_users, "users"),
    "core_user_update_users": Function(users.UPDATE_USERS, users.update_users, "users"),
    "core_user_get_users_by_field": Function(users.GET_USERS_BY_FIELD, users.get_users_by_field, "values"),
    "core_course_create_categories": Function(courses.CREATE_CATEGORIES, courses.create_categories, "categories"),
    "core_course_get_categories": Function(courses.GET_CATEGORIES, courses.get_categories, "criteria"),
    "core_course_create_courses": Function(courses.CREATE_COURSES, courses.create_courses, "courses"),
    "core_course_update_courses": Function(courses.UPDATE_COURSES, courses.update_courses, "courses"),
    "core_course_get_courses_by_field": Function(courses.GET_COURSES_BY_FIELD, courses.get_courses_by_field),
    "enrol_manual_enrol_users": Function(enrol.ENROL_USERS, enrol.enrol_users, "enrolments"),
    "enrol_manual_unenrol_users": Function(enrol.UNENROL_USERS, enrol.unenrol_users, "enrolments"),
    "core_enrol_get_enrolled_users": Function(enrol.GET_ENROLLED_USERS, enrol.get_enrolled_users),
}
assert set(FUNCTIONS) == set(EMULATED_FUNCTIONS), "config.EMULATED_FUNCTIONS and FUNCTIONS must agree"
