"""What a call needs: the OAuth scope of its token (401 OAUTH_SCOPE_MISMATCH) and the rights of the API user's
profile on the module (403 NO_PERMISSION). Shapes from zoho/crm-oas v8.0 (getRecords, createRecords,
deleteRecord, getDeletedRecords examples).

Scopes are `ZohoCRM.modules.{ALL|READ|WRITE|CREATE|UPDATE|DELETE}`, the same per module
(`ZohoCRM.modules.BTEC_Grades.READ`) or for all custom modules (`ZohoCRM.modules.custom.ALL`), and
`ZohoCRM.settings.{fields|modules}.{ALL|READ}` / `ZohoCRM.settings.ALL`; search also needs
`ZohoSearch.securesearch.READ`. Zoho compares scopes case-insensitively; so does the emulator.
"""

from __future__ import annotations

from collections.abc import Iterable

from stack.zoho_emulator.config import OrgConfig
from stack.zoho_emulator.errors import ZohoError

# Zoho's own modules; every other module of an org is a custom one (covered by `ZohoCRM.modules.custom.*`).
STANDARD_MODULES = frozenset({
    "Leads", "Contacts", "Accounts", "Deals", "Campaigns", "Tasks", "Cases", "Events", "Calls", "Solutions",
    "Products", "Vendors", "Price_Books", "Quotes", "Sales_Orders", "Purchase_Orders", "Invoices", "Notes",
})

# Scope operation each record operation needs; the spec names CREATE for upsert as for insert.
RECORD_SCOPE = {"list": "READ", "get": "READ", "search": "READ", "deleted": "READ", "insert": "CREATE",
                "upsert": "CREATE", "update": "UPDATE", "delete": "DELETE"}
SETTINGS_SCOPE = {"settings_modules": "modules", "settings_module": "modules", "settings_fields": "fields"}
# Profile right each operation needs, and the permission Zoho names when it is missing.
_RIGHT = {"READ": "View", "CREATE": "Create", "UPDATE": "Edit", "DELETE": "Delete"}


def scope_mismatch() -> ZohoError:
    return ZohoError(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized")


def _granted(scopes: Iterable[str], wanted: Iterable[str]) -> bool:
    have = {s.lower() for s in scopes}
    return any(w.lower() in have for w in wanted)


def check_record_scope(scopes: frozenset[str], module: str, operation: str) -> None:
    kind = RECORD_SCOPE[operation]
    kinds = {kind, "ALL"} | ({"WRITE"} if kind in ("CREATE", "UPDATE", "DELETE") else set())
    groups = ["", f"{module}."] + (["custom."] if module not in STANDARD_MODULES else [])
    if not _granted(scopes, [f"ZohoCRM.modules.{group}{k}" for group in groups for k in kinds]):
        raise scope_mismatch()
    if operation == "search" and not _granted(scopes, ["ZohoSearch.securesearch.READ",
                                                       "ZohoSearch.securesearch.ALL"]):
        raise scope_mismatch()


def check_settings_scope(scopes: frozenset[str], operation: str) -> None:
    area = SETTINGS_SCOPE[operation]
    if not _granted(scopes, ["ZohoCRM.settings.ALL", f"ZohoCRM.settings.{area}.ALL",
                             f"ZohoCRM.settings.{area}.READ"]):
        raise scope_mismatch()


def rights(org: OrgConfig, module: str) -> set[str]:
    """The profile's rights on the module: View, Create, Edit, Delete."""
    if module in org.no_access_modules:
        return set()
    if module in org.read_only_modules:
        return {"View"}
    return {"View", "Create", "Edit", "Delete"}


def check_permission(org: OrgConfig, module: str, operation: str) -> None:
    right = _RIGHT[RECORD_SCOPE[operation]]
    held = rights(org, module)
    if "View" not in held:
        right = "View"  # a module the profile cannot see is refused as a view, whatever the operation
    elif right in held:
        return
    message = {"delete": "Permission denied to delete", "deleted": "permission denied"}.get(operation,
                                                                                           "Permission denied")
    raise ZohoError(403, "NO_PERMISSION", message, {"permissions": [f"Crm_Implied_{right}_{module}"]})
