"""The webhook ingress: authenticate, key, append the body unchanged, answer after the broker's ack."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from common.logs import request_id_var, setup_logging
from common.settings import Settings, get_settings
from common.tenants import MOODLE_EVENTS, TenantRegistry, TenantSecrets
from producers.appender import Headers, NotStored, RawAppender, TooLarge
from producers.auth import AuthError, verify_moodle, verify_zoho
from producers.body import read_limited
from producers.metrics import APPEND_FAILURES, APPENDED, HTTP
from schemas.bodies import FORM, JSON, BodyError, decode_object
from schemas.keys import RawKey, moodle_entity_id, zoho_delivery_id, zoho_record_id
from schemas.mapping import accepted_modules
from schemas.topics import RAW_MOODLE, RAW_ZOHO

log = logging.getLogger("producers.ingress")

_TENANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class Stored(BaseModel):
    request_id: str
    topic: str
    partition: int
    offset: int


class Rejected(BaseModel):
    error: str
    request_id: str
    valid: list[str] | None = Field(default=None, description="With a 404: the modules or events this tenant accepts")


def _rejected(description: str) -> dict[str, Any]:
    return {"model": Rejected, "description": description}


_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": Stored,
        "description": "Stored in the log: the broker acknowledged the record.",
        "content": {
            "application/json": {
                "example": {"request_id": "3f2a…", "topic": "raw.zoho", "partition": 2, "offset": 4711}
            }
        },
    },
    400: _rejected("Malformed JSON or form body, or not a JSON object"),
    401: _rejected("Unknown tenant, missing or wrong signature / token"),
    403: _rejected("The tenant is disabled"),
    404: _rejected("Unknown module or event; the answer lists the valid ones"),
    413: _rejected("Body over the size limit (`INGRESS_MAX_BODY_BYTES`, default 1 MiB), or over the broker's "
                   "largest record"),
    415: _rejected("Unsupported content type"),
    503: {**_rejected("Broker unreachable or no acknowledgement in time; retry after `Retry-After`"),
          "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}},
}

# Zoho cannot sign, so its webhooks carry the tenant's token, in a header or (for Zoho's URL-only
# webhooks) in the query; either one is enough.
_SECURITY_SCHEMES = {
    "ZohoTokenHeader": {"type": "apiKey", "in": "header", "name": "X-Zoho-Webhook-Token",
                        "description": "The tenant's `zoho_webhook_token`"},
    "ZohoTokenQuery": {"type": "apiKey", "in": "query", "name": "token",
                       "description": "The tenant's `zoho_webhook_token`, for webhooks that cannot set headers"},
}


# Documented, not validated by FastAPI: an unknown module or event is the handler's 404 listing the valid ones.
ZohoModulePath = Annotated[str, Path(description="A Zoho module API name the tenant accepts (default: those of its "
                                                 "field mapping, e.g. `BTEC_Students`)")]
MoodleEventPath = Annotated[str, Path(description="A Moodle event the tenant accepts",
                                      json_schema_extra={"enum": list(MOODLE_EVENTS)})]


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


def _error(status: int, message: str, request_id: str, **extra: Any) -> Response:
    log.warning("rejected", extra={"status": status, "reason": message})
    headers = {"X-Request-ID": request_id}
    if status == 503:
        headers["Retry-After"] = str(get_settings().ingress_retry_after_s)
    return _json({"error": message, "request_id": request_id, **extra}, status, headers)


@dataclass(frozen=True)
class Received:
    received_at: int
    request_id: str
    tenant: str
    secrets: TenantSecrets
    body: bytes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    setup_logging("ingress", settings.log_level)
    # Room for the largest body the ingress accepts, so the documented limit is the one that holds.
    appender = RawAppender(settings.kafka_bootstrap(), settings.ingress_delivery_timeout_s,
                           {"message.max.bytes": settings.max_record_bytes()})
    tenants = TenantRegistry(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        appender.start()
        log.info("ingress ready", extra={"bootstrap": settings.kafka_bootstrap()})
        yield
        await run_in_threadpool(appender.close)

    app = FastAPI(
        title="Moodle ↔ Zoho webhook ingress",
        version="1.0.0",
        description=(
            "Accepts webhooks from Zoho CRM and from the Moodle plugin and appends each body, unchanged, "
            "to the `raw.zoho` / `raw.moodle` topics. A 202 means the broker has stored the body."
        ),
        lifespan=lifespan,
    )
    app.add_middleware(HTTP.middleware)

    def openapi() -> dict[str, Any]:
        """FastAPI's document plus the Zoho token's security schemes, which no dependency declares: the
        handler reads the token itself, after the tenant is known."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
            # FastAPI lists a 422 wherever a route has parameters; these take any path segment and read
            # their bodies themselves, so they never answer 422.
            for path in ("/webhooks/zoho/{module}", "/webhooks/moodle/{event}"):
                schema["paths"][path]["post"]["responses"].pop("422")
            for unused in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(unused)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    async def append(request: Request, *, source: str, topic: str, tenant: str, kind: str, entity_id: str,
                     body: bytes, delivery_id: str | None, request_id: str, received_at: int) -> Response:
        headers: Headers = [
            ("source", source.encode()),
            ("tenant", tenant.encode()),
            ("kind", kind.encode()),
            ("content-type", request.headers.get("content-type", "").encode()),
            ("received-at", str(received_at).encode()),
            ("request-id", request_id.encode()),
        ]
        if delivery_id:
            headers.append(("delivery-id", delivery_id.encode()))
        try:
            done = await appender.append(topic, RawKey(tenant, kind, entity_id).encode(), body, headers)
        except TooLarge as exc:
            # The broker's own record limit (about 1 MiB after compression by default): retrying cannot help.
            log.warning("body too large for the log", extra={"topic": topic, "tenant": tenant, "error": str(exc)})
            return _error(413, "body over the largest record the log accepts", request_id)
        except NotStored as exc:
            APPEND_FAILURES.labels(topic).inc()
            log.error("body not stored", extra={"topic": topic, "tenant": tenant, "kind": kind, "error": str(exc)})
            return _error(503, "the log did not store the body; retry later", request_id)
        APPENDED.labels(topic).inc()
        if settings.log_requests:
            log.info("stored", extra={"topic": topic, "tenant": tenant, "kind": kind, "partition": done.partition,
                                      "offset": done.offset})
        return _json(
            {"request_id": request_id, "topic": done.topic, "partition": done.partition, "offset": done.offset},
            202,
            {"X-Request-ID": request_id},
        )

    async def receive(request: Request) -> Received | Response:
        """Request id, size-limited body and the tenant's secrets, or the error answer."""
        received_at = int(time.time() * 1000)
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        request_id_var.set(request_id)
        try:
            body = await read_limited(request, settings.ingress_max_body_bytes)
        except BodyError as exc:
            return _error(exc.status, exc.message, request_id)
        tenant = request.headers.get("x-tenant-id") or settings.default_tenant
        secrets = tenants.get(tenant) if _TENANT_RE.match(tenant) else None
        if secrets is None:
            return _error(401, "unknown tenant", request_id)
        if secrets.disabled:
            return _error(403, "tenant disabled", request_id)
        return Received(received_at, request_id, tenant, secrets, body)

    zoho_body = {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"type": "object"}, "example": {"notification_id": "…", "module": "BTEC_Students",
                                                                 "operation": "insert", "record_id": "…",
                                                                 "data": {"id": "…"}}},
                FORM: {"schema": {"type": "object"}},
            },
        },
        "parameters": [
            {"name": "X-Tenant-ID", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The college; absent: the default tenant"},
        ],
        "security": [{"ZohoTokenHeader": []}, {"ZohoTokenQuery": []}],
    }

    @app.post("/webhooks/zoho/{module}", status_code=202, responses=_ACCEPTED, openapi_extra=zoho_body,
              summary="Zoho CRM workflow webhook", tags=["webhooks"])
    async def zoho_webhook(module: ZohoModulePath, request: Request) -> Response:
        got = await receive(request)
        if isinstance(got, Response):
            return got
        tenant, secrets, body, request_id = got.tenant, got.secrets, got.body, got.request_id
        try:
            verify_zoho(secrets.zoho_webhook_token,
                        request.headers.get("x-zoho-webhook-token") or request.query_params.get("token"))
        except AuthError as exc:
            return _error(401, str(exc), request_id)
        modules = accepted_modules(secrets)
        if module not in modules:
            return _error(404, f"unknown Zoho module {module!r}", request_id, valid=modules)
        try:
            parsed = decode_object(body, request.headers.get("content-type", ""), (JSON, FORM))
        except BodyError as exc:
            return _error(exc.status, exc.message, request_id)
        return await append(request, source="zoho", topic=RAW_ZOHO, tenant=tenant, kind=module,
                            entity_id=zoho_record_id(parsed), body=body, delivery_id=zoho_delivery_id(parsed),
                            request_id=request_id, received_at=got.received_at)

    moodle_body = {
        "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
        "parameters": [
            {"name": "X-Tenant-ID", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The college; absent: the default tenant"},
            {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string", "minLength": 1},
             "description": "The delivery's id; a redelivery repeats it"},
            {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "Unix seconds; refused beyond ±5 minutes of the ingress's clock"},
            {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "Standard Webhooks signature: `v1,<base64 HMAC-SHA256>`"},
        ],
    }

    @app.post("/webhooks/moodle/{event}", status_code=202, responses=_ACCEPTED, openapi_extra=moodle_body,
              summary="Moodle plugin event (Standard Webhooks signed)", tags=["webhooks"])
    async def moodle_webhook(event: MoodleEventPath, request: Request) -> Response:
        got = await receive(request)
        if isinstance(got, Response):
            return got
        tenant, secrets, body, request_id = got.tenant, got.secrets, got.body, got.request_id
        try:
            webhook_id = verify_moodle(secrets.moodle_webhook_secret, body, request.headers)
        except AuthError as exc:
            return _error(401, str(exc), request_id)
        events = secrets.moodle_events if secrets.moodle_events is not None else list(MOODLE_EVENTS)
        if event not in events:
            return _error(404, f"unknown Moodle event {event!r}", request_id, valid=events)
        try:
            parsed = decode_object(body, request.headers.get("content-type", ""), (JSON,))
        except BodyError as exc:
            return _error(exc.status, exc.message, request_id)
        return await append(request, source="moodle", topic=RAW_MOODLE, tenant=tenant, kind=event,
                            entity_id=moodle_entity_id(event, parsed), body=body, delivery_id=webhook_id,
                            request_id=request_id, received_at=got.received_at)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="The broker answers",
             responses={503: {"description": "Broker unreachable"}})
    async def readyz() -> Response:
        if await run_in_threadpool(appender.reachable):
            return _json({"status": "ready"})
        return _json({"status": "broker unreachable"}, 503, {"Retry-After": str(settings.ingress_retry_after_s)})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if settings.ingress_enable_noop:
        # Same stack, no broker: the benchmark's baseline for what HTTP + FastAPI cost alone.
        @app.post("/_noop", include_in_schema=False)
        async def noop(request: Request) -> Response:
            await request.body()
            return _json({"ok": True}, 202)

    return app
