"""What Zoho never sent reaches the product: a first full load, changes and deletions whose webhooks failed,
and a repeated pull that adds nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from control.commands import CommandWriter
from schemas.codec import decode
from tests.infra import Infra, end_offsets, read_records
from tests.pullers.conftest import College
from tests.zoho_emulator.harness import students

STUDENTS = "SELECT id, academic_email, city FROM student WHERE tenant = %s ORDER BY id"


def canonical_students(infra: Infra, tenant: str, start: dict[int, int] | None = None) -> list[dict[str, object]]:
    prefix = f"{tenant}/".encode()
    return [decode(r.value)[1] for r in read_records(infra.bootstrap, "canonical.student", start)
            if r.key and r.key.startswith(prefix) and r.value]


def ask_pull(infra: Infra, tenant: str, full: bool = False) -> str:
    async def send() -> str:
        writer = CommandWriter(infra.bootstrap)
        try:
            return str((await writer.pull(tenant, None, full, "test"))["command_id"])
        finally:
            writer.close()

    return asyncio.run(send())


def test_first_pull_loads_everything_past_2000_records_and_a_repeat_adds_nothing(infra: Infra,
                                                                                 college: College) -> None:
    # Records created before the webhooks were switched on, spread over a day of changes.
    start = datetime.now(UTC) - timedelta(days=1)
    ids = college.emu.seed("BTEC_Students", students(2300, domain="abchorizon.com"), tenant=college.tenant,
                           created_start=start, modified_start=start, modified_step_s=30)
    college.start_puller(modules=["BTEC_Students"])
    (first,) = college.wait_runs_done(1, timeout=240)
    assert (first["status"], first["error"]) == ("done", None)
    # Each page starts again from the last second read, so that second's record comes twice (never one less).
    assert 2300 <= first["records"] <= 2300 + 13
    rows = college.wait_rows(STUDENTS, lambda r: len(r) == 2300, timeout=300)
    assert {r[0] for r in rows} == set(ids)
    # Beyond 2,000 records Zoho pages only by token; the puller asked for pages, never more than it needed.
    lists = [c for c in college.emu.calls(college.tenant) if c["operation"] == "list"]
    assert 12 <= len(lists) <= 14, len(lists)

    events_before = end_offsets(infra.bootstrap, "canonical.student")
    writes_before = [c for c in college.emu.calls(college.tenant) if c["method"] in ("POST", "PUT", "DELETE")]
    ask_pull(infra, college.tenant, full=True)
    runs = college.wait_runs_done(2, timeout=240)
    assert [r["status"] for r in runs] == ["done", "done"] and runs[1]["records"] >= 2300
    college.streams_settle()
    # Pulled again, every record is one the streams already hold: no canonical event, no write to Zoho.
    assert canonical_students(infra, college.tenant, events_before) == []
    writes_after = [c for c in college.emu.calls(college.tenant) if c["method"] in ("POST", "PUT", "DELETE")]
    assert writes_after == writes_before


def test_changes_whose_webhooks_failed_arrive_with_the_next_pull(infra: Infra, college: College) -> None:
    ids = college.emu.seed("BTEC_Students", students(40, domain="abchorizon.com"), tenant=college.tenant)
    college.start_puller(modules=["BTEC_Students"])
    college.wait_runs_done(1)
    college.wait_rows(STUDENTS, lambda r: len(r) == 40)

    # The ingress is down (the emulator's webhooks go nowhere): a registrar adds, changes and deletes records.
    with college.api() as api:
        added = api.post("/BTEC_Students", json={"data": students(5, start=100, domain="abchorizon.com")})
        assert added.status_code == 201, added.text
        new_ids = [item["details"]["id"] for item in added.json()["data"]]
        changed = api.put("/BTEC_Students", json={"data": [{"id": i, "City": "Aleppo"} for i in ids[:5]]})
        assert changed.status_code == 200, changed.text
        gone = api.delete("/BTEC_Students", params={"ids": ",".join(ids[5:10])})
        assert gone.status_code == 200, gone.text
    failed = [d for d in college.emu.admin("GET", "webhooks")["deliveries"] if d["record_id"] in
              {*new_ids, *ids[:10]}]
    assert failed and all(d.get("status") != 202 for d in failed), failed[:3]

    ask_pull(infra, college.tenant)
    runs = college.wait_runs_done(2)
    assert (runs[1]["status"], runs[1]["deletions"]) == ("done", 5)
    expected = sorted({*ids[:5], *ids[10:], *new_ids})
    rows = college.wait_rows(STUDENTS, lambda r: sorted(x[0] for x in r) == expected
                             and sum(1 for x in r if x[2] == "Aleppo") == 5)
    assert {x[0] for x in rows if x[2] == "Aleppo"} == set(ids[:5])
    # Zoho holds the same records the projections now show.
    assert sorted(r["id"] for r in college.emu.records("BTEC_Students", college.tenant)) == expected
