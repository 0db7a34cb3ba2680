"""How every service process starts: HTTP apps under uvicorn, workers until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import uvicorn


def serve_http(factory: str, host_env: str, port_env: str, default_port: int, workers_env: str | None = None) -> None:
    """Serve the app `factory` ("module:function") on the host and port the environment names."""
    uvicorn.run(
        factory,
        factory=True,
        host=os.environ.get(host_env, "127.0.0.1"),
        port=int(os.environ.get(port_env, str(default_port))),
        workers=int(os.environ.get(workers_env, "1")) if workers_env else 1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


async def until_stopped(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a worker's loop with an event that SIGTERM or SIGINT sets, so it finishes its batch and stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)
