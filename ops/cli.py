"""mzsync: the operator's command line for the Moodle ↔ Zoho sync.

  mzsync status                      lag, waiting records, dead letters, last Zoho outcomes
  mzsync deadletter list|show|retry  inspect dead letters and re-publish one through raw.*
  mzsync replay [--canonical]        rebuild the projections, or start a new streams generation
  mzsync stack start|stop|status|reset
  mzsync sync pull [--full]          ask the Zoho puller to read records now, with progress
  mzsync demo                        send a realistic college through the ingress

Every command reads the same environment as the services (KAFKA_BOOTSTRAP_SERVERS, …).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from common.log import LogError
from common.settings import PROJECT_ROOT, get_settings
from ops import deadletters, replay, retry, sync
from ops.demo.run import add_arguments as add_demo_arguments
from ops.demo.run import run as run_demo
from ops.status import gather, render

DEFAULT_METRICS = "http://127.0.0.1:6066/metrics"


def _print_json(value: Any, pretty: bool = False) -> None:
    option = orjson.OPT_INDENT_2 if pretty else 0
    sys.stdout.write(orjson.dumps(value, default=deadletters.to_json, option=option).decode() + "\n")


def _bootstrap(args: argparse.Namespace) -> str:
    return str(args.bootstrap or get_settings().kafka_bootstrap())


def cmd_status(args: argparse.Namespace) -> int:
    status = gather(_bootstrap(args), args.streams_metrics or [DEFAULT_METRICS], args.outcomes, args.tenant,
                    get_settings().database_dsn())
    if args.json:
        _print_json(status.to_json())
    else:
        render(status, Console())
    return 1 if status.errors else 0


def cmd_deadletter_list(args: argparse.Namespace) -> int:
    letters = deadletters.load(_bootstrap(args), tenant=args.tenant, reason=args.reason)
    shown = letters[-args.limit:] if args.limit else letters
    rows = [deadletters.summary(le) for le in shown]
    if args.json:
        _print_json(rows)
        return 0
    console = Console()
    if not rows:
        console.print("no dead letters" + (" matching the filters" if args.tenant or args.reason else ""))
        return 0
    table = Table(title=f"{len(rows)} of {len(letters)} dead letters (newest last)", title_justify="left")
    # The position names a letter as well as its id does, and fits a terminal (--json has the ids).
    table.add_column("position", no_wrap=True)
    for column in ("tenant", "reason", "kind", "record", "message"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["position"], r["tenant"], r["reason"], r["kind"], r["record_id"] or "", r["message"])
    console.print(table)
    console.print("show one: mzsync deadletter show <position or id>")
    return 0


def cmd_deadletter_show(args: argparse.Namespace) -> int:
    letter = deadletters.find(_bootstrap(args), args.ref)
    shown = deadletters.detail(letter)
    if args.json:
        _print_json(shown)
        return 0
    body = shown.pop("body")
    for name, value in shown.items():
        text = orjson.dumps(value, default=deadletters.to_json).decode() if isinstance(value, dict | list) else value
        print(f"{name:>14}: {text}")
    print(f"{'body':>14}:")
    if isinstance(body, str):
        print(body)
    else:
        _print_json(body, pretty=True)
    return 0


def cmd_deadletter_retry(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    letter = deadletters.find(bootstrap, args.ref)
    fixed = Path(args.body_file).read_bytes() if args.body_file else None
    planned = retry.plan(bootstrap, letter, fixed, args.content_type)
    if args.dry_run:
        print(f"would append {planned.origin} to {planned.topic}, key {planned.key.decode('utf-8', 'replace')}")
        for name, value in planned.headers:
            print(f"  {name}: {value.decode('utf-8', 'replace') if isinstance(value, bytes) else value}")
        return 0
    done = retry.append(bootstrap, planned)
    if args.json:
        _print_json({"dead_letter_id": letter.id, "topic": done.topic, "partition": done.partition,
                     "offset": done.offset, "key": done.key, "body_from": planned.origin})
    else:
        print(f"retried {letter.id} ({letter.fields['reason']}): appended {planned.origin} "
              f"to {done.topic} partition {done.partition} offset {done.offset} (key {done.key})")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    if args.canonical:
        return replay.new_streams_generation(args.app_id)
    return replay.replay_projections(args.workers, args.keep_old, args.no_swap)


def cmd_stack(args: argparse.Namespace) -> int:
    # The development stack is a tool of its own, run as its own process (`python -m stack`).
    return subprocess.call([sys.executable, "-m", "stack", args.action], cwd=PROJECT_ROOT)


def cmd_sync_pull(args: argparse.Namespace) -> int:
    try:
        runs = sync.pull(sync.ControlPlane.from_settings(get_settings()), args.tenant, args.module, args.full)
    except sync.SyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(runs)
    for run in runs if not args.json else []:
        print(f"{run['tenant']}: {run['status']}, {run['records']} records, {run['deletions']} deletions, "
              f"{run['calls']} calls" + (f" ({run['error']})" if run.get("error") else ""))
    return 0 if all(r["status"] == "done" for r in runs) else 3


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mzsync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS or the "
                                            "embedded stack)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    st = sub.add_parser("status", help="consumer lag, waiting records, dead letters, last Zoho outcomes",
                        description="Consumer lag of every group, records waiting in each streams worker, dead "
                                    "letters by tenant and reason, and the last Zoho outcomes.")
    st.add_argument("--streams-metrics", action="append", metavar="URL",
                    help=f"a streams worker's /metrics URL; repeat for each worker (default {DEFAULT_METRICS})")
    st.add_argument("--outcomes", type=int, default=10, metavar="N", help="how many Zoho outcomes (default 10)")
    st.add_argument("--tenant", help="only this tenant's dead letters and outcomes")
    st.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    st.set_defaults(func=cmd_status)

    dl = sub.add_parser("deadletter", help="list, show and retry dead letters",
                        description="Records that produced no canonical event, with why and where they are.")
    dls = dl.add_subparsers(dest="action", required=True, metavar="action")
    ls = dls.add_parser("list", help="dead letters, newest last", description="Dead letters, newest last, each once.")
    ls.add_argument("--tenant")
    ls.add_argument("--reason", help="e.g. invalid_record, unresolved_dependency")
    ls.add_argument("--limit", type=int, default=50, metavar="N", help="the newest N (default 50; 0 for all)")
    ls.add_argument("--json", action="store_true", help="a JSON array")
    ls.set_defaults(func=cmd_deadletter_list)
    sh = dls.add_parser("show", help="every field of one dead letter, body decoded",
                        description="Every field of one dead letter; the body pretty-printed when it is JSON, a "
                                    "form or an Avro event.")
    sh.add_argument("ref", help="deadletter:<partition>:<offset> or a dead_letter_id")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_deadletter_show)
    rt = dls.add_parser("retry", help="re-publish a dead letter's body (or a fixed one) to its raw topic",
                        description=retry.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rt.add_argument("ref", help="deadletter:<partition>:<offset> or a dead_letter_id")
    rt.add_argument("--body-file", metavar="FILE", help="send this body instead (e.g. the record, corrected)")
    rt.add_argument("--content-type", help="of --body-file (default: application/json if it parses as JSON, "
                                           "else the original's)")
    rt.add_argument("--dry-run", action="store_true", help="print what would be appended, append nothing")
    rt.add_argument("--json", action="store_true")
    rt.set_defaults(func=cmd_deadletter_retry)

    rp = sub.add_parser("replay", help="rebuild projections from offset 0, or (--canonical) the canonical topics",
                        description="Rebuild the PostgreSQL projections from the canonical topics (python -m "
                                    "projections replay), or with --canonical start a new streams generation that "
                                    "re-derives the canonical topics from raw.*.")
    rp.add_argument("--canonical", action="store_true", help="start a new streams generation instead")
    rp.add_argument("--app-id", help="with --canonical: the new STREAMS_APP_ID (default: the current one, -vN bumped)")
    rp.add_argument("--workers", type=int, help="replay worker processes")
    rp.add_argument("--keep-old", action="store_true", help="keep the replaced schema, renamed")
    rp.add_argument("--no-swap", action="store_true", help="build the fresh schema beside the live one")
    rp.set_defaults(func=cmd_replay)

    sk = sub.add_parser("stack", help="the embedded Kafka + PostgreSQL stack (python -m stack)",
                        description="Start, stop, inspect or delete the embedded stack (python -m stack).")
    sk.add_argument("action", choices=("start", "stop", "status", "reset"))
    sk.set_defaults(func=cmd_stack)

    sy = sub.add_parser("sync", help="ask the Zoho puller to read records now (through the control plane)",
                        description=sync.__doc__)
    sys_ = sy.add_subparsers(dest="action", required=True, metavar="action")
    sp = sys_.add_parser("pull", help="pull tenants' Zoho records now and follow the runs",
                         description="Trigger the Zoho puller for each tenant (default: every enabled one) and "
                                     "show each run's progress until it ends. Exit 3 if a run failed or paused.")
    sp.add_argument("--tenant", action="append", help="this tenant only; repeat for several")
    sp.add_argument("--module", help="one Zoho module (default: every enabled module)")
    sp.add_argument("--full", action="store_true", help="read every record again, not only what changed")
    sp.add_argument("--json", action="store_true", help="the finished runs as JSON")
    sp.set_defaults(func=cmd_sync_pull)

    dm = sub.add_parser("demo", help="send a realistic college through the real ingress and summarise",
                        description="Same as python -m ops.demo.")
    add_demo_arguments(dm)
    dm.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LogError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
