"""The control plane: per-tenant settings, field mappings, sync history and retries, status, metadata.

Its own process beside the ingress, so the one process that must never fall over (the ingress)
carries no database pool, no configuration writes and no log scans.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.http_metrics import HttpMetrics
from common.logs import setup_logging
from common.settings import Settings, get_settings
from common.tenants import TenantRegistry
from control.commands import CommandWriter
from control.queries import ProjectionQueries
from control.routes import control_router
from control.tenants import tenants_router

log = logging.getLogger("control")


def _route_label(path: str) -> str:
    if path.startswith("/control/v1/sync-history/") and path.endswith("/retry"):
        return "/control/v1/sync-history/{partition}/{offset}/retry"
    if path.startswith("/control/v1/tenants/"):
        return "/control/v1/tenants/{tenant}/" + path.rsplit("/", 1)[-1] if path.count("/") == 5 else "other"
    if path.startswith("/control/v1/") or path in ("/healthz", "/readyz", "/metrics"):
        return path if path.count("/") <= 3 else "other"
    return "other"


HTTP = HttpMetrics("control", _route_label)


class AsciiJSONResponse(JSONResponse):
    """Errors as JSON with non-ASCII escaped: a 422 echoes the caller's input, which may hold a lone surrogate
    that UTF-8 cannot encode (FastAPI's own handlers then fail with a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


class AllowEveryMethod:
    """A 405 lists every method of the path, not only those of the first route that matched it.

    Starlette names the methods of one route, and GET and PUT of one path are two routes here, so its
    `Allow` for `DELETE /control/v1/settings` would say `GET` alone. The methods come from the app's own
    OpenAPI document, which is what clients read; a path it does not list keeps Starlette's answer.
    """

    _METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.openapi = openapi
        self._table: list[tuple[re.Pattern[str], str]] | None = None

    def allowed(self, path: str) -> str | None:
        if self._table is None:  # built at the first 405, once every route is in the document
            self._table = [
                (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"),
                 ", ".join(sorted(m.upper() for m in item if m in self._METHODS)))
                for template, item in self.openapi()["paths"].items()
            ]
        return next((methods for pattern, methods in self._table if pattern.match(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self.allowed(scope["path"])
                if allowed is not None:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", allowed.encode())]}
            await send(message)

        await self.app(scope, receive, send_allow)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    setup_logging("control", settings.log_level)
    tenants = TenantRegistry(settings)
    queries = ProjectionQueries(settings.database_dsn(), settings.projections_schema)
    commands = CommandWriter(settings.kafka_bootstrap())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("control plane ready")
        yield
        await queries.close()
        await run_in_threadpool(commands.close)

    app = FastAPI(
        title="Moodle ↔ Zoho control plane",
        version="1.0.0",
        description="Per-tenant settings, Zoho field mappings, sync history and retries, status and metadata. "
                    "The caller's Bearer key decides the tenant.",
        lifespan=lifespan,
    )
    app.add_middleware(AllowEveryMethod, openapi=app.openapi)
    app.add_middleware(HTTP.middleware)
    app.include_router(control_router(settings, tenants, commands, queries))
    app.include_router(tenants_router(settings, tenants, commands, queries))

    def _json(data: dict[str, str], status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def refused(_: Request, exc: StarletteHTTPException) -> Response:
        return AsciiJSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)

    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, exc: psycopg.OperationalError) -> Response:
        # Pool timeouts included: the database is down or overloaded, which is worth a retry, not a 500.
        log.warning("projections database unavailable", extra={"error": str(exc)})
        return _json({"detail": "the projections database does not answer; retry later"}, 503, {"Retry-After": "5"})

    @app.exception_handler(psycopg.errors.UndefinedTable)
    async def not_set_up(_: Request, exc: psycopg.errors.UndefinedTable) -> Response:
        # The projector creates its tables on its first start: until then there is nothing to read yet.
        log.warning("projections tables missing", extra={"error": str(exc)})
        return _json({"detail": "the projections are not set up yet (the projector creates them when it starts); "
                                "retry later"}, 503, {"Retry-After": "5"})

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="The projections database answers",
             responses={503: {"description": "Database unreachable"}})
    async def readyz() -> Response:
        if await queries.reachable():
            return _json({"status": "ready"})
        return _json({"status": "database unreachable"}, 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
