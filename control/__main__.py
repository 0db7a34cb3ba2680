"""`python -m control`: serve the control plane with uvicorn."""

from __future__ import annotations

import os

import uvicorn


def main() -> None:
    uvicorn.run(
        "control.app:create_app",
        factory=True,
        host=os.environ.get("CONTROL_HOST", "127.0.0.1"),
        port=int(os.environ.get("CONTROL_PORT", "8001")),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
