"""The stages' internal format: an event crosses a hop as JSON and still writes the same canonical Avro."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from streams.messages import Item, decode_batch, encode_batch, pack, unpack
from streams.outbox import MAX_MESSAGE_BYTES, Outbox
from tests.streams_unit.support import SAMPLES, events, parse

ZOHO = {"student": "BTEC_Students", "class": "BTEC_Classes", "grade": "BTEC_Grades", "payment": "BTEC_Payments",
        "enrollment": "BTEC_Enrollments", "registration": "BTEC_Registrations"}


def _samples() -> list[tuple[Literal["zoho", "moodle"], list[str], bytes]]:
    """(source, kinds to parse it as, body): a Moodle sample is named after its event; a Zoho one is tried as
    every module (those it is not give dead letters, which are skipped)."""
    out: list[tuple[Literal["zoho", "moodle"], list[str], bytes]] = []
    for path in sorted(Path(SAMPLES).rglob("*.json")):
        if path.parent.name == "moodle":
            out.append(("moodle", [path.stem], path.read_bytes()))
        else:
            out.append(("zoho", list(ZOHO.values()), path.read_bytes()))
    return out


def test_every_sample_event_survives_a_hop_byte_for_byte() -> None:
    crossed = 0
    for source, kinds, body in _samples():
        for kind in kinds:
            for ev in events(parse(source, kind, body)):
                item = Item("t/x", "k", None, None, pack(ev))
                (back,) = decode_batch(encode_batch([item]))
                again = unpack(back.event)
                assert again.to_avro() == ev.to_avro(), (source, kind)
                assert again.event_id == ev.event_id and again.fingerprint == ev.fingerprint
                crossed += 1
    assert crossed >= 10  # dates, times, lookups and amounts among them


def test_large_records_are_spread_over_stage_messages_within_the_byte_bound() -> None:
    outbox = Outbox(4)
    items = [Item(f"t/{i}", "student", None, None, ["x" * (60 * 1024), i]) for i in range(50)]
    for item in items:
        outbox.add("stage", item, partition=1)
    messages = outbox.take()
    # Fifty 60 KB records: well within the count per message, over the byte bound in one.
    assert len(messages) > 1
    assert all(len(value) <= MAX_MESSAGE_BYTES for _, _, value in messages)
    assert [item for _, _, value in messages for item in decode_batch(value)] == items
    # A single record over the bound still goes, alone.
    outbox.add("stage", Item("t/big", "student", None, None, ["y" * MAX_MESSAGE_BYTES]), partition=1)
    [(_, _, value)] = outbox.take()
    assert decode_batch(value)[0].key == "t/big"
