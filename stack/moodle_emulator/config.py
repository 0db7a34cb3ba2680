"""Emulator configuration: sites (one per tenant) with their tokens and external services, webhooks, faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Every function the emulator answers; a service may hold any of them.
EMULATED_FUNCTIONS: tuple[str, ...] = (
    "core_webservice_get_site_info",
    "core_user_create_users", "core_user_update_users", "core_user_get_users_by_field",
    "core_course_create_categories", "core_course_get_categories",
    "core_course_create_courses", "core_course_update_courses", "core_course_get_courses_by_field",
    "enrol_manual_enrol_users", "enrol_manual_unenrol_users", "core_enrol_get_enrolled_users",
)

# The plugin's event types (its admin page can switch each one off).
PluginEvent = Literal["user_created", "user_updated", "enrollment_created", "enrollment_updated",
                      "enrollment_deleted", "grade_updated"]
PLUGIN_EVENTS: tuple[PluginEvent, ...] = ("user_created", "user_updated", "enrollment_created",
                                          "enrollment_updated", "enrollment_deleted", "grade_updated")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenConfig(_Strict):
    """A permanent web-service token, as `Site administration > Server > Web services > Manage tokens` creates."""

    token: str = Field(min_length=1)
    # The web-service user the token belongs to (created at start, like the account an administrator sets up).
    username: str = "wsuser"
    service: str = "moodle_zoho_sync"
    # Capabilities the user's role lacks, for least-privilege tests: such a call fails with `nopermissions`.
    missing_capabilities: list[str] = Field(default_factory=list)
    # Role ids the user's role is allowed to assign in a course (Define roles → Allow role assignments); None: what
    # an administrator may assign (manager, teachers, student, the IV role). Enrolling with another role fails with
    # `wsusercannotassign`, as a real site answers a least-privilege token allowed only student and teacher.
    assignable_roles: list[int] | None = None


class SiteConfig(_Strict):
    """One Moodle site (= one college tenant)."""

    tenant: str = "default"
    # $CFG->wwwroot: the plugin sends it as `site_url`.
    wwwroot: str = "https://moodle.emulator.invalid"
    sitename: str = "Emulated Moodle"
    site_shortname: str = "moodle"
    # The plugin's signing secret (whsec_…); None: the plugin is not configured and sends nothing.
    moodle_webhook_secret: str | None = None
    # The plugin's per-event switches.
    plugin_events: list[PluginEvent] = Field(default_factory=lambda: list(PLUGIN_EVENTS))
    tokens: list[TokenConfig] = Field(default_factory=lambda: [TokenConfig(token="emulator-moodle-token")])
    # External services by short name, each with its functions.
    services: dict[str, list[str]] = Field(
        default_factory=lambda: {"moodle_zoho_sync": list(EMULATED_FUNCTIONS)})
    # $CFG->debug = DEBUG_DEVELOPER with debugdisplay: messages carry the debug info, errors a `debuginfo` key.
    debug: bool = False
    allowaccountssameemail: bool = False
    # Moodle's default password policy (8 characters, a digit, a lower and an upper case letter, a symbol).
    passwordpolicy: bool = True
    # PHP drops request variables beyond this (Moodle's installer asks for at least 5000).
    max_input_vars: int = Field(default=5000, ge=1)
    release: str = "4.3 (Build: 20231009)"
    version: str = "2023100900"

    @model_validator(mode="after")
    def _check(self) -> SiteConfig:
        for name, functions in self.services.items():
            unknown = sorted(set(functions) - set(EMULATED_FUNCTIONS))
            if unknown:
                raise ValueError(f"service {name!r}: functions not emulated: {unknown}")
        for token in self.tokens:
            if token.service not in self.services:
                raise ValueError(f"token of {token.username!r}: unknown service {token.service!r}")
        return self


class WebhookConfig(_Strict):
    ingress_url: str | None = None
    url_template: str = "{ingress_url}/webhooks/moodle/{event_type}"
    # Deliveries waiting (queued or between retries); beyond it a delivery is dropped and counted.
    queue_size: int = Field(default=1000, ge=1)
    timeout_s: float = 5.0
    # Like the plugin's outbox: transport errors, 408, 429 and 5xx are retried with backoff, at most this often.
    max_attempts: int = Field(default=5, ge=1)
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    log_size: int = 1000


class Faults(_Strict):
    # Consumed one per web-service call: "exception" (HTTP 200, dml_write_exception), "503" (an HTML error page
    # from the web server) or "timeout" (answers after `timeout_s`).
    next: list[Literal["exception", "503", "timeout"]] = Field(default_factory=list)
    latency_ms: int = Field(default=0, ge=0)
    timeout_s: float = Field(default=30.0, ge=0)


class EmulatorConfig(_Strict):
    sites: list[SiteConfig] = Field(default_factory=lambda: [SiteConfig()])
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    faults: Faults = Field(default_factory=Faults)
    call_log_size: int = 10_000

    @model_validator(mode="after")
    def _unique(self) -> EmulatorConfig:
        if len({s.tenant for s in self.sites}) != len(self.sites):
            raise ValueError("site tenants must be unique")
        tokens = [t.token for s in self.sites for t in s.tokens]
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokens must be unique across sites")
        return self


def load_config(path: str | Path | None) -> EmulatorConfig:
    if path is None:
        return EmulatorConfig()
    return EmulatorConfig.model_validate(json.loads(Path(path).read_text()))
