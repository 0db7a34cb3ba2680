"""`python -m producers`: serve the ingress with uvicorn (INGRESS_HOST, INGRESS_PORT, INGRESS_WORKERS)."""

from __future__ import annotations

from common.service import serve_http


def main() -> None:
    serve_http("producers.app:create_app", "INGRESS_HOST", "INGRESS_PORT", 8000, "INGRESS_WORKERS")


if __name__ == "__main__":
    main()
