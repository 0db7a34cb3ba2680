"""The sink's configuration, from the environment; its options per tenant beside the Zoho account."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.zoho.config import AccountEntry, AccountsSettings, ClientEnv, ZohoAccount


class EnrollmentOptions(BaseModel):
    """Moodle enrolments written to Zoho as enrollment records, for a tenant that asks for it.

    Off unless configured: most colleges create enrollments in Zoho themselves, and a second, Moodle-made
    record per student and class would be a duplicate there. Records are upserted on `key_field`, a unique
    text field of the module holding `{moodle_user_id}_{course_id}` (the field must exist in the org and be
    set to "Do not allow duplicate values"; the sink never searches before it creates).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_field: str = Field(min_length=1)
    module: str = "BTEC_Enrollments"
    # Written as Enrollment_Type on every record; null leaves the field to the registrar.
    enrollment_type: str | None = "Normal"


class TenantOptions(BaseModel):
    """What the sink writes for one tenant, beside its Zoho credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grades: bool = True
    # Grades still in Moodle's marking workflow (not released to the student) reach Zoho only when on.
    unreleased_grades: bool = False
    student_links: bool = True
    enrollments: EnrollmentOptions | None = None


class SinkTenant(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: ZohoAccount
    options: TenantOptions


# Options of other services in the same accounts entry (the puller's), which the sink leaves alone.
OTHER_SERVICES = frozenset({"pull"})


def sink_tenants(entries: list[AccountEntry]) -> dict[str, SinkTenant]:
    """Each tenant's account with the sink's options (`grades`, `unreleased_grades`, `student_links`,
    `enrollments`); an unknown key is a mistake and refused."""
    return {e.account.tenant: SinkTenant(account=e.account, options=TenantOptions.model_validate(
        {k: v for k, v in e.options.items() if k not in OTHER_SERVICES})) for e in entries}


class SinkSettings(ClientEnv):
    group_id: str = Field(default="mzsync-zoho-sink", alias="SINK_GROUP_ID")
    metrics_port: int = Field(default=6070, alias="SINK_METRICS_PORT")
    # How long the group waits for a member that died (SIGKILL) before its partitions move on.
    session_timeout_ms: int = Field(default=45_000, ge=1000, alias="SINK_SESSION_TIMEOUT_MS")
    # Changes are gathered this long from the first one to write (or up to max_pending writes) so one call
    # carries up to 100 records.
    linger_ms: int = Field(default=500, ge=0, alias="SINK_LINGER_MS")
    max_pending: int = Field(default=2000, ge=1, alias="SINK_MAX_PENDING")
    # After a write that may land late (timeout, 5xx), wait this long before checking what it did.
    settle_s: float = Field(default=10.0, ge=0, alias="SINK_SETTLE_S")
    retry_pause_s: float = Field(default=5.0, ge=0, alias="SINK_RETRY_PAUSE_S")

    def tenants(self) -> dict[str, SinkTenant]:
        return sink_tenants(AccountsSettings().entries())


def describe(tenants: dict[str, SinkTenant]) -> dict[str, Any]:
    """For the start-up log line: no secrets."""
    return {t: {"api_domain": s.account.api_domain, **s.options.model_dump()} for t, s in tenants.items()}
