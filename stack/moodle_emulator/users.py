"""core_user_create_users, core_user_update_users, core_user_get_users_by_field (Moodle 4.3 user/externallib.php)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from stack.moodle_emulator.context import Call, validate_email
from stack.moodle_emulator.errors import MoodleException, coding_error, invalid_parameter
from stack.moodle_emulator.events import user_event
from stack.moodle_emulator.store import User
from stack.moodle_emulator.validation import (
    ALPHA,
    ALPHANUMEXT,
    AUTH,
    AUTH_PLUGINS,
    BOOL,
    DEFAULT,
    INT,
    LANG,
    LANGS,
    NOTAGS,
    OPTIONAL,
    PLUGIN,
    RAW,
    RAW_TRIMMED,
    TEXT,
    THEME,
    THEMES,
    TIMEZONE,
    USERNAME,
    Multiple,
    Single,
    Value,
    clean,
)

# Auth plugins that keep the password in Moodle (`is_internal()`): they need a password or createpassword.
INTERNAL_AUTH = frozenset({"manual", "email", "none"})
# Only an administrator may update these accounts (guest, admin).
GUEST_ID, ADMIN_ID = 1, 2

_PAIRS = Multiple(Single({"type": Value(ALPHANUMEXT), "value": Value(RAW)}), OPTIONAL)
_PREFS = Multiple(Single({"type": Value(RAW), "value": Value(RAW)}), OPTIONAL)
# Optional profile fields both functions take, with their core_user property types.
_PROFILE: dict[str, Value] = {
    "maildisplay": Value(INT, OPTIONAL), "city": Value(TEXT, OPTIONAL), "country": Value(ALPHA, OPTIONAL),
    "timezone": Value(TIMEZONE, OPTIONAL), "description": Value(RAW, OPTIONAL),
    "firstnamephonetic": Value(NOTAGS, OPTIONAL), "lastnamephonetic": Value(NOTAGS, OPTIONAL),
    "middlename": Value(NOTAGS, OPTIONAL), "alternatename": Value(NOTAGS, OPTIONAL),
    "interests": Value(TEXT, OPTIONAL),
}
_MORE: dict[str, Value] = {
    "institution": Value(TEXT, OPTIONAL), "department": Value(TEXT, OPTIONAL), "phone1": Value(NOTAGS, OPTIONAL),
    "phone2": Value(NOTAGS, OPTIONAL), "address": Value(TEXT, OPTIONAL),
}

CREATE_USERS = Single({"users": Multiple(Single({
    "createpassword": Value(BOOL, OPTIONAL),
    "username": Value(USERNAME),
    "auth": Value(AUTH, DEFAULT, "manual"),
    "password": Value(RAW, OPTIONAL),
    "firstname": Value(NOTAGS),
    "lastname": Value(NOTAGS),
    "email": Value(RAW_TRIMMED),
    **_PROFILE,
    "idnumber": Value(RAW, DEFAULT, ""),
    **_MORE,
    "lang": Value(LANG, DEFAULT, "en"),
    "calendartype": Value(PLUGIN, DEFAULT, "gregorian"),
    "theme": Value(THEME, OPTIONAL),
    "mailformat": Value(INT, OPTIONAL),
    "customfields": _PAIRS,
    "preferences": _PREFS,
}))})

UPDATE_USERS = Single({"users": Multiple(Single({
    "id": Value(INT),
    "username": Value(USERNAME, OPTIONAL),
    "auth": Value(AUTH, OPTIONAL),
    "suspended": Value(BOOL, OPTIONAL),
    "password": Value(RAW, OPTIONAL),
    "firstname": Value(NOTAGS, OPTIONAL),
    "lastname": Value(NOTAGS, OPTIONAL),
    "email": Value(RAW_TRIMMED, OPTIONAL),
    **_PROFILE,
    "userpicture": Value(INT, OPTIONAL),
    "idnumber": Value(RAW, OPTIONAL),
    **_MORE,
    "lang": Value(LANG, OPTIONAL),
    "calendartype": Value(PLUGIN, OPTIONAL),
    "theme": Value(THEME, OPTIONAL),
    "mailformat": Value(INT, OPTIONAL),
    "customfields": _PAIRS,
    "preferences": _PREFS,
}))})

GET_USERS_BY_FIELD = Single({"field": Value(ALPHA), "values": Multiple(Value(RAW))})

# Columns of the user table a call may set (the rest of the description is stored elsewhere in Moodle).
_COLUMNS = {f.name for f in dataclasses.fields(User)} - {"id", "has_password", "timecreated", "timemodified"}


def _password_problems(password: str) -> str:
    """check_password_policy() with Moodle's default policy; '' when the password passes."""
    checks = [
        (len(password) < 8, "Passwords must be at least 8 characters long."),
        (len(re.findall(r"\d", password)) < 1, "Passwords must have at least 1 digit(s)."),
        (sum(c.islower() for c in password) < 1, "Passwords must have at least 1 lower case letter(s)."),
        (sum(c.isupper() for c in password) < 1, "Passwords must have at least 1 upper case letter(s)."),
        (sum(not (c.isalnum()) for c in password) < 1,
         "The password must have at least 1 special character(s) such as *, -, or #."),
    ]
    return "".join(f"<div>{message}</div>" for failed, message in checks if failed)


