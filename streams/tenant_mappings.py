"""Each tenant's Zoho field mapping, built once and rebuilt when the tenants' file changes."""

from __future__ import annotations

import logging
import time

from common.settings import get_settings
from common.tenants import TenantsConfig, load_tenants
from streams.tenants import DEFAULT_MAPPING, TenantMapping

log = logging.getLogger(__name__)

_RELOAD_EVERY_S = 5.0


class MappingRegistry:
    def __init__(self) -> None:
        self._built: dict[str, TenantMapping] = {}
        self._config: TenantsConfig | None = None
        self._loaded_at = 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._loaded_at < _RELOAD_EVERY_S:
            return
        self._loaded_at = now
        try:
            config = load_tenants(get_settings())
        except (OSError, ValueError) as exc:
            if self._config is None:
                log.warning("no tenant configuration; default mapping for every tenant", extra={"error": str(exc)})
            return
        if self._config is None or config != self._config:
            self._config = config
            self._built = {}

    def for_tenant(self, tenant: str) -> TenantMapping:
        self._refresh()
        mapping = self._built.get(tenant)
        if mapping is None:
            tenant_cfg = self._config.get(tenant) if self._config else None
            mapping = TenantMapping(**tenant_cfg.mapping) if tenant_cfg and tenant_cfg.mapping else DEFAULT_MAPPING
            self._built[tenant] = mapping
        return mapping


mappings = MappingRegistry()
