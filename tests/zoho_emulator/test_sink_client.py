"""The sink's Zoho client against the emulator over real HTTP: tokens, batching, retries, per-record results."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from pydantic import SecretStr

from common.zoho.client import ZohoClient
from common.zoho.config import ClientSettings, ZohoAccount
from common.zoho.errors import ZohoAuthError, ZohoRetriesExhausted
from common.zoho.results import RecordFailure, RecordSuccess
from tests.zoho_emulator.harness import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Emulator, Receiver

FAST = ClientSettings(timeout_s=5, backoff_base_s=0.01, backoff_cap_s=0.05)
KEY = "Moodle_Grade_Composite_Key"


def _account(emulator: Emulator, refresh_token: str = REFRESH_TOKEN) -> ZohoAccount:
    return ZohoAccount(tenant="default", accounts_url=emulator.url, api_domain=emulator.url, client_id=CLIENT_ID,
                       client_secret=SecretStr(CLIENT_SECRET), refresh_token=SecretStr(refresh_token))


def _client(emulator: Emulator, settings: ClientSettings = FAST, **kwargs: Any) -> ZohoClient:
    return ZohoClient(_account(emulator), settings, rng=random.Random(3), **kwargs)


async def _student(client: ZohoClient, email: str = "s@college.test") -> str:
    (result,) = await client.upsert("BTEC_Students", [{"Academic_Email": email}], ["Academic_Email"])
    assert isinstance(result, RecordSuccess)
    return result.id


def _grades(student: str, n: int, start: int = 0, grade: str = "P") -> list[dict[str, Any]]:
    return [{"Student": {"id": student}, KEY: f"u{i}_a1", "Grade": grade} for i in range(start, start + n)]


async def test_one_token_refresh_for_50_concurrent_calls(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        student = await _student(client)
        results = await asyncio.gather(*(client.get("BTEC_Students", student) for _ in range(50)))
    assert all(r is not None and r["id"] == student for r in results)
    assert client.tokens.refreshes == 1
    assert emulator.admin("GET", "state")["live_tokens"] == 1
    assert emulator.metric('zoho_emulator_token_requests_total{outcome="issued"}') >= 1


async def test_refresh_once_on_invalid_token_and_retry_the_call(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        student = await _student(client)
        emulator.faults(expire_tokens_now=True)
        results = await asyncio.gather(*(client.get("BTEC_Students", student) for _ in range(10)))
    assert all(r is not None for r in results)
    assert client.tokens.refreshes == 2
    statuses = [c["status"] for c in emulator.calls()]
    assert 401 in statuses and statuses[-1] == 200


async def test_refresh_before_expiry_without_a_401(emulator: Emulator) -> None:
    now = [1000.0]
    async with _client(emulator, clock=lambda: now[0]) as client:
        student = await _student(client)
        now[0] += 3600 - 300 + 1  # inside the refresh margin
        emulator.advance(3600 - 300 + 1)
        assert await client.get("BTEC_Students", student) is not None
    assert client.tokens.refreshes == 2
    assert 401 not in [c["status"] for c in emulator.calls()]


async def test_refresh_limit_is_respected_locally(emulator: Emulator) -> None:
    # The emulator's counters span the session: compare before and after.
    denied_before = emulator.metric('zoho_emulator_token_requests_total{outcome="Access Denied"}')
    async with _client(emulator) as client:
        student = await _student(client)
        for _ in range(9):
            emulator.faults(expire_tokens_now=True)
            assert await client.get("BTEC_Students", student) is not None
        emulator.faults(expire_tokens_now=True)
        with pytest.raises(ZohoAuthError) as raised:
            await client.get("BTEC_Students", student)
    assert raised.value.code == "REFRESH_LIMIT" and raised.value.retry_after_s is not None
    assert client.tokens.refreshes == 10
    assert emulator.metric('zoho_emulator_token_requests_total{outcome="Access Denied"}') == denied_before


async def test_bad_refresh_token_raises_auth_error(emulator: Emulator) -> None:
    async with ZohoClient(_account(emulator, "1000.revoked"), FAST) as client:
        with pytest.raises(ZohoAuthError) as raised:
            await client.get("BTEC_Students", "4876876000000400001")
    assert raised.value.code == "invalid_code"


async def test_101_records_go_in_two_calls_with_trigger_empty(emulator: Emulator, receiver: Receiver) -> None:
    async with _client(emulator) as client:
        student = await _student(client)
        results = await client.upsert("BTEC_Grades", _grades(student, 101), [KEY])
    assert [r.index for r in results] == list(range(101))
    assert all(isinstance(r, RecordSuccess) and r.action == "created" for r in results)
    upserts = [c for c in emulator.calls() if c["path"] == "/crm/v8/BTEC_Grades/upsert"]
    assert [(c["records"], c["credits"]) for c in upserts] == [(100, 10), (1, 1)]
    stored = {g[KEY]: g["id"] for g in emulator.records("BTEC_Grades")}
    assert len(stored) == 101 and all(stored[f"u{i}_a1"] == r.id for i, r in enumerate(results)
                                      if isinstance(r, RecordSuccess))
    await asyncio.sleep(0.3)
    assert receiver.snapshot() == [] and emulator.admin("GET", "webhooks")["deliveries"] == []


async def test_per_record_errors_are_returned_in_input_order(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        student = await _student(client)
        await client.upsert("BTEC_Grades", _grades(student, 1), [KEY])
        results = await client.upsert("BTEC_Grades", [
            {"Student": {"id": student}, KEY: "new_1", "Grade": "D"},
            {"Student": {"id": student}, KEY: "new_2", "Grade": "Distinction"},
            {KEY: "new_3"},
            {KEY: "u0_a1", "Grade": "M"},
        ], [KEY])
        updated = await client.update("BTEC_Grades", [{"id": "4876876000999999999", "Grade": "P"}])
    ok, picklist, mandatory, update = results
    assert isinstance(ok, RecordSuccess) and ok.action == "created" and ok.duplicate_field is None
    assert isinstance(picklist, RecordFailure) and picklist.index == 1
    assert picklist.code == "INVALID_DATA" and picklist.field == "Grade"
    assert isinstance(mandatory, RecordFailure) and mandatory.code == "MANDATORY_NOT_FOUND"
    assert mandatory.field == "Student"
    assert isinstance(update, RecordSuccess) and update.action == "updated" and update.duplicate_field == KEY
    (bad_id,) = updated
    assert isinstance(bad_id, RecordFailure) and bad_id.code == "INVALID_DATA" and bad_id.field == "id"
    grades = {g[KEY]: g["Grade"] for g in emulator.records("BTEC_Grades")}
    assert grades == {"u0_a1": "M", "new_1": "D"}


async def test_duplicate_data_exposes_the_existing_id(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        first = await _student(client, "a@college.test")
        second = await _student(client, "b@college.test")
        (result,) = await client.update("BTEC_Students", [{"id": second, "Academic_Email": "A@college.test"}])
    assert isinstance(result, RecordFailure) and result.code == "DUPLICATE_DATA" and result.existing_id == first


async def test_backoff_on_20_percent_429s_reaches_the_right_final_state(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        student = await _student(client)
        emulator.faults(rate_429=0.2, seed=11)
        batches = [_grades(student, 5, start=i * 5, grade="M") for i in range(40)]
        results = [r for batch in batches for r in await client.upsert("BTEC_Grades", batch, [KEY])]
        again = await client.upsert("BTEC_Grades", _grades(student, 5, grade="D"), [KEY])
    assert all(isinstance(r, RecordSuccess) for r in results + again)
    calls = [c for c in emulator.calls() if c["operation"] == "upsert"]
    assert sum(c["status"] == 429 for c in calls) > 0
    grades = {g[KEY]: g["Grade"] for g in emulator.records("BTEC_Grades")}
    assert len(grades) == 200
    assert [grades[f"u{i}_a1"] for i in range(6)] == ["D"] * 5 + ["M"]


async def test_server_errors_are_retried_a_bounded_number_of_times(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        student = await _student(client)
        emulator.faults(next=["500", "500"])
        (ok,) = await client.upsert("BTEC_Grades", _grades(student, 1), [KEY])
        assert isinstance(ok, RecordSuccess)
        emulator.faults(error_rate=1.0)
        with pytest.raises(ZohoRetriesExhausted) as raised:
            await client.upsert("BTEC_Grades", _grades(student, 1, start=1), [KEY])
    assert raised.value.attempts == FAST.transient_attempts and raised.value.status == 500
    upserts = [c["status"] for c in emulator.calls() if c["path"] == "/crm/v8/BTEC_Grades/upsert"]
    assert upserts == [500, 500, 200] + [500] * FAST.transient_attempts
    assert [g[KEY] for g in emulator.records("BTEC_Grades")] == ["u0_a1"]


async def test_timeouts_are_retried_and_upsert_stays_idempotent(emulator: Emulator) -> None:
    settings = ClientSettings(timeout_s=0.5, backoff_base_s=0.01, backoff_cap_s=0.05, transient_attempts=3)
    async with _client(emulator, settings) as client:
        student = await _student(client)
        emulator.faults(next=["timeout"])  # the hung call still lands after 1.5 s, like a lost response
        (ok,) = await client.upsert("BTEC_Grades", _grades(student, 1), [KEY])
        assert isinstance(ok, RecordSuccess)
        await asyncio.sleep(1.5)
        emulator.faults(timeout_rate=1.0, timeout_s=1.0)
        with pytest.raises(ZohoRetriesExhausted) as raised:
            await client.get("BTEC_Grades", ok.id)
    assert raised.value.reason == "timeout" and raised.value.attempts == 3
    grades = emulator.records("BTEC_Grades")
    assert [g[KEY] for g in grades] == ["u0_a1"] and grades[0]["id"] == ok.id


async def test_a_missing_record_is_none_and_an_unknown_module_fails_each_record(emulator: Emulator) -> None:
    async with _client(emulator) as client:
        missing = await client.get("BTEC_Students", "4876876000999999999")
        # A write answers a request-level 400 inside data[] (spec examples): the client reports it in each
        # record's slot; nothing is written either way.
        wrong_module = await client.upsert("No_Such_Module", [{"Name": "x"}, {"Name": "y"}], ["Name"])
    assert missing is None
    assert [(r.ok, getattr(r, "code", None)) for r in wrong_module] == [(False, "INVALID_MODULE")] * 2