def _check_password(call: Call, password: str) -> None:
    if not call.config.passwordpolicy:
        return
    problems = _password_problems(password)
    if problems:
        # moodle_exception($errmsg): the HTML is the error code, which has no string, so the message is error/…
        raise MoodleException(problems, f"error/{problems}")


def create_users(call: Call, params: dict[str, Any]) -> list[dict[str, Any]]:
    call.require("moodle/user:create")
    store = call.store
    created: list[dict[str, Any]] = []
    with store.transaction():
        for u in params["users"]:
            for name in ("username", "firstname", "lastname"):
                if u[name].strip() == "":
                    raise invalid_parameter(f"The field {name} cannot be blank")
            if store.user_by_username(u["username"]) is not None:
                raise invalid_parameter(f"Username already exists: {u['username']}")
            if u["auth"] not in AUTH_PLUGINS - {"mnet", "webservice"}:
                raise invalid_parameter(f"Invalid authentication type: {u['auth']}")
            if u["lang"] not in LANGS:
                raise invalid_parameter(f"Invalid language code: {u['lang']}")
            if u.get("theme") and u["theme"] not in THEMES:
                raise invalid_parameter(f"Invalid theme: {u['theme']}")
            internal = u["auth"] in INTERNAL_AUTH
            if internal and not u.get("password") and not u.get("createpassword"):
                raise invalid_parameter("Invalid password: you must provide a password, or set createpassword.")
            if not validate_email(u["email"]):
                raise invalid_parameter(f"Email address is invalid: {u['email']}")
            if not call.config.allowaccountssameemail and store.email_taken(u["email"]):
                raise invalid_parameter(f"Email address already exists: {u['email']}")
            if internal and not u.get("createpassword") and "password" in u:
                _check_password(call, u["password"])
            fields = {k: v for k, v in u.items() if k in _COLUMNS}
            user = store.add_user(**fields, has_password=internal, timecreated=call.now, timemodified=call.now)
            user_event(store, "user_created", user.id, call.now)
            created.append({"id": user.id, "username": user.username})
    return created


def _update_one(call: Call, u: dict[str, Any]) -> None:
    store = call.store
    existing = store.users.get(u["id"])
    if existing is None:
        raise MoodleException("invaliduserid", "Invalid user ID", debuginfo="Invalid user ID")
    if existing.id == ADMIN_ID and call.user.id != ADMIN_ID:
        raise MoodleException("usernotupdatedadmin", "Cannot update admin accounts",
                              debuginfo="Cannot update admin accounts")
    if existing.id == GUEST_ID:
        raise MoodleException("usernotupdatedguest", "error/usernotupdatedguest",
                              debuginfo="Cannot update guest account")
    if "email" in u and u["email"] != existing.email:
        if not validate_email(u["email"]):
            raise MoodleException("useremailinvalid", "error/useremailinvalid", debuginfo="Invalid email address")
        if not call.config.allowaccountssameemail and store.email_taken(u["email"], except_id=existing.id):
            raise MoodleException("useremailduplicate", "Duplicate address", debuginfo="Duplicate email address")
    if "password" in u:
        _check_password(call, u["password"])
    if "username" in u and u["username"] != existing.username and store.user_by_username(u["username"]):
        # No check in PHP: the unique index on (mnethostid, username) refuses the UPDATE.
        raise MoodleException("dmlwriteexception", "Error writing to database", exception="dml_write_exception",
                              debuginfo="duplicate key value violates unique constraint \"mdl_user_mneuse_uix\"")
    # An empty calendartype is ignored, as user_update_user() unsets it.
    changes = {k: v for k, v in u.items() if k in _COLUMNS and (k != "calendartype" or v)}
    store.save_user(dataclasses.replace(existing, **changes, timemodified=call.now))
    user_event(store, "user_updated", existing.id, call.now)


