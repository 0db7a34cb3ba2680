"""`mzsync status`: is the pipeline keeping up, what is waiting, what failed, what Zoho answered."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from common.log import LogError
from ops import deadletters
from ops.lag import GroupLag, consumer_lag
from ops.outcomes import last_outcomes
from ops.waiting import WorkerWaiting, scrape
from schemas.topics import MOODLE_OUTCOMES


@dataclass
class Status:
    groups: list[GroupLag] = field(default_factory=list)
    waiting: list[WorkerWaiting] = field(default_factory=list)
    dead_letters: dict[str, dict[str, int]] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    moodle_outcomes: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "consumer_groups": [{**asdict(g), "total": g.total} for g in self.groups],
            "waiting": [{**asdict(w), "total": w.total} for w in self.waiting],
            "dead_letters": self.dead_letters,
            "zoho_outcomes": self.outcomes,
            "moodle_outcomes": self.moodle_outcomes,
            "zoho_pulls": self.pulls,
            "errors": self.errors,
        }


def pull_state(dsn: str, tenant: str | None) -> list[dict[str, Any]]:
    """The Zoho puller's watermark and last run per tenant and module (none before its first start)."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT tenant, module, watermark, last_finished_at, last_status, last_error, records_total,"
                        " deletions_total FROM zoho_pull_state WHERE %(t)s::text IS NULL OR tenant = %(t)s"
                        " ORDER BY tenant, module", {"t": tenant})
            return cur.fetchall()
    except psycopg.errors.UndefinedTable:
        return []


def gather(bootstrap: str, metrics_urls: list[str], outcomes: int, tenant: str | None,
           dsn: str | None = None) -> Status:
    status = Status(waiting=[scrape(url) for url in metrics_urls])
    try:
        status.groups = consumer_lag(bootstrap)
    except LogError as exc:
        status.errors.append(f"consumer lag: {exc}")
    try:
        status.dead_letters = deadletters.counts_by_reason(deadletters.load(bootstrap, tenant=tenant))
    except LogError as exc:
        status.errors.append(f"dead letters: {exc}")
    try:
        status.outcomes = last_outcomes(bootstrap, outcomes, tenant)
    except LogError as exc:
        status.errors.append(f"zoho outcomes: {exc}")
    try:
        status.moodle_outcomes = last_outcomes(bootstrap, outcomes, tenant, MOODLE_OUTCOMES)
    except LogError as exc:
        status.errors.append(f"moodle outcomes: {exc}")
    if dsn is not None:
        try:
            status.pulls = pull_state(dsn, tenant)
        except psycopg.Error as exc:
            status.errors.append(f"zoho pulls: {exc}")
    return status


def render(status: Status, console: Console) -> None:
    lag = Table(title="Consumer lag (records behind the end of each topic)", title_justify="left")
    for column in ("group", "state", "topic", "lag"):
        lag.add_column(column, justify="right" if column == "lag" else "left")
    for group in status.groups:
        lag.add_row(group.group, group.state, "(all)", f"{group.total:,}", style="bold")
        for topic, behind in group.topics.items():
            lag.add_row("", "", topic, f"{behind:,}")
    console.print(lag if status.groups else "Consumer lag: no consumer groups with committed offsets")

    waiting = Table(title="Records waiting for a dependency (streams workers)", title_justify="left")
    waiting.add_column("worker")
    waiting.add_column("by stage")
    waiting.add_column("total", justify="right")
    for w in status.waiting:
        stages = ", ".join(f"{stage} {n:,}" for stage, n in w.by_stage.items()) or "-"
        waiting.add_row(w.url, w.error or stages, "" if w.error else f"{w.total:,}")
    console.print(waiting)

    dead = Table(title="Dead letters (distinct) by tenant and reason", title_justify="left")
    for column in ("tenant", "reason", "count"):
        dead.add_column(column, justify="right" if column == "count" else "left")
    for tenant, reasons in status.dead_letters.items():
        for reason, n in reasons.items():
            dead.add_row(tenant, reason, f"{n:,}")
    console.print(dead if status.dead_letters else "Dead letters: none")

    outcomes = Table(title="Last Zoho outcomes (newest last)", title_justify="left")
    for column in ("at", "tenant", "module", "record", "action", "zoho id", "attempt", "error"):
        outcomes.add_column(column)
    for o in status.outcomes:
        error = " ".join(x for x in (o.get("error_code"), o.get("error_message")) if x)
        outcomes.add_row(f"{o['occurred_at']:%Y-%m-%d %H:%M:%S}", o["tenant"], o["module"], o["record_key"],
                         o["action"], o.get("zoho_id") or "", str(o["attempt"]), error)
    console.print(outcomes if status.outcomes else "Zoho outcomes: none yet")

    moodle = Table(title="Last Moodle outcomes (newest last)", title_justify="left")
    for column in ("at", "tenant", "entity", "record", "action", "moodle id", "attempt", "error"):
        moodle.add_column(column)
    for o in status.moodle_outcomes:
        error = " ".join(x for x in (o.get("error_code"), o.get("error_message")) if x)
        moodle.add_row(f"{o['occurred_at']:%Y-%m-%d %H:%M:%S}", o["tenant"], o["entity"], o["record_key"],
                       o["action"], o.get("moodle_id") or "", str(o["attempt"]), error)
    console.print(moodle if status.moodle_outcomes else "Moodle outcomes: none yet")

    pulls = Table(title="Zoho pulls (what the puller has read, per module)", title_justify="left")
    for column in ("tenant", "module", "changed up to", "last run", "status", "records", "deleted"):
        pulls.add_column(column, justify="right" if column in ("records", "deleted") else "left")
    for p in status.pulls:
        pulls.add_row(p["tenant"], p["module"], f"{p['watermark']:%Y-%m-%d %H:%M:%S}" if p["watermark"] else "-",
                      f"{p['last_finished_at']:%Y-%m-%d %H:%M:%S}" if p["last_finished_at"] else "-",
                      p["last_status"] or "" if not p["last_error"] else f"{p['last_status']}: {p['last_error']}",
                      f"{p['records_total']:,}", f"{p['deletions_total']:,}")
    console.print(pulls if status.pulls else "Zoho pulls: none yet")

    for error in status.errors:
        console.print(f"[red]error:[/red] {error}")
