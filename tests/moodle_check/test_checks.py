"""The real-Moodle check's own judgement (it cannot run in CI: no Moodle source there): which webhooks belong to a
record, in which order the backend applies them, and when a row is a PASS."""

from __future__ import annotations

from typing import Any

from tools.moodle_check.checks import Result, _events, _states
from tools.moodle_check.site import moodle_release


def body(sequence: int | None, timestamp: int, **data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event_type": "enrollment_updated", "timestamp": timestamp, "data": data}
    if sequence is not None:
        out["sequence"] = sequence
    return out


def test_a_records_webhooks_in_the_plugins_sequence_not_arrival() -> None:
    # Delivered out of order (a retry went out later), all in the same second.
    raw = [body(3, 100, moodle_user_id=7, course_id=4, status=0), body(1, 100, moodle_user_id=7, course_id=4, status=0),
           body(2, 100, moodle_user_id=7, course_id=4, status=1), body(1, 100, moodle_user_id=8, course_id=4, status=1)]
    found = _events(raw, moodle_user_id=7, course_id=4)
    assert _states([str(b["data"]["status"]) for b in found]) == "0,1,0"


def test_without_a_sequence_the_timestamp_then_arrival_orders() -> None:
    raw = [body(None, 101, moodle_user_id=7, status=1), body(None, 100, moodle_user_id=7, status=0),
           body(None, 101, moodle_user_id=7, status=0)]
    assert _states([str(b["data"]["status"]) for b in _events(raw, moodle_user_id=7)]) == "0,1,0"


def test_states_collapse_repeats_but_keep_a_return_to_an_earlier_state() -> None:
    assert _states(["72/readyforrelease", "72/readyforrelease", "72/released"]) == "72/readyforrelease,72/released"
    assert _states(["0", "0", "0"]) == "0"  # suspend + reactivate built at delivery time: a FAIL against 0,1,0
    assert _states([]) == "none"


def test_a_row_passes_only_when_found_is_what_was_expected() -> None:
    assert Result("x", "status 0,1,0", "status 0,1,0").passed
    assert not Result("x", "status 0,1,0", "status 0").passed


def test_release_is_read_from_the_trees_version_php(tmp_path: Any) -> None:
    (tmp_path / "version.php").write_text("<?php\n$version  = 2023100900.00;\n$release  = '4.3 (Build: 20231009)';\n")
    assert moodle_release(tmp_path) == "4.3 (Build: 20231009)"