def update_users(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.require("moodle/user:update")
    warnings: list[dict[str, Any]] = []
    for u in params["users"]:
        # Each user in its own transaction; a failure becomes a warning and the next user is still updated.
        try:
            with call.store.transaction():
                _update_one(call, u)
        except MoodleException as exc:
            warnings.append({"item": "user", "itemid": u["id"], "warningcode": exc.errorcode,
                             "message": exc.message_for(call.debug)})
    return {"warnings": warnings}


def user_details(call: Call, user: User) -> dict[str, Any]:
    """user_get_user_details() as the web-service user sees it (a role at system level, not an administrator),
    keys in the order of the return description. What each field needs was seen on a real Moodle 4.3
    (`make moodle-check`): first and last name `moodle/site:viewfullnames`; the e-mail `moodle/site:viewuseridentity`
    (e-mail is the default identity field) unless the user shows it to everyone; username, idnumber, department,
    institution, auth, confirmed, lang, theme, mailformat `moodle/user:viewalldetails`."""
    out: dict[str, Any] = {"id": user.id}
    full = call.has("moodle/user:viewalldetails")
    if full:
        out["username"] = user.username
    if call.has("moodle/site:viewfullnames"):
        out.update(firstname=user.firstname, lastname=user.lastname)
    out["fullname"] = f"{user.firstname} {user.lastname}"
    if call.has("moodle/site:viewuseridentity") or user.maildisplay == 1:
        out["email"] = user.email
    for name in ("address", "phone1", "phone2"):
        if getattr(user, name):
            out[name] = getattr(user, name)
    if full:
        out["department"] = user.department
        if user.institution:
            out["institution"] = user.institution
        if user.idnumber:
            out["idnumber"] = user.idnumber
    out.update(firstaccess=0, lastaccess=0)
    if full:
        out["auth"] = user.auth
    out["suspended"] = user.suspended
    if full:
        out.update(confirmed=user.confirmed, lang=user.lang, theme=user.theme)
    if user.timezone:
        out["timezone"] = user.timezone
    if full:
        out["mailformat"] = user.mailformat
    if user.description is not None:
        # NULL until someone sets it (accounts made through the web services without one, too): left out.
        out.update(description=user.description, descriptionformat=1)
    if user.city:
        out["city"] = user.city
    if user.country:
        out["country"] = user.country
    image = f"{call.config.wwwroot}/theme/image.php/boost/core/1700000000/u"
    out.update(profileimageurlsmall=f"{image}/f2", profileimageurl=f"{image}/f1")
    return out


_FIELD_TYPES = {"id": INT, "idnumber": RAW, "username": USERNAME, "email": RAW_TRIMMED}


def _loosely_equal(given: str, cleaned: Any) -> bool:
    """PHP 8's `==` between the given string and the cleaned value: a numeric string equals the number."""
    if isinstance(cleaned, int):
        if "_" in given:  # Python reads 1_000 as a number, PHP does not
            return False
        try:
            return float(given.strip(" \t\n\r\v\f")) == cleaned
        except ValueError:
            return False
    return given == cleaned


def get_users_by_field(call: Call, params: dict[str, Any]) -> list[dict[str, Any]]:
    field = params["field"]
    if field not in _FIELD_TYPES:
        raise coding_error("invalid field parameter",
                           f"The search field '{field}' is not supported, look at the web service documentation")
    wanted: list[Any] = []
    for value in params["values"]:
        cleaned = clean(value, _FIELD_TYPES[field])
        if not _loosely_equal(value, cleaned):
            raise invalid_parameter(f"The field '{field}' value is invalid: {value}(cleaned value: {cleaned})")
        wanted.append(cleaned)
    if not call.has("moodle/user:viewdetails"):
        return []
    found = sorted((u for u in call.store.users.values() if getattr(u, field) in wanted), key=lambda u: u.id)
    out = []
    for user in found:
        details = user_details(call, user)
        # Moodle returns a user only when the searched field is in what the caller may see.
        if details.get(field):
            out.append(details)
    return out
