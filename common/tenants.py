"""Per-tenant secrets and ingress rules.

Secrets never live in the repository: they come from `TENANTS_JSON` (inline, for
containers) or the file at `TENANTS_FILE` (the embedded stack writes one with fresh
random secrets on first start).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from common.settings import Settings

MOODLE_EVENTS: tuple[str, ...] = (
    "user_created",
    "user_updated",
    "user_deleted",
    "enrollment_created",
    "enrollment_updated",
    "enrollment_deleted",
    "grade_updated",
)


class TenantSecrets(BaseModel):
    moodle_webhook_secret: str = Field(description="Standard Webhooks secret, `whsec_<base64>`")
    zoho_webhook_token: str = Field(description="Shared token Zoho workflow webhooks carry")
    # Modules the ingress accepts; unset means the modules of the tenant's field mapping.
    zoho_modules: list[str] | None = None
    # Moodle events the ingress accepts; unset means all of MOODLE_EVENTS.
    moodle_events: list[str] | None = None
    # Overrides of the default Zoho field mapping (streams.tenants.TenantMapping), for customised orgs.
    mapping: dict[str, Any] = Field(default_factory=dict)
    # Bearer key of the control-plane API; the key alone decides which tenant a caller is.
    control_api_key: str | None = None


class TenantsConfig(BaseModel):
    tenants: dict[str, TenantSecrets]

    def get(self, tenant: str) -> TenantSecrets | None:
        return self.tenants.get(tenant)


def new_moodle_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_tenant() -> TenantSecrets:
    return TenantSecrets(moodle_webhook_secret=new_moodle_secret(), zoho_webhook_token=secrets.token_urlsafe(32),
                         control_api_key=secrets.token_urlsafe(32))


def update_tenant(settings: Settings, tenant: str, change: Callable[[dict[str, Any]], None]) -> TenantSecrets:
    """Apply `change` to one tenant's entry of the tenants file, atomically and under a lock.

    Every service re-reads the file when it changes, so an update takes effect without a restart.
    """
    if settings.tenants_json:
        raise PermissionError("tenants come from TENANTS_JSON (read-only); use TENANTS_FILE to change them live")
    path = settings.resolved_tenants_file()
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text())
        entry = data["tenants"][tenant]
        change(entry)
        updated = TenantSecrets.model_validate(entry)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        tmp.replace(path)
    return updated


def load_tenants(settings: Settings) -> TenantsConfig:
    if settings.tenants_json:
        return TenantsConfig.model_validate_json(settings.tenants_json)
    path = settings.resolved_tenants_file()
    if not path.exists():
        raise FileNotFoundError(
            f"no tenant configuration: set TENANTS_JSON or create {path} (`python -m stack start` writes one)"
        )
    return TenantsConfig.model_validate_json(path.read_text())


def ensure_tenants_file(path: Path, default_tenant: str) -> TenantsConfig:
    """Create a tenants file with fresh secrets for the default tenant if none exists."""
    if path.exists():
        return TenantsConfig.model_validate_json(path.read_text())
    config = TenantsConfig(tenants={default_tenant: new_tenant()})
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written 0600: it holds secrets.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(config.model_dump(), fh, indent=2)
    return config
