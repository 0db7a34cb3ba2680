"""Emulator configuration: orgs and their credentials, limits, schema, webhooks, faults.

Every behaviour docs/zoho-api.md marks as unconfirmed is a setting here, so a test can pin it either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stack.zoho_emulator.schema import ModuleSpec, default_modules

DEFAULT_SCOPE = (
    "ZohoCRM.modules.ALL ZohoCRM.settings.fields.READ ZohoCRM.settings.modules.READ ZohoSearch.securesearch.READ "
    "ZohoCRM.notifications.ALL ZohoCRM.settings.automation_actions.ALL"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgConfig(_Strict):
    """One Zoho org (= one college tenant) with the self-client credentials that reach it."""

    tenant: str = "default"
    client_id: str = "1000.EMULATORCLIENT"
    client_secret: str = "emulator-client-secret"
    refresh_token: str = "1000.emulator-refresh-token"
    scope: str = DEFAULT_SCOPE
    # More refresh tokens of the same client (say, one a college generated with fewer scopes): token -> scope.
    extra_refresh_tokens: dict[str, str] = Field(default_factory=dict)
    # Sent as ?token= on workflow webhooks, like the shared secret a real webhook carries in its URL.
    webhook_token: str | None = None
    # Real ids start with an org-specific prefix followed by a counter.
    id_prefix: str = Field(default="4876876", pattern=r"^[1-9][0-9]{6}$")
    concurrency: int = 20
    sub_concurrency: int = 10
    daily_credits: int = 50_000
    # This org's own customisation (every Zoho org is customised): a module given here replaces the one of
    # that name from `EmulatorConfig.modules` / the defaults in this org only, e.g. a field marked unique.
    modules: dict[str, ModuleSpec] = Field(default_factory=dict)
    # The profile of the API user: modules it may only read, and modules it may not see at all (403 NO_PERMISSION).
    read_only_modules: list[str] = Field(default_factory=list)
    no_access_modules: list[str] = Field(default_factory=list)


class OAuthConfig(_Strict):
    token_lifetime_s: int = 3600
    refresh_limit: int = 10
    refresh_window_s: int = 600
    max_live_tokens: int = 30
    # [unverified] Zoho Accounts answers OAuth errors with HTTP 200 in most reports.
    error_status: int = 200


class WebhookConfig(_Strict):
    ingress_url: str | None = None
    url_template: str = "{ingress_url}/webhooks/zoho/{module}"
    # None: every module has a workflow rule with a webhook; otherwise only these modules do.
    modules: list[str] | None = None
    queue_size: int = 1000
    timeout_s: float = 5.0
    log_size: int = 1000


class Faults(_Strict):
    error_rate: float = Field(default=0.0, ge=0, le=1)
    rate_429: float = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_s: float = Field(default=30.0, ge=0)
    search_lag_s: float = Field(default=0.0, ge=0)
    # Deterministic faults for the next calls, consumed one per call: "500", "429" or "timeout".
    # "auth_failure" answers 401 AUTHENTICATION_FAILURE once, as Zoho does for a token it no longer accepts.
    next: list[Literal["500", "429", "timeout", "auth_failure"]] = Field(default_factory=list)
    seed: int | None = None


class Behaviour(_Strict):
    """Choices between behaviours Zoho's documentation does not settle (docs/zoho-api.md)."""

    unknown_fields: Literal["reject", "ignore"] = "reject"
    upsert_multiple_matches: Literal["update_first", "duplicate_data"] = "update_first"
    get_unknown_id: Literal[204, 400] = 204
    delete_triggers_workflow: bool = True
    # How long a list `next_page_token` stays valid (Zoho: a day), and how many records a chain of page tokens
    # reaches (Zoho: 100,000); a test lowers the second to reach PAGINATION_LIMIT_EXCEEDED cheaply.
    page_token_ttl_s: int = 24 * 3600
    page_token_limit: int = Field(default=100_000, ge=1)


class EmulatorConfig(_Strict):
    orgs: list[OrgConfig] = Field(default_factory=lambda: [OrgConfig()])
    oauth: OAuthConfig = Field(default_factory=OAuthConfig)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    faults: Faults = Field(default_factory=Faults)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    # Modules given here replace the default module of the same name (or add one).
    modules: dict[str, ModuleSpec] = Field(default_factory=dict)
    rename_modules: dict[str, str] = Field(default_factory=dict)
    # None: the token response names the host the emulator was reached on.
    api_domain: str | None = None
    call_log_size: int = 10_000

    def resolved_modules(self, org: OrgConfig | None = None) -> dict[str, ModuleSpec]:
        """The modules of `org` (None: the ones every org shares), renamed."""
        merged = {**default_modules(), **self.modules, **(org.modules if org is not None else {})}
        return {self.rename_modules.get(name, name): spec.renamed_targets(self.rename_modules)
                for name, spec in merged.items()}


def load_config(path: str | Path | None) -> EmulatorConfig:
    if path is None:
        return EmulatorConfig()
    return EmulatorConfig.model_validate(json.loads(Path(path).read_text()))
