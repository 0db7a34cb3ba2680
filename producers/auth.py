"""Per-tenant authentication of webhooks.

Moodle signs per the Standard Webhooks spec; Zoho workflow webhooks cannot sign, so they
carry the tenant's shared token, compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from functools import lru_cache

from standardwebhooks.webhooks import Webhook


class AuthError(Exception):
    pass


@lru_cache(maxsize=256)
def _verifier(secret: str) -> Webhook:
    return Webhook(secret)


def verify_moodle(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check the signature and its ±5 min timestamp; return the webhook id."""
    wanted = {k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    try:
        _verifier(secret).verify(body, wanted, json_parse=False)
    except Exception as exc:  # the library raises ValueError/binascii.Error on malformed headers too
        raise AuthError(f"invalid webhook signature: {exc}") from None
    return wanted["webhook-id"]


def verify_zoho(expected_token: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected_token.encode(), given.encode()):
        raise AuthError("missing or wrong Zoho webhook token")
