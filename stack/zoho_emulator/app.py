"""The FastAPI app: Zoho Accounts' token endpoint, the CRM API, admin routes, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stack.zoho_emulator.admin import admin_router
from stack.zoho_emulator.config import EmulatorConfig
from stack.zoho_emulator.crm_api import handle
from stack.zoho_emulator.emulator import Emulator
from stack.zoho_emulator.oauth import OAuthFailure

log = logging.getLogger("zoho_emulator")


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    emulator = Emulator(config or EmulatorConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.webhooks.start()
        log.info("zoho emulator ready", extra={"modules": sorted(emulator.modules),
                                               "tenants": sorted(emulator.orgs),
                                               "webhooks": emulator.config.webhooks.ingress_url})
        yield
        await emulator.webhooks.stop()

    app = FastAPI(title="Zoho CRM emulator", description="Development emulator of the Zoho CRM REST API v8.",
                  lifespan=lifespan)
    app.state.emulator = emulator

    @app.post("/oauth/v2/token")
    async def token(request: Request) -> JSONResponse:
        # Zoho takes the parameters in the query or as a form body; no multipart parser needed for either.
        params = dict(request.query_params)
        if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            params.update(parse_qsl((await request.body()).decode()))
        api_domain = emulator.config.api_domain or str(request.base_url).rstrip("/")
        try:
            body = emulator.authority.refresh(params, api_domain)
        except OAuthFailure as failure:
            emulator.metrics.tokens.labels(outcome=failure.body["error"]).inc()
            log.info("token refused", extra={"error": failure.body["error"], "client_id": params.get("client_id")})
            return JSONResponse(failure.body, status_code=emulator.config.oauth.error_status)
        emulator.metrics.tokens.labels(outcome="issued").inc()
        return JSONResponse(body)

    @app.api_route("/crm/{version}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def crm(version: str, rest: str, request: Request) -> Response:
        return await handle(emulator, request, version, rest)

    app.include_router(admin_router(emulator))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(emulator.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
