"""Records per second and Moodle calls per 100 records of the Moodle sink, against the Moodle emulator.

    python -m bench.moodle_sink [--students 2000] [--classes 20]

Puts a program, `--classes` classes and `--students` students (each enrolled in one class) of a tenant of its own
on the canonical topics, starts the sink and times three rounds: everything new (users, courses, enrolments
created), the same events again (unchanged: no write call), and every student renamed (one update each). Each
round reports records/s and, from the emulator's call log, the web-service calls (all, and the create/update/enrol
ones) per 100 records. Uses KAFKA_BOOTSTRAP_SERVERS + DATABASE_URL when both are set, else an embedded stack of
its own in .stack-bench-moodle-sink/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from bench.zoho_sink import _process
from common.kafka_admin import ensure_topics
from common.settings import PROJECT_ROOT, Settings
from schemas.codec import encode
from schemas.topics import contract_topics
from stack.config import StackConfig
from stack.embedded import EmbeddedStack
from stack.process import free_port

TENANT = "bench"
TOKEN = "bench-moodle-token-0123456789"
READS = ("core_user_get_users_by_field", "core_course_get_categories", "core_course_get_courses_by_field")
Message = tuple[str, bytes, bytes]


def _event(entity: str, zoho_id: str, version: int, payload: dict[str, Any]) -> Message:
    at = 1_760_000_000_000 + version
    kind = entity.capitalize()
    value = encode(f"canonical.{entity}", {
        "event_id": f"{TENANT}-{entity}-{zoho_id}-{version}", "event_type": f"{kind}Upserted", "tenant": TENANT,
        "entity": entity, "entity_id": zoho_id, "origin": "zoho", "occurred_at": at, "received_at": at,
        "source_version": at, "raw": {"topic": "raw.zoho", "partition": 0, "offset": 0}, "record_index": 0,
        "fingerprint": f"{zoho_id}-{version}", "warnings": [], "payload": payload})
    return f"canonical.{entity}", f"{TENANT}/{zoho_id}".encode(), value


def _college(students: int, classes: int, version: int) -> list[Message]:
    out = [_event("program", "P1", 1, {"zoho_id": "P1", "name": "Bench program"})]
    for c in range(classes):
        out.append(_event("class", f"C{c}", 1, {
            "zoho_id": f"C{c}", "name": f"Bench class {c}", "program_id": "P1", "status": "Active",
            "start_date": date(2026, 9, 1)}))
    for s in range(students):
        out.append(_event("student", f"S{s}", version, {
            "zoho_id": f"S{s}", "student_number": f"STU{s:06d}", "first_name": f"First{s}",
            "last_name": f"Last{s}" if version == 1 else f"Renamed{s}",
            "academic_email": f"s{s}@bench-college.com", "status": "Active"}))
    for s in range(students):
        out.append(_event("enrollment", f"E{s}", 1, {
            "zoho_id": f"E{s}", "student_id": f"S{s}", "class_id": f"C{s % classes}",
            "start_date": date(2026, 9, 1)}))
    return out


def _outcomes(metrics_url: str) -> float:
    total = 0.0
    for line in httpx.get(metrics_url).text.splitlines():
        if line.startswith("moodle_sink_outcomes_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _round(name: str, bootstrap: str, messages: list[Message], emu: str, metrics_url: str) -> dict[str, Any]:
    calls_before = httpx.get(f"{emu}/__emulator/calls/counts", params={"tenant": TENANT}).json()["counts"]
    done_before = _outcomes(metrics_url)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"})
    started = time.monotonic()
    for topic, key, value in messages:
        producer.produce(topic, value, key)
        producer.poll(0)
    producer.flush(60)
    while _outcomes(metrics_url) < done_before + len(messages):
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    counts = httpx.get(f"{emu}/__emulator/calls/counts", params={"tenant": TENANT}).json()["counts"]
    made = {f: n - calls_before.get(f, 0) for f, n in counts.items() if n - calls_before.get(f, 0)}
    calls = sum(made.values())
    writes = sum(n for f, n in made.items() if f not in READS)
    return {"round": name, "records": len(messages), "seconds": elapsed, "per_s": len(messages) / elapsed,
            "calls": calls, "writes": writes, "per100": 100 * calls / len(messages),
            "writes_per100": 100 * writes / len(messages)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--classes", type=int, default=20)
    args = ap.parse_args()
    settings = Settings()
    if settings.kafka_bootstrap_servers and settings.database_url:
        bootstrap, dsn = settings.kafka_bootstrap_servers, settings.database_url
    else:
        cfg = StackConfig(root=PROJECT_ROOT / ".stack-bench-moodle-sink", kafka_port=23492, controller_port=23493,
                          pg_port=23832)
        stack = EmbeddedStack(cfg, partitions=4)
        stack.reset()
        stack.start()
        bootstrap, dsn = cfg.kafka_bootstrap, cfg.database_url
    ensure_topics(bootstrap, contract_topics(4))
    work = Path(tempfile.mkdtemp(prefix="bench-moodle-sink-"))
    emu_port, metrics_port = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    (work / "emulator.json").write_text(json.dumps({"sites": [{"tenant": TENANT, "tokens": [
        {"token": TOKEN, "username": "zohosync"}]}]}))
    with _process(["stack.moodle_emulator", "--port", str(emu_port), "--config", str(work / "emulator.json")], {},
                  work / "emulator.log", f"{emu}/healthz"):
        sites = {"sites": [{"tenant": TENANT, "url": emu, "token": TOKEN}]}
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": dsn, "MOODLE_SITES_JSON": json.dumps(sites),
               "MOODLE_SINK_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}", "MOODLE_SINK_METRICS_PORT": str(metrics_port),
               "LOG_LEVEL": "WARNING"}
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        with _process(["sinks.moodle"], env, work / "sink.log", metrics_url):
            first = _college(args.students, args.classes, 1)
            rounds = [_round("new", bootstrap, first, emu, metrics_url),
                      _round("unchanged", bootstrap, first, emu, metrics_url),
                      _round("renamed", bootstrap, _college(args.students, args.classes, 2), emu, metrics_url)]
    print(f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{args.students} students in {args.classes} classes")
    print(f"{'round':<10} {'records':>8} {'seconds':>8} {'records/s':>10} {'calls':>6} {'writes':>7} "
          f"{'calls/100':>10} {'writes/100':>11}")
    for r in rounds:
        print(f"{r['round']:<10} {r['records']:>8} {r['seconds']:>8.2f} {r['per_s']:>10,.0f} {r['calls']:>6} "
              f"{r['writes']:>7} {r['per100']:>10.2f} {r['writes_per100']:>11.2f}")


if __name__ == "__main__":
    main()
