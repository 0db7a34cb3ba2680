"""The tenants' ingress secrets, re-read when their file changes (no restart to rotate a secret)."""

from __future__ import annotations

import hmac
import logging
import time

from common.settings import Settings
from common.tenants import TenantsConfig, TenantSecrets, load_tenants
from streams.tenants import TenantMapping

log = logging.getLogger(__name__)


class TenantRegistry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._config: TenantsConfig = load_tenants(settings)
        self._checked = time.monotonic()
        self._mtime = self._file_mtime()
        self._modules: dict[str, tuple[TenantSecrets, list[str]]] = {}

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
        for name, secrets in self._config.tenants.items():
            if secrets.control_api_key and hmac.compare_digest(secrets.control_api_key.encode(), key.encode()):
                found = name
        return found

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

    def zoho_modules(self, tenant: str, secrets: TenantSecrets) -> list[str]:
        """The Zoho modules this tenant may send: configured, or those of its field mapping."""
        if secrets.zoho_modules is not None:
            return secrets.zoho_modules
        cached = self._modules.get(tenant)
        if cached is None or cached[0] is not secrets:
            modules = [m.module for m in TenantMapping(**secrets.mapping).entities.values()]
            cached = self._modules[tenant] = (secrets, modules)
        return cached[1]
