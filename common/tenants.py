"""Per-tenant secrets and ingress rules.

Secrets never live in the repository: they come from `TENANTS_JSON` (inline, for
containers) or the file at `TENANTS_FILE` (the embedded stack writes one with fresh
random secrets on first start).
"""

from __future__ import annotations

import base64
import fcntl
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from common.settings import Settings

log = logging.getLogger(__name__)

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
    # Overrides of the default Zoho field mapping (schemas.mapping.TenantMapping), for customised orgs.
    mapping: dict[str, Any] = Field(default_factory=dict)
    # Bearer key of the control-plane API; the key alone decides which tenant a caller is.
    control_api_key: str | None = None
    # A disabled tenant's webhooks and control-plane calls are refused; its data stays.
    disabled: bool = False


# What `rotate` can renew.
ROTATABLE: tuple[str, ...] = ("moodle_webhook_secret", "zoho_webhook_token", "control_api_key")


class TenantsConfig(BaseModel):
    tenants: dict[str, TenantSecrets]
    # Bearer key of the control plane's operator routes (tenants: create, list, disable, rotate).
    operator_key: str | None = None

    def get(self, tenant: str) -> TenantSecrets | None:
        return self.tenants.get(tenant)


def new_moodle_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_tenant() -> TenantSecrets:
    return TenantSecrets(moodle_webhook_secret=new_moodle_secret(), zoho_webhook_token=secrets.token_urlsafe(32),
                         control_api_key=secrets.token_urlsafe(32))


def new_secret(name: str) -> str:
    return new_moodle_secret() if name == "moodle_webhook_secret" else secrets.token_urlsafe(32)


def _edit(settings: Settings, change: Callable[[dict[str, Any]], TenantSecrets]) -> TenantSecrets:
    """Apply `change` to the tenants file's data, atomically and under a lock; every service re-reads the file
    when it changes, so a change takes effect without a restart."""
    if settings.tenants_json:
        raise PermissionError("tenants come from TENANTS_JSON (read-only); use TENANTS_FILE to change them live")
    path = settings.resolved_tenants_file()
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text())
        changed = change(data)
        text = json.dumps(data, indent=2)
        # What every service reads back: a change it could not parse (a lone surrogate in a string, say) is
        # refused here rather than leaving all of them on their last good configuration.
        TenantsConfig.model_validate_json(text)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        tmp.replace(path)
    return changed


def update_tenant(settings: Settings, tenant: str, change: Callable[[dict[str, Any]], None]) -> TenantSecrets:
    """Apply `change` to one tenant's entry of the tenants file (KeyError: no such tenant)."""

    def edit(data: dict[str, Any]) -> TenantSecrets:
        entry = data["tenants"][tenant]
        change(entry)
        return TenantSecrets.model_validate(entry)

    return _edit(settings, edit)


def create_tenant(settings: Settings, tenant: str) -> TenantSecrets:
    """A new tenant with fresh secrets (FileExistsError: the name is taken)."""

    def edit(data: dict[str, Any]) -> TenantSecrets:
        if tenant in data["tenants"]:
            raise FileExistsError(f"tenant {tenant!r} exists")
        created = new_tenant()
        data["tenants"][tenant] = created.model_dump()
        return created

    return _edit(settings, edit)


def rotate_secrets(settings: Settings, tenant: str, names: list[str]) -> TenantSecrets:
    """New values for the named secrets of one tenant; the old ones stop working at once."""
    return update_tenant(settings, tenant, lambda entry: entry.update({n: new_secret(n) for n in names}))


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
    """Create a tenants file with fresh secrets for the default tenant if none exists; give a file from before
    operator keys one."""
    if path.exists():
        config = TenantsConfig.model_validate_json(path.read_text())
        if config.operator_key is None:
            config.operator_key = secrets.token_urlsafe(32)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(config.model_dump(), fh, indent=2)
            tmp.replace(path)
        return config
    config = TenantsConfig(tenants={default_tenant: new_tenant()}, operator_key=secrets.token_urlsafe(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written 0600: it holds secrets.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(config.model_dump(), fh, indent=2)
    return config


class TenantRegistry:
    """The tenants' configuration, re-read when its file changes (no restart to rotate a secret)."""

    def __init__(self, settings: Settings, required: bool = True) -> None:
        """`required=False`: start with no tenants when there is no configuration yet (it may come later)."""
        self._settings = settings
        try:
            self._config: TenantsConfig = load_tenants(settings)
        except FileNotFoundError:
            if required:
                raise
            log.warning("no tenant configuration yet; defaults for every tenant")
            self._config = TenantsConfig(tenants={})
        self._checked = time.monotonic()
        self._mtime = self._file_mtime()

    def _file_mtime(self) -> float:
        if self._settings.tenants_json:
            return 0.0
        try:
            return self._settings.resolved_tenants_file().stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def reload(self) -> None:
        """Read the file now (after this process changed it), not at the next check."""
        self._checked = 0.0

    def find_by_control_key(self, key: str) -> str | None:
        """The tenant whose control-plane key this is (constant-time comparisons, all keys checked)."""
        self.get("")
        found = None
        for name, entry in self._config.tenants.items():
            if entry.control_api_key and hmac.compare_digest(entry.control_api_key.encode(), key.encode()) \
                    and not entry.disabled:
                found = name
        return found

    def is_operator(self, key: str) -> bool:
        self.get("")
        operator = self._settings.control_operator_key or self._config.operator_key
        return bool(operator) and hmac.compare_digest(str(operator).encode(), key.encode())

    def get(self, tenant: str) -> TenantSecrets | None:
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            mtime = self._file_mtime()
            if mtime != self._mtime:
                try:
                    self._config = load_tenants(self._settings)
                    self._mtime = mtime
                    log.info("tenant configuration reloaded")
                except (OSError, ValueError) as exc:
                    # Keep serving with the last good configuration.
                    log.error("tenant configuration unreadable; keeping the previous one", extra={"error": str(exc)})
        return self._config.get(tenant)

    def names(self) -> list[str]:
        self.get("")
        return sorted(self._config.tenants)
