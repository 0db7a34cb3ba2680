"""The FastAPI app: Moodle's REST server, admin routes, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stack.moodle_emulator.admin import admin_router
from stack.moodle_emulator.config import EmulatorConfig
from stack.moodle_emulator.emulator import Emulator
from stack.moodle_emulator.server import handle

log = logging.getLogger("moodle_emulator")


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    emulator = Emulator(config or EmulatorConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.webhooks.start()
        log.info("moodle emulator ready", extra={"tenants": sorted(emulator.sites),
                                                 "webhooks": emulator.config.webhooks.ingress_url})
        yield
        await emulator.webhooks.stop()

    app = FastAPI(title="Moodle web-services emulator",
                  description="Development emulator of Moodle's REST web services and our plugin's webhooks.",
                  lifespan=lifespan)
    app.state.emulator = emulator

    @app.api_route("/webservice/rest/server.php", methods=["GET", "POST"])
    async def rest(request: Request) -> Response:
        return await handle(emulator, request)

    app.include_router(admin_router(emulator))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(emulator.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
