"""`/crm/v7|v8/...`: auth, URL and module checks, scopes and rights, limits, injected faults, the operation."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from stack.zoho_emulator.access import check_permission, check_record_scope, check_settings_scope
from stack.zoho_emulator.criteria import parse_criteria
from stack.zoho_emulator.emulator import Emulator, Org
from stack.zoho_emulator.errors import (
    ZohoError,
    batch_status,
    invalid_module,
    invalid_url,
    param_missing,
    too_many_requests,
)
from stack.zoho_emulator.limits import call_cost
from stack.zoho_emulator.listing import fields_param, list_deleted, list_records, paging
from stack.zoho_emulator.metadata import fields_body, module_body, modules_body
from stack.zoho_emulator.records import WriteResult

log = logging.getLogger("zoho_emulator.crm")

VERSIONS = ("v7", "v8")
MAX_RECORDS = 100
MAX_SEARCH_RESULTS = 2000
WRITE_OPERATIONS = ("insert", "update", "upsert")
SETTINGS_OPERATIONS = ("settings_modules", "settings_module", "settings_fields")


@dataclass
class Route:
    operation: str
    module: str
    record_id: str | None = None


@dataclass
class Call:
    """What one request asks for, once its body is read."""

    route: Route
    data: list[Any] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return len(self.data)

    def fires_workflow(self) -> bool:
        trigger = self.body.get("trigger")
        return "trigger" not in self.body or (isinstance(trigger, list) and "workflow" in trigger)


_METHODS = {
    0: {"GET": "list", "POST": "insert", "PUT": "update", "DELETE": "delete"},
    "upsert": {"POST": "upsert"},
    "search": {"GET": "search"},
    "deleted": {"GET": "deleted"},
    1: {"GET": "get", "PUT": "update", "DELETE": "delete"},
}


def resolve(org: Org, method: str, version: str, rest: str) -> Route:
    parts = [p for p in rest.split("/") if p]
    if version not in VERSIONS or not parts or len(parts) > 3:
        raise invalid_url()
    if parts[0] == "settings":
        return _settings_route(method, parts)
    if len(parts) > 2:
        raise invalid_url()
    module = parts[0]
    if module not in org.store.modules:
        raise invalid_module()
    key: int | str = 0 if len(parts) == 1 else parts[1] if parts[1] in ("upsert", "search", "deleted") else 1
    operation = _METHODS[key].get(method)
    if operation is None:
        raise ZohoError(400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one",
                        {"resource_path_index": 0})
    return Route(operation, module, parts[1] if key == 1 else None)


def _settings_route(method: str, parts: list[str]) -> Route:
    if method != "GET" or len(parts) < 2 or parts[1] not in ("modules", "fields") \
            or (parts[1] == "fields" and len(parts) > 2):
        raise invalid_url()
    if parts[1] == "fields":
        return Route("settings_fields", "")
    if len(parts) == 3:
        return Route("settings_module", parts[2])
    return Route("settings_modules", "")


def wraps_request_errors(method: str, rest: str) -> bool:
    """Insert/update/upsert (and the deleted-records list) answer a request-level 400 inside `data[]`, as the
    spec's examples show (INVALID_MODULE, LIMIT_EXCEEDED, MANDATORY_NOT_FOUND, AUTHORIZATION_FAILED...);
    401, 403, 404, 429 and 500 stay one top-level object, and so do the other reads and delete."""
    parts = [p for p in rest.split("/") if p]
    if not parts or parts[0] == "settings":
        return False
    return method in ("POST", "PUT") or (method == "GET" and len(parts) == 2 and parts[1] == "deleted")


async def read_call(request: Request, route: Route) -> Call:
    if route.operation not in WRITE_OPERATIONS:
        return Call(route)
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "body", {"expected_data_type": "jsonobject"}) from exc
    if not isinstance(body, dict):
        raise ZohoError(400, "INVALID_DATA", "body", {"expected_data_type": "jsonobject"})
    data = body.get("data")
    if not isinstance(data, list) or not data:
        raise param_missing("data")
    if len(data) > MAX_RECORDS:
        raise ZohoError(400, "LIMIT_EXCEEDED", "count of records in your request exceeds the limit",
                        {"maximum_length": MAX_RECORDS, "api_name": "data"})
    if "trigger" in body and not isinstance(body["trigger"], list):
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"api_name": "trigger", "json_path": "$.trigger"})
    if route.record_id is not None:
        data = [{**data[0], "id": route.record_id}] if isinstance(data[0], dict) else data[:1]
    return Call(route, data, body)


def cost_of(call: Call, request: Request) -> tuple[int, bool]:
    """Credits the call costs and whether it counts against the sub-concurrency limit."""
    op = call.route.operation
    cvid = "cvid" in request.query_params
    heavy = (op in WRITE_OPERATIONS and call.records > 10) or (op == "list" and ("sort_by" in request.query_params
                                                                                 or cvid))
    return call_cost(op, call.records, cvid), heavy


def _authorise(org: Org, scopes: frozenset[str], route: Route) -> None:
    if route.operation in SETTINGS_OPERATIONS:
        check_settings_scope(scopes, route.operation)
        return
    check_record_scope(scopes, route.module, route.operation)
    check_permission(org.config, route.module, route.operation)


async def handle(emulator: Emulator, request: Request, version: str, rest: str) -> Response:
    org: Org | None = None
    operation, records, charged = "unknown", 0, 0
    try:
        grantee = emulator.authority.authenticate(request.headers.get("authorization"))
        tenant = grantee.tenant
        org = emulator.orgs[tenant]
        route = resolve(org, request.method, version, rest)
        operation = route.operation
        _authorise(org, grantee.scopes, route)
        call = await read_call(request, route)
        records = call.records
        cost, heavy = cost_of(call, request)
        org.limits.check_credits(cost)
        with org.limits.slot(heavy):
            await _inject_faults(emulator)
            response = _dispatch(emulator, org, call, request)
        org.limits.charge(cost)
        charged = cost
        emulator.metrics.credits.labels(tenant=tenant).inc(cost)
    except ZohoError as err:
        response = err.response(wrapped=err.status == 400 and wraps_request_errors(request.method, rest))
    if org is not None and (remaining := org.limits.remaining_header()) is not None:
        response.headers["X-API-CREDITS-REMAINING"] = remaining
    code = _error_code(response)
    emulator.calls.add(at=emulator.clock.now(), tenant=org.config.tenant if org else None, method=request.method,
                       path=request.url.path, operation=operation, status=response.status_code, code=code,
                       credits=charged, records=records)
    emulator.metrics.calls.labels(operation=operation, status=str(response.status_code)).inc()
    return response


async def _inject_faults(emulator: Emulator) -> None:
    if emulator.faults.latency_ms:
        await asyncio.sleep(emulator.faults.latency_ms / 1000)
    fault = emulator.next_fault()
    if fault == "timeout":
        generation = emulator.generation
        await asyncio.sleep(emulator.faults.timeout_s)
        if generation != emulator.generation:
            raise ZohoError(500, "INTERNAL_ERROR", "Internal Server Error")
    elif fault == "500":
        raise ZohoError(500, "INTERNAL_ERROR", "Internal Server Error")
    elif fault == "429":
        raise too_many_requests("The concurrency limit of the user for the app is exceeded.")
    elif fault == "auth_failure":
        raise ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")


def _error_code(response: Response) -> str | None:
    if response.status_code < 400 or not isinstance(response, JSONResponse):
        return None
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"] \
            and isinstance(body["data"][0], dict):
        body = body["data"][0]  # a request-level error wrapped like a record's
    return body.get("code") if isinstance(body, dict) else None


def _dispatch(emulator: Emulator, org: Org, call: Call, request: Request) -> Response:
    route, service = call.route, org.records
    op = route.operation
    if op == "get":
        return _get(emulator, org, route, request)
    if op == "list":
        return list_records(org.store, org.page_tokens, route.module, request)
    if op == "deleted":
        return list_deleted(org.store, route.module, request)
    if op == "settings_modules":
        return JSONResponse(modules_body(org.store, org.config))
    if op == "settings_module":
        return JSONResponse(module_body(org.store, org.config, route.module))
    if op == "settings_fields":
        return JSONResponse(fields_body(org.store, request.query_params.get("module")))
    if op == "search":
        return _search(emulator, org, route, request)
    if op == "delete":
        return _delete(emulator, org, route, request)
    if op == "insert":
        result, ok = service.insert(route.module, call.data), 201
    elif op == "update":
        result, ok = service.update(route.module, call.data), 200
    else:
        dup = call.body.get("duplicate_check_fields")
        if dup is not None and (not isinstance(dup, list) or not all(isinstance(f, str) for f in dup)):
            raise ZohoError(400, "INVALID_DATA", "invalid data",
                            {"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"})
        result, ok = service.upsert(route.module, call.data, dup), 200
    if call.fires_workflow():
        _fire(emulator, org, route.module, result)
    return JSONResponse({"data": result.items}, status_code=batch_status(result.items, ok))


def _fire(emulator: Emulator, org: Org, module: str, result: WriteResult) -> None:
    for change in result.changes:
        emulator.webhooks.fire(org.config, module, change.operation, change.record_id, change.data, org.store.new_id)


def _get(emulator: Emulator, org: Org, route: Route, request: Request) -> Response:
    assert route.record_id is not None
    fields = fields_param(request, required=False)
    record = org.records.get(route.module, route.record_id, fields) if route.record_id.isdigit() else None
    if record is None:
        if route.record_id.isdigit() and emulator.config.behaviour.get_unknown_id == 204:
            return Response(status_code=204)
        raise ZohoError(400, "INVALID_DATA", "invalid record id", {"resource_path_index": 0})
    return JSONResponse({"data": [record]})


def _search(emulator: Emulator, org: Org, route: Route, request: Request) -> Response:
    params = request.query_params
    spec = org.store.modules[route.module]
    if params.get("criteria"):
        criteria = params["criteria"]
    elif params.get("email") or params.get("phone") or params.get("word"):
        criteria = _shortcut(spec.fields, params)
    else:
        raise param_missing("criteria")
    node = parse_criteria(criteria, spec)
    fields = fields_param(request, required=False)
    page, per_page = paging(request)
    visible_after = emulator.clock.now() - emulator.faults.search_lag_s
    found = org.records.search(route.module, node, visible_after)[:MAX_SEARCH_RESULTS]
    window = found[(page - 1) * per_page: page * per_page]
    if not window:
        return Response(status_code=204)
    return JSONResponse({
        "data": [org.store.render(route.module, r, fields) for r in window],
        "info": {"per_page": per_page, "count": len(window), "page": page,
                 "more_records": len(found) > page * per_page},
    })


def _shortcut(fields: dict[str, Any], params: Any) -> str:
    """`email=`, `phone=` and `word=` as criteria over the fields of that kind, joined by `or`."""
    for param, types in (("email", ("email",)), ("phone", ("phone",)), ("word", ("text", "textarea", "email"))):
        value = params.get(param)
        if value:
            escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace(",", "\\,")
            names = [name for name, spec in fields.items() if spec.type in types]
            if not names:
                raise param_missing("criteria")
            return "(" + "or".join(f"({name}:equals:{escaped})" for name in names) + ")"
    raise param_missing("criteria")


def _delete(emulator: Emulator, org: Org, route: Route, request: Request) -> Response:
    if route.record_id is not None:
        ids = [route.record_id]
    else:
        raw = request.query_params.get("ids")
        if not raw:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            {"param_name": "ids"})
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if len(ids) > MAX_RECORDS:
            raise ZohoError(400, "LIMIT_EXCEEDED", "count of records in your request exceeds the limit",
                            {"maximum_length": MAX_RECORDS, "api_name": "ids"})
    result = org.records.delete(route.module, ids)
    wf = request.query_params.get("wf_trigger")
    if wf == "true" or (wf is None and emulator.config.behaviour.delete_triggers_workflow):
        _fire(emulator, org, route.module, result)
    return JSONResponse({"data": result.items}, status_code=batch_status(result.items, 200))
