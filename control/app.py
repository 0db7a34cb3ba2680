"""The control plane: per-tenant settings, field mappings, sync history and retries, status, metadata.

Its own process beside the ingress, so the one process that must never fall over (the ingress)
carries no database pool, no configuration writes and no log scans.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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
    app.add_middleware(HTTP.middleware)
    app.include_router(control_router(settings, tenants, commands, queries))
    app.include_router(tenants_router(settings, tenants, commands, queries))

    def _json(data: dict[str, str], status: int = 200) -> Response:
        return Response(orjson.dumps(data), status_code=status, media_type="application/json")

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
