"""The REST server: tokens, function lookup and service membership, formats, parameter encoding and validation."""

from __future__ import annotations

import httpx

from tests.moodle_emulator.harness import DEBUG_TOKEN, NARROW, TOKEN, Emulator, student

INVALID = {"exception": "invalid_parameter_exception", "errorcode": "invalidparameter",
           "message": "Invalid parameter value detected"}


def test_invalid_or_missing_token(moodle: Emulator) -> None:
    expected = {"exception": "moodle_exception", "errorcode": "invalidtoken",
                "message": "Invalid token - token not found"}
    assert moodle.error("core_webservice_get_site_info", token="not-a-token") == expected
    assert moodle.error("core_webservice_get_site_info", token=None) == expected
    # Nothing was created on the way.
    assert [u["username"] for u in moodle.table("users")] == ["guest", "admin", "zohosync", "limited", "lookup",
                                                              "enroller"]


def test_unknown_function_missing_function_and_function_outside_the_service(moodle: Emulator) -> None:
    assert moodle.error("core_course_delete_everything") == {
        "exception": "dml_missing_record_exception", "errorcode": "invalidrecord",
        "message": "Can't find data record in database table external_functions."}
    assert moodle.error(None) == INVALID
    refused = moodle.error("core_user_create_users", {"users": [student(1)]}, token=NARROW)
    assert refused == {"exception": "webservice_access_exception", "errorcode": "accessexception",
                       "message": "Access control exception"}
    assert moodle.call("core_user_get_users_by_field", {"field": "username", "values": ["admin"]}, token=NARROW)
    moodle.error("core_nope_" + "x" * 40)
    # Made-up names are counted together, so the counts (and the metrics' labels) stay bounded.
    assert moodle.counts() == {"(unknown)": 3, "core_user_create_users": 1, "core_user_get_users_by_field": 1}


def test_errors_are_http_200_and_xml_is_the_default_format(moodle: Emulator) -> None:
    resp = moodle.post("core_webservice_get_site_info", token="nope", fmt=None)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    assert '<EXCEPTION class="moodle_exception">' in resp.text and "<ERRORCODE>invalidtoken</ERRORCODE>" in resp.text
    ok = moodle.post("core_user_create_users", {"users": [student(1)]}, fmt="xml")
    assert '<KEY name="username"><VALUE>student1</VALUE>' in ok.text


def test_get_works_like_post_and_post_wins(moodle: Emulator) -> None:
    resp = httpx.get(moodle.endpoint, params={"wstoken": TOKEN, "wsfunction": "core_webservice_get_site_info",
                                              "moodlewsrestformat": "json"})
    info = resp.json()
    assert info["username"] == "zohosync" and info["siteurl"] == "https://lms.abchorizon.com"
    assert info["release"].startswith("4.3") and info["siteid"] == 1
    assert {"name": "core_user_create_users", "version": "2023100900"} in info["functions"]
    mixed = httpx.post(moodle.endpoint, params={"wstoken": "wrong", "wsfunction": "core_webservice_get_site_info"},
                       data={"wstoken": TOKEN, "moodlewsrestformat": "json"})
    assert mixed.json()["username"] == "zohosync"


def test_parameter_validation_like_moodle(moodle: Emulator) -> None:
    assert moodle.error("core_user_create_users", {}) == INVALID  # users missing
    assert moodle.error("core_user_create_users", {"users": [student(1, nickname="x")]}) == INVALID
    assert moodle.error("core_user_create_users", {"users": [student(1, username="Upper")]}) == INVALID
    assert moodle.error("core_user_create_users", {"users": [student(1, mailformat="html")]}) == INVALID
    assert moodle.error("core_user_create_users", {"users": [student(1, createpassword="yes")]}) == INVALID
    assert moodle.error("core_webservice_get_site_info", {"extra": "1"}) == INVALID
    assert len(moodle.table("users")) == 6


def test_debug_site_explains_the_path_to_the_bad_value(moodle: Emulator) -> None:
    err = moodle.error("core_user_create_users", {"users": [student(1, username="Upper")]}, token=DEBUG_TOKEN)
    # With developer debugging, each level's message already carries its debug info, so it repeats (as in PHP).
    inner = 'Invalid external api parameter: the value is "Upper", the server was expecting "username" type'
    middle = f"username => Invalid parameter value detected ({inner}): {inner}"
    assert err["debuginfo"] == f"users => Invalid parameter value detected ({middle}): {middle}"
    assert err["message"] == f"Invalid parameter value detected ({err['debuginfo']})"
    missing = moodle.error("enrol_manual_enrol_users", {"enrolments": [{"userid": 3, "courseid": 2}]},
                           token=DEBUG_TOKEN)
    assert missing["debuginfo"] == ("enrolments => Invalid parameter value detected (Missing required key in single "
                                    "structure: roleid): Missing required key in single structure: roleid")


def test_variables_beyond_max_input_vars_are_dropped_silently(moodle: Emulator) -> None:
    # The debug site allows 40 variables: 3 protocol ones + 6 per user → the 7th user loses its fields.
    users = [student(n) for n in range(6)]
    assert [u["username"] for u in moodle.call("core_user_create_users", {"users": users}, token=DEBUG_TOKEN)] == [
        f"student{n}" for n in range(6)]
    more = [student(n) for n in range(10, 17)]
    err = moodle.error("core_user_create_users", {"users": more}, token=DEBUG_TOKEN)
    assert err["errorcode"] == "invalidparameter" and "Missing required key in single structure" in err["debuginfo"]
