"""`python -m stack.moodle_emulator [--host H] [--port P] [--config file.json] [--ingress-url URL]`."""

from __future__ import annotations

import argparse
import os

import uvicorn

from common.logs import setup_logging
from stack.moodle_emulator.app import create_app
from stack.moodle_emulator.config import load_config

DEFAULT_PORT = 8091


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stack.moodle_emulator",
                                     description="Moodle web-services emulator (development tool).")
    parser.add_argument("--host", default=os.environ.get("MOODLE_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOODLE_EMULATOR_PORT", DEFAULT_PORT)))
    parser.add_argument("--config", default=os.environ.get("MOODLE_EMULATOR_CONFIG"),
                        help="JSON file with EmulatorConfig keys (sites, webhooks, faults)")
    parser.add_argument("--ingress-url", default=os.environ.get("MOODLE_EMULATOR_INGRESS_URL"),
                        help="base URL of our ingress; enables the plugin's webhooks (overrides the config file)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)

    setup_logging("moodle-emulator", args.log_level)
    config = load_config(args.config)
    if args.ingress_url:
        config.webhooks.ingress_url = args.ingress_url
    uvicorn.run(create_app(config), host=args.host, port=args.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
