"""`/control/v1/…`: what a college's administrators relied on in the first version, per tenant.

The caller's Bearer key decides the tenant; no path or parameter names one, so no tenant can read
or change another's settings or history.
"""

# No `from __future__ import annotations`: FastAPI must see the `Tenant` dependency defined inside
# control_router, which string annotations would hide from it.
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from common.settings import Settings
from common.tenants import MOODLE_EVENTS, TenantRegistry, update_tenant
from control.commands import CommandWriter, PullRequest, ask_pull
from control.queries import ProjectionQueries
from control.ratelimit import RateLimiter
from schemas.grades import LETTERS, band_from_score
from schemas.mapping import TenantMapping, accepted_modules, mapping_of
from schemas.registry import registry as schema_registry


class TenantSettingsBody(BaseModel):
    zoho_modules: list[str] | None = Field(default=None, description="Zoho modules the ingress accepts")
    moodle_events: list[str] | None = Field(default=None, description="Moodle events the ingress accepts")
    academic_email_domains: list[str] | None = Field(default=None, description="Required email domains (empty: off)")


class ModulesBody(BaseModel):
    enabled: list[str]



def control_router(settings: Settings, tenants: TenantRegistry, commands: CommandWriter,
                   queries: ProjectionQueries) -> APIRouter:
    limiter = RateLimiter(settings.control_rate_per_s, settings.control_burst)

    def caller(request: Request) -> str:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        tenant = tenants.find_by_control_key(key) if key else None
        if tenant is None:
            raise HTTPException(401, "a tenant's control-plane key is required (Authorization: Bearer …)")
        wait = limiter.take(tenant)
        if wait:
            raise HTTPException(429, "rate limit", headers={"Retry-After": limiter.retry_after(wait)})
        return tenant

    Tenant = Annotated[str, Depends(caller)]
    router = APIRouter(prefix="/control/v1", tags=["control plane"],
                       responses={401: {"description": "No or wrong key"},
                                  429: {"description": "Per-tenant rate limit; see Retry-After"}})

    def tenant_mapping(tenant: str) -> TenantMapping:
        return mapping_of(tenants.get(tenant))

    def view(tenant: str) -> dict[str, Any]:
        secrets = tenants.get(tenant)
        assert secrets is not None
        return {
            "tenant": tenant,
            "zoho_modules": accepted_modules(secrets),
            "moodle_events": secrets.moodle_events if secrets.moodle_events is not None else list(MOODLE_EVENTS),
            "academic_email_domains": list(tenant_mapping(tenant).academic_email_domains),
        }

    async def change(tenant: str, edit: Any) -> None:
        try:
            await run_in_threadpool(update_tenant, settings, tenant, edit)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
        except PermissionError as exc:
            raise HTTPException(409, str(exc)) from None
        tenants.reload()

    @router.get("/settings", summary="The tenant's settings")
    async def get_settings(tenant: Tenant) -> dict[str, Any]:
        return view(tenant)

    @router.put("/settings", summary="Change settings; effective within seconds, no restart")
    async def put_settings(body: TenantSettingsBody, tenant: Tenant) -> dict[str, Any]:
        if body.moodle_events is not None and not set(body.moodle_events) <= set(MOODLE_EVENTS):
            raise HTTPException(422, f"Moodle events must be among {list(MOODLE_EVENTS)}")

        def edit(entry: dict[str, Any]) -> None:
            if body.zoho_modules is not None:
                entry["zoho_modules"] = body.zoho_modules
            if body.moodle_events is not None:
                entry["moodle_events"] = body.moodle_events
            if body.academic_email_domains is not None:
                mapping = dict(entry.get("mapping") or {})
                mapping["academic_email_domains"] = body.academic_email_domains
                TenantMapping(**mapping)
                entry["mapping"] = mapping

        await change(tenant, edit)
        return view(tenant)

    @router.get("/modules", summary="Enabled Zoho modules, and those the field mapping knows")
    async def get_modules(tenant: Tenant) -> dict[str, Any]:
        available = [m.module for m in tenant_mapping(tenant).entities.values()]
        return {"enabled": view(tenant)["zoho_modules"], "available": available}

    @router.put("/modules", summary="Enable exactly these Zoho modules")
    async def put_modules(body: ModulesBody, tenant: Tenant) -> dict[str, Any]:
        available = {m.module for m in tenant_mapping(tenant).entities.values()}
        unknown = sorted(set(body.enabled) - available)
        if unknown:
            raise HTTPException(422, f"not in the field mapping: {unknown}")
        await change(tenant, lambda entry: entry.__setitem__("zoho_modules", body.enabled))
        return await get_modules(tenant)

    @router.get("/field-mapping", summary="The effective Zoho field mapping (defaults plus overrides)")
    async def get_mapping(tenant: Tenant) -> dict[str, Any]:
        secrets = tenants.get(tenant)
        assert secrets is not None
        return {"overrides": secrets.mapping, "effective": tenant_mapping(tenant).model_dump(mode="json")}

    @router.put("/field-mapping", summary="Replace the overrides; the streams apply them within seconds")
    async def put_mapping(body: dict[str, Any], tenant: Tenant) -> dict[str, Any]:
        try:
            TenantMapping(**body)
        except (ValidationError, TypeError) as exc:
            raise HTTPException(422, f"invalid field mapping: {exc}") from None
        await change(tenant, lambda entry: entry.__setitem__("mapping", body))
        return await get_mapping(tenant)

    @router.get("/sync-history", summary="Outcomes of the Zoho sink (target=zoho) or the Moodle sink, newest first")
    async def sync_history(tenant: Tenant,
                           action: Annotated[str | None,
                                             Query(pattern="^(created|updated|linked|unchanged|failed)$")] = None,
                           module: str | None = None, since: datetime | None = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                           target: Annotated[str, Query(pattern="^(zoho|moodle)$")] = "zoho",
                           entity: str | None = None) -> dict[str, Any]:
        if target == "moodle":
            rows = await queries.moodle_sync_history(tenant, action, entity, since, limit)
        else:
            rows = await queries.sync_history(tenant, action, module, since, limit)
        return {"items": rows, "count": len(rows), "target": target}

    @router.post("/sync-history/{partition}/{offset}/retry", status_code=202,
                 summary="Ask the Zoho sink to write a failed record again",
                 responses={404: {"description": "No such outcome for this tenant"},
                            409: {"description": "The outcome did not fail"},
                            503: {"description": "The command could not be stored; retry later"}})
    async def retry(partition: int, offset: int, tenant: Tenant) -> dict[str, Any]:
        outcome = await queries.outcome(tenant, partition, offset)
        if outcome is None:
            raise HTTPException(404, "no such outcome for this tenant")
        if outcome["action"] != "failed":
            raise HTTPException(409, f"only failed syncs are retried; this one was {outcome['action']}")
        try:
            sent = await commands.retry(tenant, outcome["entity"], outcome["entity_id"], outcome["event_id"],
                                        f"zoho.outcomes/{partition}/{offset}")
        except RuntimeError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
        return {"command": sent, "record_key": outcome["record_key"]}

    @router.get("/status", summary="Waiting records, dead letters and Zoho outcomes of this tenant")
    async def status(tenant: Tenant) -> dict[str, Any]:
        return await queries.status(tenant)

    @router.post("/sync/trigger", status_code=202, summary="Ask the Zoho puller to read this tenant's records now",
                 responses={503: {"description": "The command could not be stored; retry later"}})
    async def trigger(tenant: Tenant, body: PullRequest | None = None) -> dict[str, Any]:
        return await ask_pull(commands, tenant, body or PullRequest(), "control plane")

    @router.get("/sync/pulls", summary="The Zoho puller's watermarks per module and its latest runs")
    async def pulls(tenant: Tenant) -> dict[str, Any]:
        return await queries.pulls(tenant)

    @router.get("/metadata", summary="The canonical schema and the Moodle plugin's constraints")
    async def metadata(tenant: Tenant) -> dict[str, Any]:
        reg = schema_registry()
        return {
            "canonical_schemas": {name: json.loads(reg.latest(name).path.read_text()) for name in sorted(reg.versions)},
            "moodle": {
                "events": list(MOODLE_EVENTS),
                "signature": "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC>)",
                "timestamp_tolerance_s": settings.signature_tolerance_s,
                "max_body_bytes": settings.ingress_max_body_bytes,
                "grade_letters": list(LETTERS),
                "bands": {"distinction": 70, "merit": 60, "pass": 40, "example_69_99": band_from_score(69.99)},
            },
        }

    return router
