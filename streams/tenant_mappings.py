"""Each tenant's Zoho field mapping, rebuilt when the tenants' file changes."""

from __future__ import annotations

from common.settings import get_settings
from common.tenants import TenantRegistry
from schemas.mapping import TenantMapping, mapping_of


class MappingRegistry:
    def __init__(self) -> None:
        self._tenants: TenantRegistry | None = None

    def for_tenant(self, tenant: str) -> TenantMapping:
        if self._tenants is None:
            self._tenants = TenantRegistry(get_settings(), required=False)
        return mapping_of(self._tenants.get(tenant))


mappings = MappingRegistry()
