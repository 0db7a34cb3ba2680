"""Reading a request body within its size limit, without changing a byte of it."""

from __future__ import annotations

from starlette.requests import Request

from schemas.bodies import BodyError


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(f"body over {limit} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(f"body over {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)
