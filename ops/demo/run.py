"""Plan a college, send it through the ingress, wait for the streams, summarise."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys

import orjson
from rich.console import Console

from common.log import LogError
from common.settings import get_settings
from common.tenants import load_tenants
from ops.college.webhooks import plan
from ops.demo import summary
from ops.demo.send import send_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ingress", default="http://127.0.0.1:8000", metavar="URL",
                        help="the ingress (default %(default)s)")
    parser.add_argument("--students", type=int, default=200, help="valid students (default %(default)s)")
    parser.add_argument("--seed", type=int,
                        help="the same seed sends the same college (default: a random one, printed)")
    parser.add_argument("--tenant", help="the college's tenant (default: DEFAULT_TENANT); its secrets come from the "
                                         "tenants file (TENANTS_FILE / TENANTS_JSON)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default %(default)s)")
    parser.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                        help="how long to wait for the system to hold everything sent (default %(default)s; 0: "
                             "do not read the system)")
    parser.add_argument("--zoho-emulator", default="http://127.0.0.1:8090", metavar="URL",
                        help="the Zoho emulator, for its BTEC_Grades count (default %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON document")


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    tenant = args.tenant or settings.default_tenant
    secrets = load_tenants(settings).get(tenant)
    if secrets is None:
        print(f"error: tenant {tenant!r} is not in the tenants file {settings.resolved_tenants_file()}",
              file=sys.stderr)
        return 1
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    college = plan(seed, args.students)
    # Tables and progress go to stderr when stdout carries the JSON summary.
    console = Console(stderr=args.json)
    console.print(f"demo college: seed {seed}, tenant {tenant}, {args.students} students, "
                  f"{len(college.requests)} requests to {args.ingress}")
    sent = asyncio.run(send_all(college.requests, args.ingress, tenant, secrets, args.concurrency,
                                show_progress=not args.no_progress))
    bootstrap = settings.kafka_bootstrap()
    seen = summary.wait_settled(bootstrap, tenant, college, args.wait, console) if args.wait > 0 else None
    emulator = summary.emulator_grades(args.zoho_emulator, tenant)
    projections = summary.projection_counts(settings.database_dsn(), _projections_schema(), tenant)
    if args.json:
        sys.stdout.write(orjson.dumps(summary.report_json(college, sent, seen, emulator, projections)).decode() + "\n")
    else:
        summary.render(college, sent, seen, emulator, projections, console)
    if sent.rejected:
        return 1
    return 2 if seen is not None and summary.missing(college, seen) else 0


def _projections_schema() -> str:
    # The projector's own setting (projections/settings.py), read the same way.
    return os.environ.get("PROJECTIONS_SCHEMA", "projections")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.demo", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (LogError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
