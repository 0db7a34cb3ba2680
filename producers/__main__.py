"""`python -m producers`: serve the ingress with uvicorn."""

from __future__ import annotations

import os

import uvicorn


def main() -> None:
    uvicorn.run(
        "producers.app:create_app",
        factory=True,
        host=os.environ.get("INGRESS_HOST", "127.0.0.1"),
        port=int(os.environ.get("INGRESS_PORT", "8000")),
        workers=int(os.environ.get("INGRESS_WORKERS", "1")),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
