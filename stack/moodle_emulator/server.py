"""`/webservice/rest/server.php`: Moodle's REST protocol server with token authentication.

The steps are Moodle's, in its order: read the request (GET and POST merged, POST winning), authenticate the
token, find the function and check that the token's service holds it, validate the parameters against the
function's description, run it, answer in JSON or XML. Every Moodle error is HTTP 200 with the exception object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from fastapi import Request, Response

from stack.moodle_emulator.context import Call
from stack.moodle_emulator.emulator import Emulator
from stack.moodle_emulator.errors import (
    MoodleException,
    function_not_allowed,
    invalid_parameter,
    invalid_token,
    missing_record,
    write_failed,
)
from stack.moodle_emulator.functions import FUNCTIONS
from stack.moodle_emulator.params import merged
from stack.moodle_emulator.validation import php_string, validate

log = logging.getLogger("moodle_emulator")

DEFAULT_MAX_INPUT_VARS = 5000
# Request settings the server takes out before the function's parameters are validated.
_SETTINGS = ("moodlewssettingfilter", "moodlewssettingfileurl", "moodlewssettingraw", "moodlewssettinglang",
             "moodlewssettingtimezone")
_UNAVAILABLE = ("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>503 Service Unavailable"
                "</title>\n</head><body>\n<h1>Service Unavailable</h1>\n<p>The server is temporarily unable to service "
                "your request due to maintenance downtime or capacity problems. Please try again later.</p>\n"
                "</body></html>\n")


def php_json(value: Any) -> str:
    """PHP's json_encode(): compact, non-ASCII as \\uXXXX, slashes escaped."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def _xml_value(value: Any) -> str:
    if isinstance(value, dict):
        keys = "".join(f"<KEY name={quoteattr(str(k))}>{_xml_value(v)}</KEY>\n" for k, v in value.items())
        return f"<SINGLE>\n{keys}</SINGLE>\n"
    if isinstance(value, list):
        return "<MULTIPLE>\n" + "".join(_xml_value(v) for v in value) + "</MULTIPLE>\n"
    if value is None:
        return '<VALUE null="null"/>'
    return f"<VALUE>{escape(php_string(value))}</VALUE>\n"


def _answer(body: Any, as_json: bool) -> Response:
    headers = {"Cache-Control": "private, must-revalidate, pre-check=0, post-check=0, max-age=0",
               "Access-Control-Allow-Origin": "*"}
    if as_json:
        return Response(php_json(body), media_type="application/json", headers=headers)
    xml = '<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n' + _xml_value(body) + "</RESPONSE>\n"
    return Response(xml, media_type="application/xml; charset=utf-8", headers=headers)


def _error_answer(exc: MoodleException, debug: bool, as_json: bool) -> Response:
    if as_json:
        return _answer(exc.body(debug), True)
    debuginfo = f"<DEBUGINFO>{escape(exc.debuginfo)}</DEBUGINFO>\n" if debug and exc.debuginfo else ""
    xml = (f'<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class={quoteattr(exc.exception)}>\n'
           f"<ERRORCODE>{escape(exc.errorcode)}</ERRORCODE>\n<MESSAGE>{escape(exc.message_for(debug))}</MESSAGE>\n"
           f"{debuginfo}</EXCEPTION>\n")
    return Response(xml, media_type="application/xml; charset=utf-8")


async def handle(emulator: Emulator, request: Request) -> Response:
    query = list(request.query_params.multi_items())
    form: list[tuple[str, str]] = []
    if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        form = parse_qsl((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    # PHP applies max_input_vars while reading the request; the site is known from the token in it.
    given_token = next((v for k, v in reversed(query + form) if k == "wstoken"), None)  # POST wins
    known = emulator.tokens.get(given_token or "")
    limit = known[0].config.max_input_vars if known else DEFAULT_MAX_INPUT_VARS
    params = merged(query, form, limit)
    as_json = params.get("moodlewsrestformat") == "json"
    token, function = params.pop("wstoken", None), params.pop("wsfunction", None)
    for key in ("moodlewsrestformat", *_SETTINGS):
        params.pop(key, None)
    function_name = function if isinstance(function, str) else None

    fault = emulator.next_fault()
    if emulator.faults.latency_ms:
        await asyncio.sleep(emulator.faults.latency_ms / 1000)
    tenant = known[0].config.tenant if known else None
    if fault in ("timeout", "503"):
        # Logged on arrival, so the log keeps the order in which calls came in.
        emulator.calls.add(at=time.time(), tenant=tenant, wsfunction=function_name, status=None if fault == "timeout"
                           else 503, exception=None, errorcode=None, records=0, fault=fault)
        emulator.metrics.calls.labels(wsfunction=emulator.calls.label(function_name), outcome=fault).inc()
        if fault == "timeout":
            await asyncio.sleep(emulator.faults.timeout_s)
        return Response(_UNAVAILABLE, status_code=503 if fault == "503" else 504, media_type="text/html")

    debug = known[0].config.debug if known else False
    records = 0
    try:
        found = emulator.tokens.get(token) if isinstance(token, str) else None
        if found is None:
            raise invalid_token()
        site, token_config = found
        if not function_name:
            raise invalid_parameter("Missing function name")
        spec = FUNCTIONS.get(function_name)
        if spec is None:
            raise missing_record("external_functions", "SELECT * FROM {external_functions} WHERE name = ?")
        if function_name not in site.config.services[token_config.service]:
            raise function_not_allowed(function_name)
        user = site.store.user_by_username(token_config.username)
        assert user is not None  # created with the site
        call = Call(site.config, site.store, token_config, user)
        validated = validate(spec.params, params, debug)
        if spec.batch is not None and isinstance(params.get(spec.batch), dict):
            records = len(params[spec.batch])
        if fault == "exception":
            raise write_failed()
        result = spec.run(call, validated)
    except MoodleException as exc:
        emulator.calls.add(at=time.time(), tenant=tenant, wsfunction=function_name, status=200,
                           exception=exc.exception, errorcode=exc.errorcode, records=records, fault=fault)
        emulator.metrics.calls.labels(wsfunction=emulator.calls.label(function_name), outcome=exc.errorcode).inc()
        log.info("web-service call failed", extra={"tenant": tenant, "wsfunction": function_name,
                                                   "errorcode": exc.errorcode, "debuginfo": exc.debuginfo})
        return _error_answer(exc, debug, as_json)
    emulator.calls.add(at=time.time(), tenant=tenant, wsfunction=function_name, status=200, exception=None,
                       errorcode=None, records=records, fault=None)
    emulator.metrics.calls.labels(wsfunction=function_name, outcome="ok").inc()
    return _answer(result, as_json)
