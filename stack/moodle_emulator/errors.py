"""Moodle's exceptions as the REST server renders them: `{"exception", "errorcode", "message"[, "debuginfo"]}`.

The messages are Moodle 4.3's English strings. With developer debugging on, Moodle appends the debug info to the
message and adds a `debuginfo` key; a production site (the default here) sends neither.
"""

from __future__ import annotations

from typing import Any

INVALID_PARAMETER = "Invalid parameter value detected"


class MoodleException(Exception):
    def __init__(self, errorcode: str, message: str, *, exception: str = "moodle_exception",
                 debuginfo: str | None = None) -> None:
        super().__init__(message)
        self.exception = exception
        self.errorcode = errorcode
        self.message = message
        self.debuginfo = debuginfo

    def message_for(self, debug: bool) -> str:
        """What PHP's getMessage() returns on a site with (or without) developer debugging."""
        return f"{self.message} ({self.debuginfo})" if debug and self.debuginfo else self.message

    def body(self, debug: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"exception": self.exception, "errorcode": self.errorcode,
                               "message": self.message_for(debug)}
        if debug and self.debuginfo is not None:
            out["debuginfo"] = self.debuginfo
        return out


def invalid_parameter(debuginfo: str) -> MoodleException:
    return MoodleException("invalidparameter", INVALID_PARAMETER, exception="invalid_parameter_exception",
                           debuginfo=debuginfo)


def invalid_token() -> MoodleException:
    return MoodleException("invalidtoken", "Invalid token - token not found")


def access_exception(debuginfo: str) -> MoodleException:
    return MoodleException("accessexception", "Access control exception", exception="webservice_access_exception",
                           debuginfo=debuginfo)


def no_permission(capability_name: str) -> MoodleException:
    return MoodleException("nopermissions",
                           f"Sorry, but you do not currently have permissions to do that ({capability_name}).",
                           exception="required_capability_exception")


def coding_error(hint: str, debuginfo: str | None = None) -> MoodleException:
    return MoodleException("codingerror", f"Coding error detected, it must be fixed by a programmer: {hint}",
                           exception="coding_exception", debuginfo=debuginfo)


def missing_record(table: str, sql: str = "") -> MoodleException:
    """dml_missing_record_exception: a MUST_EXIST read that found nothing."""
    return MoodleException("invalidrecord", f"Can't find data record in database table {table}.",
                           exception="dml_missing_record_exception", debuginfo=f"{sql}\n[array (\n)]")


def write_failed() -> MoodleException:
    """A database write error, as a real site answers when its database hiccups (injected as a fault)."""
    return MoodleException("dmlwriteexception", "Error writing to database", exception="dml_write_exception",
                           debuginfo="emulated fault")


def function_not_allowed(function: str) -> MoodleException:
    return access_exception(
        f"Access to the function {function}() is not allowed.\n"
        "                     There could be multiple reasons for this:\n"
        "                     1. The service linked to the user token does not contain the function.\n"
        "                     2. The service is user-restricted and the user is not listed.\n"
        "                     3. The service is IP-restricted and the user IP is not listed.\n"
        "                     4. The service is time-restricted and the time has expired.\n"
        "                     5. The token is time-restricted and the time has expired.\n"
        "                     6. The service requires a specific capability which the user does not have.\n"
        "                     7. The function is called with username/password (no user token is sent)\n"
        "                     and none of the services has the function to allow the user.\n"
        "                     These settings can be found in Administration > Site administration\n"
        "                     > Server > Web services > External services and Manage tokens.")


# Capability names as `get_capability_string()` renders them in Moodle 4.3 (lang/en/role.php, enrol_manual).
CAPABILITY_NAMES: dict[str, str] = {
    "moodle/user:create": "Create users",
    "moodle/user:update": "Update user profiles",
    "moodle/user:viewdetails": "View user profiles",
    "moodle/user:viewalldetails": "View user full information",
    "moodle/user:viewhiddendetails": "View hidden details of users",
    "moodle/course:useremail": "Enable/disable email address",
    "moodle/course:create": "Create courses",
    "moodle/course:update": "Update course settings",
    "moodle/course:visibility": "Hide/show courses",
    "moodle/course:changecategory": "Change course category",
    "moodle/course:changefullname": "Change course full name",
    "moodle/course:changeshortname": "Change course short name",
    "moodle/course:changeidnumber": "Change course ID number",
    "moodle/course:changesummary": "Change course summary",
    "moodle/course:viewparticipants": "View participants",
    "moodle/course:enrolreview": "Review course enrolments",
    "moodle/category:manage": "Manage categories",
    "moodle/category:viewhiddencategories": "See hidden categories",
    "enrol/manual:enrol": "Enrol users",
    "enrol/manual:unenrol": "Unenrol users from the course",
}
