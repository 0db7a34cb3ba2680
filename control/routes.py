"""`/control/v1/…`: what a college's administrators relied on in the first version, per tenant.

The caller's Bearer key decides the tenant; no path or parameter names one, so no tenant can read
or change another's settings or history.
"""

# No `from __future__ import annotations`: FastAPI must see the `Tenant` dependency defined inside
# control_router, which string annotations would hide from it.
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from common.settings import Settings
from common.tenants import MOODLE_EVENTS, TenantRegistry, update_tenant
from control.commands import CommandWriter, PullRequest, ask_pull
from control.queries import ProjectionQueries
from control.ratelimit import RateLimiter
from schemas.grades import LETTERS, band_from_score
from schemas.mapping import ZOHO_ENTITIES, TenantMapping, accepted_modules, mapping_of
from schemas.registry import registry as schema_registry

# Every string a caller stores in the tenants file is bounded (the file is shared and re-read). Lone surrogates
# (`"\ud800"`), which no service could read back, never get this far: FastAPI parses bodies as JSON with
# pydantic, which refuses them (422).
Text = Annotated[str, Field(max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Names = Annotated[list[Name], Field(max_length=100)]
MoodleEvent = Literal[MOODLE_EVENTS]  # type: ignore[valid-type]
Entity = Literal[ZOHO_ENTITIES]  # type: ignore[valid-type]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    # Pydantic would also take a number (Unix seconds) or a bare date; the API promises RFC 3339 date-times.
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("an RFC 3339 date-time with an offset, e.g. 2026-01-31T08:00:00Z")
    return value


class TenantSettingsBody(BaseModel):
    zoho_modules: Names | None = Field(default=None, description="Zoho modules the ingress accepts")
    moodle_events: list[MoodleEvent] | None = Field(default=None, description="Moodle events the ingress accepts")
    academic_email_domains: Names | None = Field(default=None, description="Required email domains (empty: off)")


class ModulesBody(BaseModel):
    enabled: Names = Field(description="Zoho module API names; each must be a module of the field mapping")


class EntityOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    module: Name | None = Field(default=None, description="The Zoho module holding the entity (absent: default)")
    fields: dict[Name, Names] = Field(default_factory=dict,
                                      description="Canonical field → Zoho API names, first present one wins")
    subform_fields: dict[Name, Names] = Field(default_factory=dict, description="The same for subform rows")


class PicklistOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: Annotated[list[Text], Field(max_length=500)]
    closed: bool = Field(default=False, description="Closed: unknown values are refused; open: kept with a warning")


class MappingOverrides(BaseModel):
    """What differs from the default field mapping; entity overrides merge onto the defaults field by field."""

    model_config = ConfigDict(extra="forbid")

    entities: dict[Entity, EntityOverride] | None = None
    picklists: dict[Name, PicklistOverride] | None = Field(default=None,
                                                            description='Keyed "<entity>.<canonical field>"')
    academic_email_domains: Names | None = None


class Problem(BaseModel):
    detail: str


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body could not be read (e.g. not UTF-8)"},
    409: {"model": Problem, "description": "Tenants come from TENANTS_JSON and cannot be changed live"},
}
DATABASE_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "headers": _RETRY_AFTER,
          "description": "The projections database does not answer, or the projector has not created its tables yet"},
}
# A command the broker did not store, and a body that could not be read.
COMMAND: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body could not be read (e.g. not UTF-8)"},
    503: {"model": Problem, "description": "The command could not be stored; retry later", "headers": _RETRY_AFTER},
}



