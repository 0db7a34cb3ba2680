"""Zoho Accounts' refresh-token grant and the access tokens it hands out (docs/zoho-api.md#oauth)."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from stack.zoho_emulator.clock import Clock
from stack.zoho_emulator.config import OAuthConfig, OrgConfig
from stack.zoho_emulator.errors import ZohoError

TOO_MANY = "You have made too many requests continuously. Please try again after some time."


class OAuthFailure(Exception):
    def __init__(self, body: dict[str, str]) -> None:
        super().__init__(body["error"])
        self.body = body


@dataclass
class _Grant:
    """What Zoho keeps per refresh token: its live access tokens and the current rate window."""

    org: OrgConfig
    live: deque[str] = field(default_factory=deque)
    window_start: float = 0.0
    issued_in_window: int = 0


@dataclass
class _Token:
    tenant: str
    refresh_token: str
    expires_at: float
    scopes: frozenset[str]


@dataclass(frozen=True)
class Grantee:
    """Who an access token speaks for: the org (tenant) and the scopes granted with its refresh token."""

    tenant: str
    scopes: frozenset[str]


class TokenAuthority:
    def __init__(self, config: OAuthConfig, orgs: list[OrgConfig], clock: Clock) -> None:
        self.config = config
        self.orgs = orgs
        self.clock = clock
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, _Token] = {}

    def reset(self) -> None:
        self._grants.clear()
        self._tokens.clear()

    def refresh(self, params: dict[str, str], api_domain: str) -> dict[str, Any]:
        if params.get("grant_type") != "refresh_token":
            raise OAuthFailure({"error": "unsupported_grant_type"})
        client = [org for org in self.orgs if org.client_id == params.get("client_id")]
        if not client or client[0].client_secret != params.get("client_secret"):
            raise OAuthFailure({"error": "invalid_client"})
        org = client[0]
        refresh_token = params.get("refresh_token", "")
        scopes = {org.refresh_token: org.scope, **org.extra_refresh_tokens}
        if refresh_token not in scopes:
            raise OAuthFailure({"error": "invalid_code"})
        scope = scopes[refresh_token]
        grant = self._grants.setdefault(refresh_token, _Grant(org))
        now = self.clock.now()
        if now - grant.window_start >= self.config.refresh_window_s:
            grant.window_start, grant.issued_in_window = now, 0
        if grant.issued_in_window >= self.config.refresh_limit:
            raise OAuthFailure({"error": "Access Denied", "error_description": TOO_MANY})
        grant.issued_in_window += 1
        token = "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
        self._tokens[token] = _Token(org.tenant, refresh_token, now + self.config.token_lifetime_s,
                                     frozenset(scope.split()))
        grant.live.append(token)
        # The 31st live token evicts the oldest one.
        while len(grant.live) > self.config.max_live_tokens:
            self._tokens.pop(grant.live.popleft(), None)
        return {"access_token": token, "scope": scope, "api_domain": api_domain, "token_type": "Bearer",
                "expires_in": self.config.token_lifetime_s}

    def authenticate(self, header: str | None) -> Grantee:
        """The org and scopes of the token, or the 401 Zoho answers."""
        prefix = "Zoho-oauthtoken "
        if not header or not header.startswith(prefix) or not header[len(prefix):].strip():
            raise ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        token = self._tokens.get(header[len(prefix):].strip())
        if token is None or token.expires_at <= self.clock.now():
            raise ZohoError(401, "INVALID_TOKEN", "invalid oauth token")
        return Grantee(token.tenant, token.scopes)

    def expire_all(self) -> int:
        now = self.clock.now()
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now)
        return len(self._tokens)

    def live_tokens(self) -> int:
        now = self.clock.now()
        return sum(1 for token in self._tokens.values() if token.expires_at > now)
