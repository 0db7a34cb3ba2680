"""Per-account (tenant) Zoho credentials and the client's retry/timeout settings. Secrets come from configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ZohoAccount(BaseModel):
    """One Zoho org (one tenant); `api_domain` and `accounts_url` follow the org's data centre."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    accounts_url: str = "https://accounts.zoho.com"
    api_domain: str = "https://www.zohoapis.com"
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    api_version: str = "v8"

    @field_validator("accounts_url", "api_domain")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class ClientSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=30.0, gt=0)
    batch_size: int = Field(default=100, ge=1, le=100)
    # Attempts in total (first try included) per kind of failure.
    rate_limited_attempts: int = Field(default=8, ge=1)
    transient_attempts: int = Field(default=4, ge=1)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_cap_s: float = Field(default=60.0, ge=0)
    # Refresh this long before the token's announced expiry, so no call races the deadline.
    token_refresh_margin_s: float = Field(default=300.0, ge=0)
    # Zoho allows 10 access tokens per refresh token per 10 minutes, then blocks the rest of the window.
    token_refresh_limit: int = Field(default=10, ge=1)
    token_refresh_window_s: float = Field(default=600.0, gt=0)
