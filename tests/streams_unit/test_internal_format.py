"""The stages' internal format: an event crosses a hop as JSON and still writes the same canonical Avro."""

from __future__ import annotations

from pathlib import Path

from streams.messages import Item, decode_batch, encode_batch, pack, unpack
from tests.streams_unit.support import SAMPLES, events, parse

ZOHO = {"student": "BTEC_Students", "class": "BTEC_Classes", "grade": "BTEC_Grades", "payment": "BTEC_Payments",
        "enrollment": "BTEC_Enrollments", "registration": "BTEC_Registrations"}


def _samples() -> list[tuple[str, str, bytes]]:
    out = []
    for path in sorted(Path(SAMPLES).rglob("*.json")):
        source = "moodle" if "moodle" in str(path) else "zoho"
        out.append((source, path.stem, path.read_bytes()))
    return out


def test_every_sample_event_survives_a_hop_byte_for_byte() -> None:
    crossed = 0
    for source, stem, body in _samples():
        kinds = [stem.split(".")[0]] + list(ZOHO.values())
        for kind in kinds:
            for ev in events(parse(source, kind, body)):  # type: ignore[arg-type]
                item = Item("t/x", "k", None, None, pack(ev))
                (back,) = decode_batch(encode_batch([item]))
                again = unpack(back.event)
                assert again.to_avro() == ev.to_avro(), (stem, kind)
                assert again.event_id == ev.event_id and again.fingerprint == ev.fingerprint
                crossed += 1
    assert crossed >= 10  # dates, times, lookups and amounts among them
