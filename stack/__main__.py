"""`python -m stack start|stop|status|reset|env|ports|banner|topics`: the embedded Kafka + PostgreSQL stack."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from common.kafka_admin import ensure_topics
from common.logs import setup_logging
from common.settings import get_settings
from schemas.topics import contract_topics
from stack.banner import banner
from stack.config import SERVICE_PORTS, service_port
from stack.embedded import EmbeddedStack
from stack.process import StackError, port_open, port_taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start", help="start Kafka and PostgreSQL (idempotent), create topics, wait until ready")
    sub.add_parser("stop", help="stop both; data is kept")
    sub.add_parser("status", help="what runs, where it listens, where its logs are")
    sub.add_parser("reset", help="stop and delete all data")
    sub.add_parser("env", help="print the environment variables that point services at this stack")
    sub.add_parser("banner", help="print URLs, a signed curl example and a psql line")
    sub.add_parser("ports", help="check that the ports of the services `make run` starts are free")
    sub.add_parser("topics", help="create the contract's topics on KAFKA_BOOTSTRAP_SERVERS (or the embedded broker)")
    args = parser.parse_args(argv)

    settings = get_settings()
    setup_logging("stack", settings.log_level)
    if settings.kafka_bootstrap_servers or settings.database_url:
        logging.getLogger(__name__).warning(
            "KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL are set: services use those, not this embedded stack"
        )
    stack = EmbeddedStack.from_settings(settings)
    try:
        if args.command == "start":
            topics = stack.start(settings.default_tenant)
            created = sorted(t for t, what in topics.items() if what != "exists")
            print(f"stack up: kafka {stack.cfg.kafka_bootstrap}, postgres {stack.cfg.database_url}")
            print(f"topics: {len(topics)} ready" + (f" (created/changed: {', '.join(created)})" if created else ""))
            print(f"logs: {stack.kafka.log_file}  {stack.postgres.log_file}")
        elif args.command == "stop":
            stack.stop()
            print("stack stopped (data kept)")
        elif args.command == "reset":
            stack.reset()
            print(f"stack reset: {stack.cfg.root} removed")
        elif args.command == "status":
            rows = stack.status()
            print(json.dumps(rows, indent=2))
            return 0 if all(r.get("ready") for r in rows) else 3
        elif args.command == "topics":
            report = ensure_topics(settings.kafka_bootstrap(), contract_topics(settings.topic_partitions),
                                   settings.topic_replication)
            for name, what in sorted(report.items()):
                print(f"{name}: {what}")
        elif args.command == "ports":
            taken = [port_taken(service_port(name), variable) for name, (variable, _) in SERVICE_PORTS.items()
                     if port_open(service_port(name))]
            if taken:
                raise StackError("\n".join(taken))
        elif args.command == "banner":
            print(banner(settings))
        elif args.command == "env":
            print(f"export KAFKA_BOOTSTRAP_SERVERS={stack.cfg.kafka_bootstrap}")
            print(f"export DATABASE_URL={stack.cfg.database_url}")
            print(f"export TENANTS_FILE={stack.cfg.root / 'tenants.json'}")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
