"""`python -m projections run|migrate|replay|rebuild-canonical|checksum`."""

from __future__ import annotations

import argparse
import os
import sys

import psycopg

from common.logs import setup_logging
from common.settings import get_settings
from projections.settings import ProjectorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projections")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="migrate, then apply canonical events, outcomes and dead letters to PostgreSQL")
    sub.add_parser("migrate", help="apply pending migrations to the projection schema")
    rp = sub.add_parser("replay", help="rebuild all projections from offset 0 into a fresh schema and swap it in")
    rp.add_argument("--workers", type=int, default=2)
    rp.add_argument("--keep-old", action="store_true", help="keep the replaced schema (renamed) instead of dropping")
    rp.add_argument("--no-swap", action="store_true", help="build the fresh schema and leave it beside the live one")
    rc = sub.add_parser("rebuild-canonical", help="start a new streams generation that re-reads raw.* from 0")
    rc.add_argument("--app-id", help="the new STREAMS_APP_ID (default: the current one with its -vN bumped)")
    ck = sub.add_parser("checksum", help="compare two projection schemas table by table")
    ck.add_argument("left")
    ck.add_argument("right", nargs="?", help="default: only print the sums of LEFT")
    ck.add_argument("--tenant")
    args = parser.parse_args(argv)

    common = get_settings()
    settings = ProjectorSettings()
    setup_logging("projector", common.log_level)
    dsn, bootstrap = common.database_dsn(), common.kafka_bootstrap()

    if args.command in ("run", "migrate"):
        from projections.migrate import migrate

        migrate(dsn, settings.schema_name)
        if args.command == "run":
            from projections.projector import run

            run(settings, bootstrap, dsn)
        return 0
    if args.command == "replay":
        from projections.replay import replay

        built = replay(bootstrap, dsn, settings.schema_name, workers=args.workers, keep_old=args.keep_old,
                       swap_in=not args.no_swap, show_progress=sys.stderr.isatty())
        print(built if args.no_swap else settings.schema_name)
        return 0
    if args.command == "rebuild-canonical":
        from projections.rebuild_canonical import next_app_id, reset_generation

        app_id = args.app_id or next_app_id(os.environ.get("STREAMS_APP_ID", "mzsync-streams-v1"))
        parts = reset_generation(bootstrap, app_id)
        print(f"group {app_id}: {len(parts)} raw partitions at offset 0")
        print(f"stop the streams workers, then start them with STREAMS_APP_ID={app_id} and an empty STREAMS_DATADIR")
        return 0
    from projections.checksum import compare, table_sums

    with psycopg.connect(dsn) as conn:
        if args.right is None:
            for s in table_sums(conn, args.left, args.tenant).values():
                print(f"{s.table:28} {s.rows:>10} {s.digest:x}")
            return 0
        differ = 0
        for a, b in compare(conn, args.left, args.right, args.tenant):
            same = (a.rows, a.digest) == (b.rows, b.digest)
            differ += not same
            print(f"{a.table:28} {a.rows:>10} {b.rows:>10} {'same' if same else 'DIFFERENT'}")
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
