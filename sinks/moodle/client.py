"""A typed client of Moodle's REST web services (`webservice/rest/server.php`, JSON answers).

Moodle answers its own errors with HTTP 200 and `{"exception", "errorcode", "message"}`: those raise
`MoodleException` (never retried: the same call fails the same way), or `MoodleRefused` when the token or its
capabilities are the problem (no record can be written until an administrator acts). The web server's failures
(5xx, timeouts, refused connections) are retried a capped number of times with exponential backoff, then raise
`MoodleUnavailable`, which the sink treats as an outage: nothing is committed and the batch is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from prometheus_client import Counter, Histogram

log = logging.getLogger("moodle_sink.client")

CALLS = Counter("moodle_sink_calls_total", "Web-service calls by function and outcome", ["tenant", "wsfunction",
                                                                                             "outcome"])
CALL_SECONDS = Histogram("moodle_sink_call_seconds", "Web-service call time", ["wsfunction"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

# Errors no retry can cure until the site's administrator changes the token, its service or its role.
REFUSAL_CODES = frozenset({"invalidtoken", "accessexception", "nopermissions", "servicerequireslogin",
                           "usernotfullysetup", "forbiddenwsuser"})
REFUSAL_EXCEPTIONS = frozenset({"webservice_access_exception", "required_capability_exception"})


class MoodleError(Exception):
    """Any failure of a web-service call."""


class MoodleException(MoodleError):
    """Moodle's own answer `{"exception", "errorcode", "message"}`: the call did nothing (or, for the update
    functions, see their warnings)."""

    def __init__(self, wsfunction: str, exception: str, errorcode: str, message: str) -> None:
        super().__init__(f"{wsfunction}: {exception} {errorcode}: {message}")
        self.wsfunction = wsfunction
        self.exception = exception
        self.errorcode = errorcode
        self.message = message


class MoodleRefused(MoodleException):
    """The token is unknown, not allowed the function, or its user lacks a capability."""


class MoodleUnavailable(MoodleError):
    """The site did not answer (after the retries): an outage, not a verdict on the records."""


def php_pairs(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Moodle's REST encoding of nested parameters: `users[0][username]=…`; booleans as 1/0, None left out."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, dict):
            out += php_pairs(value, name)
        elif isinstance(value, list | tuple):
            out += php_pairs({str(i): v for i, v in enumerate(value)}, name)
        elif isinstance(value, bool):
            out.append((name, "1" if value else "0"))
        else:
            out.append((name, str(value)))
    return out


class MoodleClient:
    def __init__(self, tenant: str, url: str, token: str, http: httpx.AsyncClient, *, attempts: int = 4,
                 backoff_base_s: float = 0.5, backoff_cap_s: float = 10.0) -> None:
        self.tenant = tenant
        self.endpoint = url.rstrip("/") + "/webservice/rest/server.php"
        self._token = token
        self._http = http
        self.attempts = attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        # Calls that create or change something, for the benchmark and the tests' call budgets.
        self.writes = 0

    async def call(self, wsfunction: str, params: dict[str, Any] | None = None) -> Any:
        data = [("wstoken", self._token), ("wsfunction", wsfunction), ("moodlewsrestformat", "json"),
                *php_pairs(params or {})]
        for attempt in range(1, self.attempts + 1):
            started = time.monotonic()
            try:
                resp = await self._http.post(self.endpoint, data=dict(data))
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 500:
                    break
                problem = f"HTTP {resp.status_code}"
            finally:
                CALL_SECONDS.labels(wsfunction=wsfunction).observe(time.monotonic() - started)
            CALLS.labels(tenant=self.tenant, wsfunction=wsfunction, outcome="retried").inc()
            if attempt == self.attempts:
                CALLS.labels(tenant=self.tenant, wsfunction=wsfunction, outcome="unavailable").inc()
                raise MoodleUnavailable(f"{wsfunction}: {problem} after {attempt} attempts")
            pause = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
            log.warning("moodle call failed, retrying", extra={"tenant": self.tenant, "wsfunction": wsfunction,
                                                               "error": problem, "attempt": attempt})
            await asyncio.sleep(pause)
        if resp.status_code != 200:
            CALLS.labels(tenant=self.tenant, wsfunction=wsfunction, outcome="http_error").inc()
            raise MoodleUnavailable(f"{wsfunction}: HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            # A PHP warning or an HTML page in front of the JSON: the server is broken, not the records.
            CALLS.labels(tenant=self.tenant, wsfunction=wsfunction, outcome="unreadable").inc()
            raise MoodleUnavailable(f"{wsfunction}: unreadable answer ({exc})") from exc
        if isinstance(body, dict) and "exception" in body:
            exception, code = str(body.get("exception")), str(body.get("errorcode"))
            message = str(body.get("message"))
            CALLS.labels(tenant=self.tenant, wsfunction=wsfunction, outcome=code).inc()
            if code in REFUSAL_CODES or exception in REFUSAL_EXCEPTIONS:
                raise MoodleRefused(wsfunction, exception, code, message)
            raise MoodleException(wsfunction, exception, code, message)
        CALLS.labels(tenant=self.tenant, wsfunction=wsfunction, outcome="ok").inc()
        if not wsfunction.startswith(("core_user_get", "core_course_get", "core_enrol_get", "core_webservice")):
            self.writes += 1
        return body
