"""Validation failures as per-field errors a registrar can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.deadletter import FieldError

M = TypeVar("M", bound=BaseModel)

_VALUE_LIMIT = 200
_PREFIX = "Value error, "


def render(value: Any) -> str | None:
    """A short, always-encodable rendering of an offending value."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = f"<{type(value).__name__}>"
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 3] + "..."


def _field_name(loc: tuple[int | str, ...], sources: Mapping[str, str], sub_sources: Mapping[str, str]) -> str:
    if not loc:
        return "(record)"
    head = sources.get(str(loc[0]), str(loc[0]))
    rest = "".join(f"[{part}]" if isinstance(part, int) else "." + sub_sources.get(part, part) for part in loc[1:])
    return head + rest


def validate(
    model: type[M],
    values: dict[str, Any],
    sources: Mapping[str, str],
    sub_sources: Mapping[str, str] | None = None,
) -> tuple[M | None, list[FieldError]]:
    try:
        return model.model_validate(values), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            value = err.get("input")
            missing = err["type"] == "missing" or value is None
            message = "is required" if missing else err["msg"].removeprefix(_PREFIX)
            field = _field_name(tuple(err["loc"]), sources, sub_sources or {})
            errors.append(FieldError(field, message, None if missing else render(value)))
        return None, errors
