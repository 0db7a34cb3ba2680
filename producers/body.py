"""Reading and checking request bodies without changing a byte of them."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_object(body: bytes, mtype: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Parse enough of the body to find its key; the stored bytes stay the request's own."""
    if mtype not in allowed and not (JSON in allowed and mtype.endswith("+json")):
        raise BodyError(415, f"unsupported content type {mtype or '(none)'}; use one of: {', '.join(allowed)}")
    if mtype == FORM:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BodyError(400, f"malformed form body: {exc}") from None
        form: dict[str, Any] = dict(pairs)
        # Zoho Functions may post a JSON document in a form field called `data`.
        if isinstance(form.get("data"), str) and form["data"][:1] in ("{", "["):
            with contextlib.suppress(orjson.JSONDecodeError):
                form["data"] = orjson.loads(form["data"])
        return form
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"malformed JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise BodyError(400, "expected a JSON object")
    return parsed
