"""What the demo sent, and what the system holds for the demo tenant afterwards."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from common.log import scan
from ops.college.webhooks import Plan
from ops.demo.send import SendReport
from schemas.codec import UnknownSchemaError, decode
from schemas.topics import CANONICAL_ENTITIES, DEADLETTER, canonical


@dataclass
class Observed:
    events: Counter[str] = field(default_factory=Counter)  # entity → events
    ids: dict[str, set[str]] = field(default_factory=dict)  # entity → distinct entity ids
    grade_attempts: Counter[tuple[str, int]] = field(default_factory=Counter)  # GradeRecorded per attempt
    dead_letters: Counter[str] = field(default_factory=Counter)  # reason → distinct letters
    dead_records: set[str] = field(default_factory=set)  # record ids with a dead letter

    def distinct(self, entity: str) -> int:
        return len(self.ids.get(entity, ()))


def observe(bootstrap: str, tenant: str) -> Observed:
    seen = Observed()
    prefix = f"{tenant}/".encode()
    for entity in CANONICAL_ENTITIES:
        for record in scan(bootstrap, canonical(entity)):
            if not (record.key or b"").startswith(prefix):
                continue
            _, event = decode(record.value or b"")
            seen.events[entity] += 1
            seen.ids.setdefault(entity, set()).add(event["entity_id"])
            if event["event_type"] == "GradeRecorded":
                seen.grade_attempts[(event["entity_id"], (event["payload"] or {}).get("attempt_number") or 1)] += 1
    letters: set[str] = set()
    for record in scan(bootstrap, DEADLETTER):
        try:
            _, letter = decode(record.value or b"")
        except UnknownSchemaError:
            continue
        if letter["tenant"] != tenant or letter["dead_letter_id"] in letters:
            continue
        letters.add(letter["dead_letter_id"])
        seen.dead_letters[letter["reason"]] += 1
        if letter["record_id"]:
            seen.dead_records.add(letter["record_id"])
    return seen


def missing(plan: Plan, seen: Observed) -> dict[str, str]:
    """What the system does not (yet) hold of what the plan expects: entity → `have/expected`."""
    exp = plan.expected
    short = {entity: f"{seen.distinct(entity)}/{n}" for entity, n in exp.entities.items() if seen.distinct(entity) < n}
    attempts = sum(1 for key in exp.moodle_attempts if seen.grade_attempts[key] == 0)
    if attempts:
        short["Moodle grade attempts"] = f"{len(exp.moodle_attempts) - attempts}/{len(exp.moodle_attempts)}"
    invalid = sum(1 for sid in exp.invalid_students if sid not in seen.dead_records)
    if invalid:
        short["invalid students dead-lettered"] = f"{len(exp.invalid_students) - invalid}/{len(exp.invalid_students)}"
    return short


def wait_settled(bootstrap: str, tenant: str, plan: Plan, within: float, console: Console) -> Observed:
    """Poll the log until it holds everything the plan expects, or `within` seconds pass."""
    deadline = time.monotonic() + within
    with console.status("waiting for the streams to process the college…") as spinner:
        while True:
            seen = observe(bootstrap, tenant)
            short = missing(plan, seen)
            if not short or time.monotonic() >= deadline:
                return seen
            spinner.update("waiting for the streams: " + ", ".join(f"{k} {v}" for k, v in short.items()))
            time.sleep(2)


def emulator_grades(url: str, tenant: str) -> int | str:
    try:
        resp = httpx.get(f"{url.rstrip('/')}/__emulator/records/BTEC_Grades", params={"tenant": tenant}, timeout=3)
        resp.raise_for_status()
        return int(resp.json()["count"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return f"not reachable ({type(exc).__name__})"


def projection_counts(dsn: str, schema: str, tenant: str) -> dict[str, int] | str:
    """Rows of the demo tenant in the projections, if the projector has created its tables."""
    tables = ("student", "registration", "enrollment", "payment", "grade_attempt", "dead_letter")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            out = {}
            for table in tables:
                found = conn.execute("SELECT to_regclass(%s)", (f"{schema}.{table}",)).fetchone()
                if found is None or found[0] is None:
                    continue
                query = sql.SQL("SELECT count(*) FROM {}.{} WHERE tenant = %s").format(sql.Identifier(schema),
                                                                                         sql.Identifier(table))
                row = conn.execute(query, (tenant,)).fetchone()
                out[table] = int(row[0]) if row else 0
            return out or f"no projection tables in schema {schema!r} (is the projector running?)"
    except psycopg.Error as exc:
        return f"database not reachable ({type(exc).__name__})"


def report_json(plan: Plan, sent: SendReport, seen: Observed | None, emulator: int | str,
                projections: dict[str, int] | str) -> dict[str, Any]:
    return {
        "seed": plan.seed,
        "sent": {entity: dict(labels) for entity, labels in sorted(plan.sent().items())},
        "accepted": sent.accepted,
        "rejected": [{"path": r.path, "status": status, "answer": text[:200]} for r, status, text in sent.rejected],
        "retries": dict(sent.retries),
        "expected": plan.expected.entities | {"moodle_grade_attempts": len(plan.expected.moodle_attempts),
                                              "invalid_students": len(plan.expected.invalid_students)},
        "system": None if seen is None else {
            "events": dict(seen.events), "distinct": {e: len(ids) for e, ids in seen.ids.items()},
            "grade_recorded": sum(seen.grade_attempts.values()), "dead_letters": dict(seen.dead_letters),
            "missing": missing(plan, seen),
        },
        "zoho_emulator_btec_grades": emulator,
        "projections": projections,
    }


def render(plan: Plan, sent: SendReport, seen: Observed | None, emulator: int | str,
           projections: dict[str, int] | str, console: Console) -> None:
    table = Table(title=f"Sent (seed {plan.seed})", title_justify="left")
    for column in ("entity", "new", "redelivered", "resent", "invalid", "expected in the system", "events",
                   "distinct ids"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity, labels in sorted(plan.sent().items()):
        table.add_row(entity, *(str(labels[k]) for k in ("new", "redelivery", "resend", "invalid")),
                      str(plan.expected.entities.get(entity, "")),
                      "-" if seen is None else str(seen.events[entity]),
                      "-" if seen is None else str(seen.distinct(entity)))
    console.print(table)
    console.print(f"ingress: {sent.accepted} accepted, {len(sent.rejected)} rejected"
                  + (f", retries {dict(sent.retries)}" if sent.retries else ""))
    for req, status, text in sent.rejected[:10]:
        console.print(f"  [red]{status}[/red] {req.path}: {text[:160]}")
    if seen is not None:
        recorded = sum(seen.grade_attempts.values())
        console.print(f"GradeRecorded events: {recorded} (expected: Moodle attempts "
                      f"{len(plan.expected.moodle_attempts)}, Zoho grades {len(plan.expected.zoho_grades)})")
        console.print("dead letters: " + (", ".join(f"{r} {n}" for r, n in sorted(seen.dead_letters.items()))
                                          or "none")
                      + f" (invalid students sent: {len(plan.expected.invalid_students)})")
        short = missing(plan, seen)
        console.print("[green]the system holds everything the plan expects[/green]" if not short else
                      "[yellow]not (yet) in the system:[/yellow] " + ", ".join(f"{k} {v}" for k, v in short.items()))
    console.print(f"Zoho emulator BTEC_Grades records: {emulator}")
    if isinstance(projections, str):
        console.print(f"projections: {projections}")
    else:
        console.print("projections: " + ", ".join(f"{t} {n}" for t, n in projections.items()))

