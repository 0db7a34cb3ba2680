"""Raw body bytes → a JSON value: the one reading of JSON and form-urlencoded bodies.

The ingress reads a body with it to find the record key, the streams to parse the record,
the operator's retry to re-key it: all three see the same value for the same bytes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


class BodyError(ValueError):
    """`status` is the HTTP answer the ingress gives for it: 400 undecodable, 415 unsupported type."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


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


def decode_object(body: bytes, content_type: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A body that must be a JSON object (or a form) of one of the `allowed` media types."""
    mtype = media_type(content_type)
    if mtype not in allowed and not (JSON in allowed and mtype.endswith("+json")):
        raise BodyError(f"unsupported content type {mtype or '(none)'}; use one of: {', '.join(allowed)}", 415)
    value = decode_body(body, content_type)
    if not isinstance(value, dict):
        raise BodyError("expected a JSON object")
    return value
