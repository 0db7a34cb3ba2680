"""One OAuth access token per Zoho account, shared by every call, refreshed single-flight (docs/zoho-api.md#oauth).

The first version refreshed per call and ran into Zoho's 10-tokens-per-10-minutes limit (docs/zoho-api.md#oauth).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

import httpx

from common.zoho import metrics
from common.zoho.config import ClientSettings, ZohoAccount
from common.zoho.errors import ZohoAuthError

log = logging.getLogger("zoho.auth")


class TokenManager:
    def __init__(self, account: ZohoAccount, http: httpx.AsyncClient, settings: ClientSettings,
                 clock: Callable[[], float] | None = None) -> None:
        self.account = account
        self.http = http
        self.settings = settings
        self.clock = clock or time.monotonic
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._issued: deque[float] = deque()
        self.refreshes = 0

    def _current(self) -> str | None:
        return self._token if self._token is not None and self.clock() < self._refresh_at else None

    async def token(self) -> str:
        token = self._current()
        if token is not None:
            return token
        async with self._lock:
            # Whoever waited on the lock finds the token the first caller fetched.
            token = self._current()
            if token is None:
                token = await self._refresh()
            return token

    def invalidate(self, stale: str) -> None:
        """Zoho rejected `stale`; only that token is dropped, so 50 concurrent 401s cause one refresh."""
        if self._token == stale:
            self._token = None

    async def _refresh(self) -> str:
        now = self.clock()
        window = self.settings.token_refresh_window_s
        while self._issued and now - self._issued[0] >= window:
            self._issued.popleft()
        if len(self._issued) >= self.settings.token_refresh_limit:
            wait = window - (now - self._issued[0])
            metrics.TOKEN_REFRESHES.labels(tenant=self.account.tenant, outcome="limited").inc()
            raise ZohoAuthError(f"token refresh limit reached for {self.account.tenant}; next in {wait:.0f}s",
                                code="REFRESH_LIMIT", retry_after_s=wait)
        self._issued.append(now)
        resp = await self.http.post(
            f"{self.account.accounts_url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": self.account.client_id,
                "client_secret": self.account.client_secret.get_secret_value(),
                "refresh_token": self.account.refresh_token.get_secret_value(),
            },
        )
        try:
            body = resp.json()
        except ValueError:
            body = {}
        token = body.get("access_token") if isinstance(body, dict) else None
        if not resp.is_success or not isinstance(token, str):
            named = isinstance(body, dict) and body.get("error")
            error = str(body["error"]) if named else f"http_{resp.status_code}"
            metrics.TOKEN_REFRESHES.labels(tenant=self.account.tenant, outcome=error).inc()
            log.error("zoho token refresh refused", extra={"tenant": self.account.tenant, "error": error})
            raise ZohoAuthError(f"Zoho refused the refresh token of {self.account.tenant}: {error}", code=error)
        expires_in = float(body.get("expires_in", 3600))
        self._token = token
        # A margin larger than a short-lived token would make every call refresh; cap it at half the lifetime.
        self._refresh_at = now + expires_in - min(self.settings.token_refresh_margin_s, expires_in / 2)
        self.refreshes += 1
        metrics.TOKEN_REFRESHES.labels(tenant=self.account.tenant, outcome="issued").inc()
        log.info("zoho access token refreshed", extra={"tenant": self.account.tenant, "expires_in": expires_in})
        return token
