"""The puller's configuration: process settings from the environment, per-tenant options in the accounts file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.zoho.config import AccountEntry, AccountsSettings, Budget, ClientEnv, ZohoAccount


class PullOptions(BaseModel):
    """An accounts entry's `pull` object; absent means the defaults (pull every mapped module)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Zoho modules to pull; None: those of the tenant's field mapping that its ingress accepts.
    modules: list[str] | None = None
    interval_s: float = Field(default=900.0, ge=1.0)
    # Records changed within this long before the watermark are read again: a record written while a pull
    # was paging, or with a clock a little behind, is not missed.
    overlap_s: float = Field(default=300.0, ge=0.0)


class PullTenant(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: ZohoAccount
    budget: Budget
    options: PullOptions


def pull_tenants(entries: list[AccountEntry]) -> dict[str, PullTenant]:
    return {e.account.tenant: PullTenant(account=e.account, budget=e.budget,
                                         options=PullOptions.model_validate(e.options.get("pull") or {}))
            for e in entries}


class PullerSettings(ClientEnv):
    group_id: str = Field(default="mzsync-zoho-puller", alias="PULLER_GROUP_ID")
    metrics_port: int = Field(default=6072, alias="PULLER_METRICS_PORT")
    # How often the loop looks for due tenants and new commands.
    tick_s: float = Field(default=1.0, gt=0, alias="PULLER_TICK_S")

    def tenants(self) -> dict[str, PullTenant]:
        return pull_tenants(AccountsSettings().entries())
