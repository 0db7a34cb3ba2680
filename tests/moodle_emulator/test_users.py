"""core_user_create_users / update_users / get_users_by_field: shapes, batching, duplicates, capabilities."""

from __future__ import annotations

from typing import Any

import pytest

from tests.moodle_emulator.harness import DEBUG_TOKEN, LEAST_PRIVILEGE, Emulator, MoodleError, student


def _create(moodle: Emulator, *users: dict[str, Any]) -> list[dict[str, Any]]:
    return list(moodle.call("core_user_create_users", {"users": list(users)}))


def test_create_users_in_one_batch_returns_ids_and_usernames_in_order(moodle: Emulator) -> None:
    created = _create(moodle, *(student(n) for n in range(50)))
    assert [c["username"] for c in created] == [f"student{n}" for n in range(50)]
    ids = [c["id"] for c in created]
    assert ids == sorted(ids) and len(set(ids)) == 50 and min(ids) > 5  # after guest, admin and the ws users
    assert moodle.counts() == {"core_user_create_users": 1}
    (call,) = moodle.calls()
    assert call["records"] == 50 and call["errorcode"] is None


def test_created_user_reads_back_by_every_field(moodle: Emulator) -> None:
    (created,) = _create(moodle, student(1, city="Beirut", country="LB", institution="ABC Horizon"))
    for field, value in (("id", created["id"]), ("idnumber", "STU-0001"), ("username", "student1"),
                         ("email", "student1@abchorizon.com")):
        (user,) = moodle.call("core_user_get_users_by_field", {"field": field, "values": [value]})
        assert user["id"] == created["id"]
    assert list(user) == ["id", "username", "firstname", "lastname", "fullname", "email", "department",
                          "institution", "idnumber", "firstaccess", "lastaccess", "auth", "suspended", "confirmed",
                          "lang", "theme", "timezone", "mailformat", "city", "country", "profileimageurlsmall",
                          "profileimageurl"]
    assert user["fullname"] == "First1 Last1" and user["suspended"] is False and user["auth"] == "manual"
    assert user["city"] == "Beirut" and user["country"] == "LB" and user["idnumber"] == "STU-0001"
    # Several values, answers ordered by id; unknown values are simply absent.
    (other,) = _create(moodle, student(2))
    found = moodle.call("core_user_get_users_by_field",
                        {"field": "idnumber", "values": ["STU-0002", "STU-0001", "STU-9999"]})
    assert [u["id"] for u in found] == [created["id"], other["id"]]
    assert moodle.call("core_user_get_users_by_field", {"field": "email", "values": ["STUDENT1@abchorizon.com"]}) == []
    # A description is returned once the account has one (NULL until then, as in a real Moodle 4.3).
    (described,) = _create(moodle, student(3, description="Evening cohort"))
    (user,) = moodle.call("core_user_get_users_by_field", {"field": "id", "values": [described["id"]]})
    assert (user["description"], user["descriptionformat"]) == ("Evening cohort", 1)


def test_get_users_by_field_rejects_fields_and_values_moodle_rejects(moodle: Emulator) -> None:
    err = moodle.error("core_user_get_users_by_field", {"field": "lastname", "values": ["x"]})
    assert err == {"exception": "coding_exception", "errorcode": "codingerror",
                   "message": "Coding error detected, it must be fixed by a programmer: invalid field parameter"}
    assert moodle.error("core_user_get_users_by_field", {"field": "username", "values": ["Lina"]})[
        "errorcode"] == "invalidparameter"
    assert moodle.error("core_user_get_users_by_field", {"field": "id", "values": ["12x"]})[
        "errorcode"] == "invalidparameter"
    # PHP compares the given and the cleaned value loosely: "06" is the number 6.
    (created,) = _create(moodle, student(1))
    assert [u["id"] for u in moodle.call("core_user_get_users_by_field",
                                         {"field": "id", "values": [f"0{created['id']}"]})] == [created["id"]]


@pytest.mark.parametrize(("change", "message"), [
    ({"username": "student1"}, "Username already exists: student1"),
    ({"email": "STUDENT1@Abchorizon.com"}, "Email address already exists: STUDENT1@Abchorizon.com"),
    ({"email": "not-an-address"}, "Email address is invalid: not-an-address"),
    ({"firstname": "  "}, "The field firstname cannot be blank"),
    ({"auth": "mnet"}, "Invalid authentication type: mnet"),
    ({"password": None}, "Invalid password: you must provide a password, or set createpassword."),
])
def test_a_bad_user_fails_the_whole_batch(moodle: Emulator, change: dict[str, object], message: str) -> None:
    _create(moodle, student(1))
    bad = {k: v for k, v in {**student(9), **change}.items() if v is not None}
    with pytest.raises(MoodleError) as caught:
        _create(moodle, student(2), bad, student(3))
    # A production site says no more than this; the reason is only in the debug info.
    assert (caught.value.exception, caught.value.errorcode, caught.value.message) == (
        "invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected")
    assert [u["username"] for u in moodle.table("users")][-1] == "student1"  # student2 was rolled back
    # The same on a site with developer debugging shows the reason.
    moodle.call("core_user_create_users", {"users": [student(1)]}, token=DEBUG_TOKEN)
    err = moodle.error("core_user_create_users", {"users": [student(2), bad]}, token=DEBUG_TOKEN)
    assert err["debuginfo"] == message and err["message"] == f"Invalid parameter value detected ({message})"
    assert [u["username"] for u in moodle.table("users", "debugsite")][-1] == "student1"


