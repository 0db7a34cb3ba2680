"""The sink's configuration: the environment, and per tenant a Moodle site with its options (the sites file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SiteOptions(BaseModel):
    """What the sink provisions for one college, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Zoho student statuses that get (or keep) an active Moodle account.
    student_statuses: tuple[str, ...] = ("Active", "approved", "approved-conditional", "Registered",
                                         "Account Creation", "Welcome Letter Sent", "Revive")
    # Statuses whose account is suspended (never deleted: grades and submissions stay in Moodle).
    suspend_statuses: tuple[str, ...] = ("Withdraw", "Blocked")
    teachers: bool = True
    # Moodle's auth plugin for new accounts (manual, oauth2, ldap, …).
    auth: str = "manual"
    # The new account's username: the academic e-mail, or the student number (teachers: the e-mail).
    username: Literal["email", "student_number"] = "email"
    # Moodle generates a password and mails it (createpassword=1); off for auth methods without passwords.
    createpassword: bool = True
    # Class statuses that get a course; a class without a status gets one too.
    class_statuses: tuple[str, ...] = ("Pending", "Active", "Initial Evaluation", "Final Evaluation",
                                       "Waiting Submission", "Waiting Resubmission")
    # What the end of an enrollment (deleted in Zoho, or its End_Date passed) does in Moodle.
    on_end: Literal["suspend", "unenrol"] = "suspend"
    # Courses of classes whose program has no category yet go here (1: Moodle's "Category 1").
    default_category: int = Field(default=1, ge=1)
    student_role: int = 5
    teacher_role: int = 3


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    url: str
    token: SecretStr
    verify_tls: bool = True
    timeout_s: float = Field(default=30.0, gt=0)
    options: SiteOptions = SiteOptions()

    @field_validator("url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def parse_sites(text: str) -> dict[str, Site]:
    """`{"sites": [{"tenant", "url", "token", "verify_tls"?, "timeout_s"?, "options"?: {...}}]}`."""
    sites: dict[str, Site] = {}
    for entry in json.loads(text)["sites"]:
        site = Site.model_validate(entry)
        if site.tenant in sites:
            raise ValueError(f"tenant {site.tenant!r} has two Moodle sites")
        sites[site.tenant] = site
    return sites


class MoodleSinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    sites_json: str | None = Field(default=None, alias="MOODLE_SITES_JSON")
    sites_file: Path | None = Field(default=None, alias="MOODLE_SITES_FILE")
    group_id: str = Field(default="mzsync-moodle-sink", alias="MOODLE_SINK_GROUP_ID")
    metrics_port: int = Field(default=6074, alias="MOODLE_SINK_METRICS_PORT")
    session_timeout_ms: int = Field(default=45_000, ge=1000, alias="MOODLE_SINK_SESSION_TIMEOUT_MS")
    # Changes are gathered this long from the first one (or up to max_pending) so a call carries up to 50 records.
    linger_ms: int = Field(default=500, ge=0, alias="MOODLE_SINK_LINGER_MS")
    max_pending: int = Field(default=2000, ge=1, alias="MOODLE_SINK_MAX_PENDING")
    # After an outage, wait this long before trying the batch again; a refusing tenant is retried at this pace.
    retry_pause_s: float = Field(default=5.0, ge=0, alias="MOODLE_SINK_RETRY_PAUSE_S")
    refused_retry_s: float = Field(default=60.0, ge=0, alias="MOODLE_SINK_REFUSED_RETRY_S")
    attempts: int = Field(default=4, ge=1, alias="MOODLE_ATTEMPTS")
    backoff_base_s: float = Field(default=0.5, ge=0, alias="MOODLE_BACKOFF_BASE_S")
    backoff_cap_s: float = Field(default=10.0, ge=0, alias="MOODLE_BACKOFF_CAP_S")

    def sites(self) -> dict[str, Site]:
        if self.sites_json:
            return parse_sites(self.sites_json)
        if self.sites_file:
            return parse_sites(self.sites_file.read_text())
        raise ValueError("no Moodle sites: set MOODLE_SITES_JSON or MOODLE_SITES_FILE")


def describe(sites: dict[str, Site]) -> dict[str, Any]:
    """For the start-up log line: no tokens."""
    return {t: {"url": s.url, "verify_tls": s.verify_tls, **s.options.model_dump()} for t, s in sites.items()}
