"""The stages' internal format: an event crosses a hop as JSON and still writes the same canonical Avro."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from streams.messages import Item, decode_batch, encode_batch, pack, unpack
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
