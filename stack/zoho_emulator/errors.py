"""Zoho's response envelopes: request-level error objects and per-record result items."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class ZohoError(Exception):
    """A request-level error: one top-level object (or, on write calls, the only item of `data`)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}

    def response(self, wrapped: bool = False) -> JSONResponse:
        """`wrapped`: inside `data[]`, the way write calls answer a request-level 400."""
        return JSONResponse({"data": [self.body()]} if wrapped else self.body(), status_code=self.status)


class RecordError(Exception):
    """A per-record error, reported in that record's slot of `data`."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def item(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def invalid_data(api_name: str, json_path: str, message: str = "invalid data", **extra: Any) -> RecordError:
    return RecordError("INVALID_DATA", message, {"api_name": api_name, "json_path": json_path, **extra})


def invalid_url() -> ZohoError:
    return ZohoError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")


def invalid_module() -> ZohoError:
    return ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0})


def param_missing(param: str) -> ZohoError:
    return ZohoError(400, "REQUIRED_PARAM_MISSING", "required param is missing", {"param_name": param})


def too_many_requests(message: str) -> ZohoError:
    return ZohoError(429, "TOO_MANY_REQUESTS", message)


def success_item(message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"code": "SUCCESS", "details": details, "message": message, "status": "success"}


def batch_status(items: list[dict[str, Any]], all_ok: int) -> int:
    """201/200 when every record succeeded, 207 when some did, 400 when none did."""
    ok = sum(1 for item in items if item.get("status") == "success")
    if ok == len(items):
        return all_ok
    return 207 if ok else 400
