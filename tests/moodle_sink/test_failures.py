"""What Moodle refuses becomes a dead letter and a failed outcome; a refused token stops only its tenant and loses
nothing; an outage is waited out and loses nothing."""

from __future__ import annotations

from collections import Counter

from tests.infra import Infra, wait_until
from tests.moodle_sink.conftest import (
    MoodleSite,
    SinkRunner,
    dead_letters,
    enrollment,
    klass,
    outcomes,
    produce,
    student,
    wait_outcomes,
)


def test_a_record_moodle_rejects_is_a_dead_letter_and_the_rest_of_its_batch_goes_in(
        infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    sinks.start([site.site()])
    produce(infra, [*(student(t, s) for s in range(10)), student(t, 10, email="no-at-sign")])
    found = {o["record_key"]: o for o in wait_outcomes(infra, t, 11)}
    assert Counter(o["action"] for o in found.values()) == {"created": 10, "failed": 1}
    bad = found["S00010"]
    assert bad["error_code"] == "invalidparameter" and "core_user_create_users" in bad["error_message"]
    assert len(site.users()) == 10
    (letter,) = dead_letters(infra, t)
    assert letter["reason"] == "moodle_rejected" and letter["record_id"] == "S00010"
    assert letter["raw"]["topic"] == "raw.zoho" and b"no-at-sign" in letter["body"]


def test_a_refused_token_stops_that_tenant_visibly_and_loses_nothing(
        infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    group = f"refused-{t}"
    # This token's user lacks moodle/user:create.
    sink = sinks.start([site.site(good_token=False)], group=group)
    produce(infra, [klass(t, 1, program_n=None, teacher_n=None), student(t, 1), student(t, 2),
                    enrollment(t, 1, 1)])
    assert wait_until(lambda: sink.metric("moodle_sink_tenant_refused", tenant=t) == 1, 30)
    assert wait_until(lambda: sink.metric("moodle_sink_parked", tenant=t, reason="refused") == 4, 30)
    assert site.users() == [] and outcomes(infra, t) == [] and dead_letters(infra, t) == []
    assert "moodle refuses this tenant's token" in sink.log.read_text()

    # The administrator grants the capability (here: the sink gets the full token); the parked writes go in.
    sink.proc.terminate()
    sink.proc.wait()
    fixed = sinks.start([site.site()], group=group)
    found = wait_outcomes(infra, t, 4)
    assert Counter(o["action"] for o in found) == {"created": 4}
    assert len(site.users()) == 2 and len(site.table("enrolments")) == 1
    assert wait_until(lambda: fixed.metric("moodle_sink_parked", tenant=t, reason="refused") == 0, 10)
    assert fixed.metric("moodle_sink_tenant_refused", tenant=t) == 0


def test_an_outage_is_waited_out_and_loses_nothing(infra: Infra, site: MoodleSite, sinks: SinkRunner) -> None:
    t = site.tenant
    sinks.start([site.site()], MOODLE_ATTEMPTS="2")
    # The web server answers 503 to the next calls (more than the client's attempts), then a timeout.
    site.emu.faults(next=["503"] * 5 + ["timeout"])
    produce(infra, [klass(t, 1, program_n=None, teacher_n=None), *(student(t, s) for s in range(5)),
                    *(enrollment(t, s, 1) for s in range(5))])
    found = wait_outcomes(infra, t, 11, timeout=90)
    assert Counter(o["action"] for o in found) == {"created": 11} or \
        Counter(o["action"] for o in found) == {"created": 10, "linked": 1}
    assert len(site.users()) == 5 and len(site.table("enrolments")) == 5
    assert len(site.table("courses")) == 2  # the site course and ours: a create retried is not doubled
    assert dead_letters(infra, t) == []
