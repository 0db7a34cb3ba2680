"""Raw body bytes → a JSON value, for JSON and form-urlencoded bodies."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

FORM = "application/x-www-form-urlencoded"


class BodyError(ValueError):
    pass


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _maybe_json(value: str) -> Any:
    # Zoho Functions post `data` (and sometimes lookups or subforms) as JSON inside a form field.
    if value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def decode_body(body: bytes, content_type: str) -> Any:
    """JSON unless the content type says form; anything undecodable raises BodyError."""
    if media_type(content_type) == FORM:
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise BodyError(f"malformed form body: {exc}") from None
        return {key: _maybe_json(value) for key, value in pairs}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"malformed JSON: {exc}") from None
