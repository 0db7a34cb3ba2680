"""The token endpoint and the 401 variants (docs/zoho-api.md#oauth, #errors)."""

from __future__ import annotations

import httpx

from tests.zoho_emulator.harness import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Emulator

GRANT = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
         "refresh_token": REFRESH_TOKEN}


def _get(emulator: Emulator, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Zoho-oauthtoken {token}"} if token else {}
    return httpx.get(f"{emulator.url}/crm/v8/BTEC_Students", params={"fields": "Name"}, headers=headers)


def test_refresh_grant_by_query_and_by_form_returns_a_one_hour_token(emulator: Emulator) -> None:
    by_query = httpx.post(f"{emulator.url}/oauth/v2/token", params=GRANT).json()
    by_form = httpx.post(f"{emulator.url}/oauth/v2/token", data=GRANT).json()
    for body in (by_query, by_form):
        assert set(body) == {"access_token", "scope", "api_domain", "token_type", "expires_in"}
        assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
        assert body["api_domain"] == emulator.url and body["access_token"].startswith("1000.")
    assert by_query["access_token"] != by_form["access_token"]
    assert _get(emulator, by_query["access_token"]).status_code == 204
    assert _get(emulator, by_form["access_token"]).status_code == 204


def test_wrong_client_and_wrong_refresh_token_are_refused(emulator: Emulator) -> None:
    bad_client = httpx.post(f"{emulator.url}/oauth/v2/token", data={**GRANT, "client_secret": "nope"})
    bad_code = httpx.post(f"{emulator.url}/oauth/v2/token", data={**GRANT, "refresh_token": "1000.revoked"})
    assert bad_client.json() == {"error": "invalid_client"}
    assert bad_code.json() == {"error": "invalid_code"}


def test_missing_wrong_and_expired_tokens_get_their_401(emulator: Emulator) -> None:
    missing = _get(emulator, None)
    assert missing.status_code == 401
    assert missing.json() == {"code": "AUTHENTICATION_FAILURE", "details": {}, "message": "Authentication failed",
                              "status": "error"}
    wrong = _get(emulator, "1000.forged")
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_TOKEN"
    assert wrong.json()["message"] == "invalid oauth token"

    token = emulator.token()
    emulator.advance(3599)
    assert _get(emulator, token).status_code == 204
    emulator.advance(2)
    expired = _get(emulator, token)
    assert expired.status_code == 401 and expired.json()["code"] == "INVALID_TOKEN"


def test_forced_expiry_invalidates_live_tokens(emulator: Emulator) -> None:
    token = emulator.token()
    assert emulator.faults(expire_tokens_now=True)["tokens_expired"] == 1
    assert _get(emulator, token).json()["code"] == "INVALID_TOKEN"
    assert _get(emulator, emulator.token()).status_code == 204


def test_eleventh_token_in_ten_minutes_is_refused_until_the_window_ends(emulator: Emulator) -> None:
    for _ in range(10):
        assert "access_token" in httpx.post(f"{emulator.url}/oauth/v2/token", data=GRANT).json()
    refused = httpx.post(f"{emulator.url}/oauth/v2/token", data=GRANT).json()
    assert "access_token" not in refused and refused["error"] == "Access Denied"
    emulator.advance(590)  # leaves the real seconds a loaded machine spends on the calls above inside the window
    assert "access_token" not in httpx.post(f"{emulator.url}/oauth/v2/token", data=GRANT).json()
    emulator.advance(11)
    assert "access_token" in httpx.post(f"{emulator.url}/oauth/v2/token", data=GRANT).json()
