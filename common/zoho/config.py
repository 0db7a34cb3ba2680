"""Per-account (tenant) Zoho credentials and the client's retry/timeout settings. Secrets come from configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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


class Budget(BaseModel):
    """A tenant's share of its org's daily API credits for this product (see common/zoho/budget.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Zoho's floor for a paid edition is 50,000 a day; the rest is the college's other integrations'.
    daily_credits: int = Field(default=25_000, ge=1)
    # Kept for the sink's writes: the puller stops reading before it would eat into them.
    write_reserve: int = Field(default=5_000, ge=0)

    def reads_allowed(self, spent: int, cost: int) -> bool:
        return spent + cost <= self.daily_credits - self.write_reserve


# Keys of an accounts-file entry that belong to the shared budget rather than to one service.
BUDGET_KEYS = frozenset(Budget.model_fields)


@dataclass(frozen=True)
class AccountEntry:
    """One entry of the accounts file: the org's credentials, its budget and each service's own options."""

    account: ZohoAccount
    budget: Budget
    options: dict[str, Any]


def account_entries(text: str) -> list[AccountEntry]:
    """`{"accounts": [{"tenant", "client_id", "client_secret", "refresh_token", "accounts_url", "api_domain",
    "daily_credits"?, "write_reserve"?, <service options>...}]}`: one Zoho org per tenant."""
    entries: list[AccountEntry] = []
    seen: set[str] = set()
    for entry in json.loads(text)["accounts"]:
        account = ZohoAccount.model_validate({k: v for k, v in entry.items() if k in ZohoAccount.model_fields})
        if account.tenant in seen:
            raise ValueError(f"tenant {account.tenant!r} has two Zoho accounts")
        seen.add(account.tenant)
        budget = Budget.model_validate({k: v for k, v in entry.items() if k in BUDGET_KEYS})
        rest = {k: v for k, v in entry.items() if k not in ZohoAccount.model_fields and k not in BUDGET_KEYS}
        entries.append(AccountEntry(account, budget, rest))
    return entries


class AccountsSettings(BaseSettings):
    """Where the Zoho accounts come from: ZOHO_ACCOUNTS_JSON (inline, for containers) or ZOHO_ACCOUNTS_FILE."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    zoho_accounts_json: str | None = Field(default=None, alias="ZOHO_ACCOUNTS_JSON")
    zoho_accounts_file: Path | None = Field(default=None, alias="ZOHO_ACCOUNTS_FILE")

    def entries(self) -> list[AccountEntry]:
        if self.zoho_accounts_json:
            return account_entries(self.zoho_accounts_json)
        if self.zoho_accounts_file:
            return account_entries(self.zoho_accounts_file.read_text())
        raise ValueError("no Zoho accounts: set ZOHO_ACCOUNTS_JSON or ZOHO_ACCOUNTS_FILE")


class ClientEnv(BaseSettings):
    """The Zoho client's timeout and backoff, from the environment (every service that calls Zoho)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    zoho_timeout_s: float = Field(default=30.0, gt=0, alias="ZOHO_TIMEOUT_S")
    zoho_backoff_base_s: float = Field(default=1.0, ge=0, alias="ZOHO_BACKOFF_BASE_S")
    zoho_backoff_cap_s: float = Field(default=60.0, ge=0, alias="ZOHO_BACKOFF_CAP_S")

    def client_settings(self) -> ClientSettings:
        return ClientSettings(timeout_s=self.zoho_timeout_s, backoff_base_s=self.zoho_backoff_base_s,
                              backoff_cap_s=self.zoho_backoff_cap_s)
