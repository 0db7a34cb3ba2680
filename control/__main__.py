"""`python -m control`: serve the control plane with uvicorn (CONTROL_HOST, CONTROL_PORT)."""

from __future__ import annotations

from common.service import serve_http


def main() -> None:
    serve_http("control.app:create_app", "CONTROL_HOST", "CONTROL_PORT", 8001)


if __name__ == "__main__":
    main()