def test_duplicate_username_inside_one_batch_and_ids_not_reused_after_rollback(moodle: Emulator) -> None:
    with pytest.raises(MoodleError):
        _create(moodle, student(1), student(1, email="other@abchorizon.com"))
    assert moodle.call("core_user_get_users_by_field", {"field": "username", "values": ["student1"]}) == []
    (fresh,) = _create(moodle, student(1))
    assert fresh["id"] > 6  # the rolled-back rows used ids, as a database sequence does


def test_same_idnumber_twice_is_allowed_like_moodle(moodle: Emulator) -> None:
    _create(moodle, student(1), student(2, idnumber="STU-0001"))
    found = moodle.call("core_user_get_users_by_field", {"field": "idnumber", "values": ["STU-0001"]})
    assert [u["username"] for u in found] == ["student1", "student2"]


def test_password_policy_and_createpassword(moodle: Emulator) -> None:
    err = moodle.error("core_user_create_users", {"users": [student(1, password="short")]})
    assert err["exception"] == "moodle_exception"
    assert err["message"].startswith("error/<div>Passwords must be at least 8 characters long.</div>")
    (made,) = _create(moodle, {**student(2, createpassword=1), "password": ""})
    (oauth,) = _create(moodle, {k: v for k, v in student(3, auth="oauth2").items() if k != "password"})
    users = {u["id"]: u for u in moodle.table("users")}
    assert users[made["id"]]["has_password"] and users[oauth["id"]]["auth"] == "oauth2"


def test_update_users_reports_each_failure_as_a_warning_and_updates_the_rest(moodle: Emulator) -> None:
    a, b = _create(moodle, student(1), student(2))
    result = moodle.call("core_user_update_users", {"users": [
        {"id": a["id"], "firstname": "Lina", "suspended": 1},
        {"id": 999999, "firstname": "Ghost"},
        {"id": b["id"], "email": "student1@abchorizon.com"},
        {"id": b["id"], "username": "student1"},
        {"id": 2, "firstname": "Not admin"},
    ]})
    assert result == {"warnings": [
        {"item": "user", "itemid": 999999, "warningcode": "invaliduserid", "message": "Invalid user ID"},
        {"item": "user", "itemid": b["id"], "warningcode": "useremailduplicate", "message": "Duplicate address"},
        {"item": "user", "itemid": b["id"], "warningcode": "dmlwriteexception",
         "message": "Error writing to database"},
        {"item": "user", "itemid": 2, "warningcode": "usernotupdatedadmin", "message": "Cannot update admin accounts"},
    ]}
    (lina,) = moodle.call("core_user_get_users_by_field", {"field": "id", "values": [a["id"]]})
    assert lina["firstname"] == "Lina" and lina["suspended"] is True
    assert moodle.call("core_user_update_users", {"users": [{"id": b["id"], "idnumber": "STU-0099"}]}) == {
        "warnings": []}


def test_least_privilege_token_gets_nopermissions(moodle: Emulator) -> None:
    err = moodle.error("core_user_create_users", {"users": [student(1)]}, token=LEAST_PRIVILEGE)
    assert err == {"exception": "required_capability_exception", "errorcode": "nopermissions",
                   "message": "Sorry, but you do not currently have permissions to do that (Create users)."}
    # It may still read, but sees less (as a real Moodle 4.3 showed): without moodle/user:viewalldetails no
    # username, idnumber or auth; without moodle/site:viewuseridentity no e-mail; without moodle/site:viewfullnames
    # only the full name. A search by a field the token cannot see finds nothing.
    (created,) = _create(moodle, student(1))
    (seen,) = moodle.call("core_user_get_users_by_field", {"field": "id", "values": [created["id"]]},
                          token=LEAST_PRIVILEGE)
    assert seen["fullname"] == "First1 Last1"
    assert not {"username", "idnumber", "auth", "email", "firstname", "lastname"} & set(seen)
    for field, value in (("username", "student1"), ("email", "student1@abchorizon.com"), ("idnumber", "STU-0001")):
        assert moodle.call("core_user_get_users_by_field", {"field": field, "values": [value]},
                           token=LEAST_PRIVILEGE) == []