def control_router(settings: Settings, tenants: TenantRegistry, commands: CommandWriter,
                   queries: ProjectionQueries) -> APIRouter:
    limiter = RateLimiter(settings.control_rate_per_s, settings.control_burst)
    # Declares the scheme in the OpenAPI document; `caller` answers 401 itself, with the same body as other errors.
    bearer = HTTPBearer(auto_error=False, description="The tenant's `control_api_key`; the key decides the tenant")

    def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        key = credentials.credentials.strip() if credentials else ""
        tenant = tenants.find_by_control_key(key) if key else None
        if tenant is None:
            raise HTTPException(401, "a tenant's control-plane key is required (Authorization: Bearer …)",
                                headers={"WWW-Authenticate": "Bearer"})
        wait = limiter.take(tenant)
        if wait:
            raise HTTPException(429, "rate limit", headers={"Retry-After": limiter.retry_after(wait)})
        return tenant

    Tenant = Annotated[str, Depends(caller)]
    router = APIRouter(prefix="/control/v1", tags=["control plane"],
                       responses={401: {"model": Problem, "description": "No or wrong key"},
                                  429: {"model": Problem, "description": "Per-tenant rate limit",
                                        "headers": _RETRY_AFTER}})

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
            # Without the input: it may be the tenant's entry, secrets included.
            raise HTTPException(422, exc.errors(include_url=False, include_context=False, include_input=False)) \
                from None
        except PermissionError as exc:
            raise HTTPException(409, str(exc)) from None
        tenants.reload()

    @router.get("/settings", summary="The tenant's settings")
    async def get_settings(tenant: Tenant) -> dict[str, Any]:
        return view(tenant)

    @router.put("/settings", summary="Change settings; effective within seconds, no restart", responses=_BAD_BODY)
    async def put_settings(body: TenantSettingsBody, tenant: Tenant) -> dict[str, Any]:
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

    @router.put("/modules", summary="Enable exactly these Zoho modules",
                responses={**_BAD_BODY, 409: {"model": Problem, "description": (
                    "A module is not in the tenant's field mapping (map it first), or tenants come from "
                    "TENANTS_JSON and cannot be changed live")}})
    async def put_modules(body: ModulesBody, tenant: Tenant) -> dict[str, Any]:
        available = {m.module for m in tenant_mapping(tenant).entities.values()}
        unknown = sorted(set(body.enabled) - available)
        if unknown:
            # A conflict with the tenant's current mapping, not a malformed body: mapping the module resolves it.
            raise HTTPException(409, f"not in the field mapping: {unknown}")
        await change(tenant, lambda entry: entry.__setitem__("zoho_modules", body.enabled))
        return await get_modules(tenant)

    @router.get("/field-mapping", summary="The effective Zoho field mapping (defaults plus overrides)")
    async def get_mapping(tenant: Tenant) -> dict[str, Any]:
        secrets = tenants.get(tenant)
        assert secrets is not None
        return {"overrides": secrets.mapping, "effective": tenant_mapping(tenant).model_dump(mode="json")}

    @router.put("/field-mapping", summary="Replace the overrides; the streams apply them within seconds",
                responses=_BAD_BODY)
    async def put_mapping(body: MappingOverrides, tenant: Tenant) -> dict[str, Any]:
        overrides = body.model_dump(exclude_none=True, exclude_unset=True)
        try:
            TenantMapping(**overrides)
        except ValidationError as exc:
            # Shaped like FastAPI's own 422, so the one documented schema holds for every 422.
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            raise HTTPException(422, [{**e, "loc": ["body", *e["loc"]]} for e in errors]) from None
        await change(tenant, lambda entry: entry.__setitem__("mapping", overrides))
        return await get_mapping(tenant)

    @router.get("/sync-history", summary="Outcomes of the Zoho sink (target=zoho) or the Moodle sink, newest first",
                responses=DATABASE_DOWN)
    async def sync_history(
            tenant: Tenant,
            action: Annotated[str | None, Query(pattern="^(created|updated|linked|unchanged|failed)$")] = None,
            module: Annotated[str | None, Query(pattern="^[A-Za-z0-9_]{1,100}$",
                                                description="A Zoho module API name")] = None,
            since: Annotated[datetime | None, BeforeValidator(_rfc3339),
                             Query(description="RFC 3339 date-time with an offset")] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            target: Annotated[str, Query(pattern="^(zoho|moodle)$")] = "zoho",
            entity: Annotated[str | None, Query(pattern="^[a-z_]{1,40}$",
                                                description="A canonical entity (target=moodle)")] = None,
    ) -> dict[str, Any]:
        if target == "moodle":
            rows = await queries.moodle_sync_history(tenant, action, entity, since, limit)
        else:
            rows = await queries.sync_history(tenant, action, module, since, limit)
        return {"items": rows, "count": len(rows), "target": target}

    @router.post("/sync-history/{partition}/{offset}/retry", status_code=202,
                 summary="Ask the Zoho sink to write a failed record again",
                 responses={404: {"model": Problem, "description": "No such outcome for this tenant"},
                            409: {"model": Problem, "description": "The outcome did not fail"},
                            503: {"model": Problem, "headers": _RETRY_AFTER, "description": (
                                "The database does not answer, or the command could not be stored")}})
    async def retry(partition: Annotated[int, Path(ge=0, le=2**31 - 1)],
                    offset: Annotated[int, Path(ge=0, le=2**63 - 1)], tenant: Tenant) -> dict[str, Any]:
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

    @router.get("/status", summary="Waiting records, dead letters and Zoho outcomes of this tenant",
                responses=DATABASE_DOWN)
    async def status(tenant: Tenant) -> dict[str, Any]:
        return await queries.status(tenant)

    @router.post("/sync/trigger", status_code=202, summary="Ask the Zoho puller to read this tenant's records now",
                 responses=COMMAND)
    async def trigger(tenant: Tenant, body: PullRequest | None = None) -> dict[str, Any]:
        return await ask_pull(commands, tenant, body or PullRequest(), "control plane")

    @router.get("/sync/pulls", summary="The Zoho puller's watermarks per module and its latest runs",
                responses=DATABASE_DOWN)
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
