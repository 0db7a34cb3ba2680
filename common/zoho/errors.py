"""Typed failures of the Zoho client. Per-record errors are results, not exceptions (see results.py)."""

from __future__ import annotations

from typing import Any


class ZohoError(Exception):
    """Base of everything the client raises."""


class ZohoAuthError(ZohoError):
    """No usable access token: bad credentials, revoked refresh token, or the refresh limit reached."""

    def __init__(self, message: str, *, code: str | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


class ZohoRequestError(ZohoError):
    """A request-level error that retrying the same request cannot fix (INVALID_MODULE, LIMIT_EXCEEDED, ...)."""

    def __init__(self, status: int, code: str | None, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class ZohoRetriesExhausted(ZohoError):
    """Rate limits, server errors or timeouts persisted through every allowed attempt."""

    def __init__(self, operation: str, attempts: int, reason: str, status: int | None, code: str | None) -> None:
        super().__init__(f"{operation}: gave up after {attempts} attempts ({reason}, last status {status}, {code})")
        self.operation = operation
        self.attempts = attempts
        self.reason = reason
        self.status = status
        self.code = code
