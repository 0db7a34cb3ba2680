"""Moodle's external API parameter descriptions and `validate_parameters()`, with the PARAM_* cleaners they use.

A value is valid when cleaning it changes nothing (`validate_param`); errors nest the way Moodle builds them:
`users => Invalid parameter value detected: username => Invalid parameter value detected: Invalid external api
parameter: the value is "Ann", the server was expecting "username" type`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stack.moodle_emulator.errors import MoodleException, invalid_parameter

# VALUE_REQUIRED / VALUE_OPTIONAL / VALUE_DEFAULT
REQUIRED, OPTIONAL, DEFAULT = 1, 2, 0

INT, BOOL, RAW, RAW_TRIMMED, TEXT, NOTAGS = "int", "bool", "raw", "raw_trimmed", "text", "notags"
USERNAME, ALPHA, ALPHANUMEXT, AUTH, PLUGIN = "username", "alpha", "alphanumext", "auth", "plugin"
LANG, THEME, TIMEZONE, SAFEDIR, SEQUENCE = "lang", "theme", "timezone", "safedir", "sequence"

# What a default 4.3 install has: `exists_auth_plugin()`, installed language packs and themes.
AUTH_PLUGINS = frozenset({"cas", "db", "email", "ldap", "lti", "manual", "mnet", "nologin", "none", "oauth2",
                          "shibboleth", "webservice"})
LANGS = frozenset({"en"})
THEMES = frozenset({"boost", "classic"})

_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_PLUGIN = re.compile(r"[a-z](?:[a-z0-9_](?!__))*[a-z0-9]+")
_TAG = re.compile(r"<[^>]*>")
_PHP_TRIM = " \t\n\r\0\x0b"


@dataclass(frozen=True)
class Value:
    type: str
    required: int = REQUIRED
    default: Any = None
    allow_null: bool = False


@dataclass(frozen=True)
class Single:
    keys: dict[str, Desc]
    required: int = REQUIRED
    default: Any = None


@dataclass(frozen=True)
class Multiple:
    content: Desc
    required: int = REQUIRED
    default: Any = field(default=None)


Desc = Value | Single | Multiple


def php_string(value: Any) -> str:
    """PHP's string conversion: true → "1", false/null → ""."""
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    return str(value)


def _strip_tags(text: str) -> str:
    # PHP's strip_tags also drops an unterminated tag to the end of the text.
    return re.sub(r"<[^>]*(>|$)", "", text)


def clean(value: Any, ptype: str) -> Any:
    """`clean_param()` for the types the emulated functions use."""
    text = php_string(value)
    if ptype == INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        m = re.match(r"[ \t\n\r\v\f]*[+-]?[0-9]+", text)
        return int(m.group(0)) if m else 0
    if ptype == BOOL:
        low = text.lower()
        if low in ("on", "yes", "true"):
            return 1
        if low in ("off", "no", "false"):
            return 0
        return 0 if text in ("", "0") else 1
    if ptype == RAW:
        return text
    if ptype == RAW_TRIMMED:
        return text.strip(_PHP_TRIM)
    if ptype == TEXT:
        return _strip_tags(text)
    if ptype == NOTAGS:
        return _TAG.sub("", text)
    if ptype == USERNAME:
        # Without $CFG->extendedusernamechars: lower case letters, digits and - . @ _ only.
        return re.sub(r"[^-.@_a-z0-9]", "", text.strip(_PHP_TRIM).lower().replace(" ", ""))
    if ptype == ALPHA:
        return re.sub(r"[^a-zA-Z]", "", text)
    if ptype in (ALPHANUMEXT, SAFEDIR):
        return re.sub(r"[^a-zA-Z0-9_-]", "", text)
    if ptype == SEQUENCE:
        return re.sub(r"[^0-9,]", "", text)
    if ptype == PLUGIN:
        return text if _PLUGIN.fullmatch(text) and "__" not in text else ""
    if ptype == AUTH:
        return text if clean(text, PLUGIN) and text in AUTH_PLUGINS else ""
    if ptype == LANG:
        return text if text in LANGS else ""
    if ptype == THEME:
        return text if text in THEMES else ""
    if ptype == TIMEZONE:
        return text if re.fullmatch(r"[A-Za-z0-9_/+.-]+", text) else ""
    raise ValueError(f"no cleaner for PARAM type {ptype!r}")


def validate_param(value: Any, ptype: str, debuginfo: str) -> Any:
    if isinstance(value, dict):
        raise invalid_parameter(debuginfo)
    cleaned = clean(value, ptype)
    if ptype == INT:
        text = php_string(value)
        if not (isinstance(value, int) or (_INT.fullmatch(text) and text != "-0")) or not -2**63 <= cleaned < 2**63:
            raise invalid_parameter(debuginfo)
        return cleaned
    if php_string(cleaned) != php_string(value):
        raise invalid_parameter(debuginfo)
    return cleaned


def validate(desc: Desc, params: Any, debug: bool = False) -> Any:
    """`external_api::validate_parameters()`; `debug` is the site's developer debugging (it changes messages)."""
    if params is None and isinstance(desc, Value) and desc.allow_null:
        return None
    if isinstance(desc, Value):
        if isinstance(params, dict):
            raise invalid_parameter("Scalar type expected, array or object received.")
        if desc.type == BOOL and (isinstance(params, bool) or params in (0, 1, "0", "1")):
            return bool(int(params))
        debuginfo = (f'Invalid external api parameter: the value is "{php_string(params)}", '
                     f'the server was expecting "{desc.type}" type')
        return validate_param(params, desc.type, debuginfo)
    if isinstance(desc, Single):
        if not isinstance(params, dict):
            raise invalid_parameter(f"Only arrays accepted. The bad value is: '{php_string(params)}'")
        result: dict[str, Any] = {}
        rest = dict(params)
        for key, sub in desc.keys.items():
            if key not in rest:
                if sub.required == REQUIRED:
                    raise invalid_parameter(f"Missing required key in single structure: {key}")
                if sub.required == DEFAULT:
                    result[key] = _nested(key, sub, sub.default, debug)
            else:
                result[key] = _nested(key, sub, rest[key], debug)
            rest.pop(key, None)
        if rest:
            raise invalid_parameter(f"Unexpected keys ({', '.join(rest)}) detected in parameter array.")
        return result
    if not isinstance(params, (dict, list)):
        raise invalid_parameter(f"Only arrays accepted. The bad value is: '{php_string(params)}'")
    items = params.values() if isinstance(params, dict) else params
    return [validate(desc.content, item, debug) for item in items]


def _nested(key: str, desc: Desc, value: Any, debug: bool) -> Any:
    try:
        return validate(desc, value, debug)
    except MoodleException as exc:
        if exc.errorcode != "invalidparameter":
            raise
        raise invalid_parameter(f"{key} => {exc.message_for(debug)}: {exc.debuginfo}") from None
