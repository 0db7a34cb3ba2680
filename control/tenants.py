"""`/control/v1/tenants`: the operator's routes — create, list, disable or enable a tenant, rotate its secrets.

They take the operator's key (`CONTROL_OPERATOR_KEY` or the tenants file's `operator_key`), never a tenant's:
a tenant's key is refused here (403), as the operator's key is refused on a tenant's own routes.
"""

# No `from __future__ import annotations`: FastAPI must see the `Operator` dependency defined inside the router.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from common.settings import Settings
from common.tenants import ROTATABLE, TenantRegistry, TenantSecrets, create_tenant, rotate_secrets, update_tenant
from control.commands import CommandWriter, PullRequest, ask_pull
from control.queries import ProjectionQueries
from control.routes import COMMAND, DATABASE_DOWN, Problem
from schemas.mapping import accepted_modules

TENANT_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class NewTenant(BaseModel):
    tenant: str = Field(pattern=TENANT_NAME, description="The college's name in keys and headers (X-Tenant-ID)")


class Rotation(BaseModel):
    secrets: list[str] = Field(default_factory=lambda: list(ROTATABLE), min_length=1,
                               description=f"Which to renew, among {list(ROTATABLE)}; default all")


def _listing(name: str, secrets: TenantSecrets) -> dict[str, Any]:
    return {"tenant": name, "disabled": secrets.disabled, "zoho_modules": accepted_modules(secrets),
            "has_control_key": secrets.control_api_key is not None}


def tenants_router(settings: Settings, tenants: TenantRegistry, commands: CommandWriter,
                   queries: ProjectionQueries) -> APIRouter:
    def operator(request: Request) -> None:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key:
            raise HTTPException(401, "the operator's key is required (Authorization: Bearer …)")
        if not tenants.is_operator(key):
            if tenants.find_by_control_key(key) is not None:
                raise HTTPException(403, "a tenant's key cannot manage tenants")
            raise HTTPException(401, "wrong key")

    Operator = Annotated[None, Depends(operator)]
    Name = Annotated[str, Path(pattern=TENANT_NAME)]
    router = APIRouter(prefix="/control/v1/tenants", tags=["tenants (operator)"],
                       responses={401: {"model": Problem, "description": "No or wrong key"},
                                  403: {"model": Problem,
                                        "description": "A tenant's key: tenants are managed with the operator's key"}})

    async def change(edit: Any, *args: Any) -> TenantSecrets:
        try:
            result: TenantSecrets = await run_in_threadpool(edit, settings, *args)
        except KeyError:
            raise HTTPException(404, "no such tenant") from None
        except FileExistsError as exc:
            raise HTTPException(409, str(exc)) from None
        except PermissionError as exc:
            raise HTTPException(409, str(exc)) from None
        tenants.reload()
        return result

    @router.get("", summary="Every tenant, without secrets")
    async def list_tenants(_: Operator) -> dict[str, Any]:
        items = [_listing(name, secrets) for name in tenants.names() if (secrets := tenants.get(name))]
        return {"items": items, "count": len(items)}

    @router.post("", status_code=201, summary="A new tenant with fresh secrets (shown once)",
                 responses={400: COMMAND[400],
                            409: {"model": Problem,
                                  "description": "The name is taken, or tenants are read-only (TENANTS_JSON)"}})
    async def create(body: NewTenant, _: Operator) -> dict[str, Any]:
        created = await change(create_tenant, body.tenant)
        return {"tenant": body.tenant, **created.model_dump(include={*ROTATABLE})}

    switch_responses: dict[int | str, dict[str, Any]] = {
        404: {"model": Problem, "description": "No such tenant"},
        409: {"model": Problem, "description": "Tenants are read-only (TENANTS_JSON)"}}

    async def switch(tenant: str, disabled: bool) -> dict[str, Any]:
        done = await change(update_tenant, tenant, lambda entry: entry.__setitem__("disabled", disabled))
        return _listing(tenant, done)

    @router.post("/{tenant}/disable", summary="Refuse the tenant's webhooks and control-plane calls; keep its data",
                 responses=switch_responses)
    async def disable(tenant: Name, _: Operator) -> dict[str, Any]:
        return await switch(tenant, True)

    @router.post("/{tenant}/enable", summary="Accept the tenant's webhooks and calls again", responses=switch_responses)
    async def enable(tenant: Name, _: Operator) -> dict[str, Any]:
        return await switch(tenant, False)

    @router.post("/{tenant}/rotate", summary="New values for the named secrets (shown once); the old stop at once",
                 responses={**switch_responses, 400: COMMAND[400]})
    async def rotate(tenant: Name, body: Rotation, _: Operator) -> dict[str, Any]:
        unknown = sorted(set(body.secrets) - set(ROTATABLE))
        if unknown:
            raise HTTPException(422, f"not a rotatable secret: {unknown}; choose among {list(ROTATABLE)}")
        done = await change(rotate_secrets, tenant, body.secrets)
        return {"tenant": tenant, **done.model_dump(include=set(body.secrets))}

    def known(tenant: str) -> None:
        if tenants.get(tenant) is None:
            raise HTTPException(404, "no such tenant")

    @router.post("/{tenant}/sync/trigger", status_code=202, summary="Ask the Zoho puller to read a tenant's records",
                 responses={**COMMAND, 404: {"model": Problem, "description": "No such tenant"}})
    async def trigger(tenant: Name, _: Operator, body: PullRequest | None = None) -> dict[str, Any]:
        known(tenant)
        return await ask_pull(commands, tenant, body or PullRequest(), "operator")

    @router.get("/{tenant}/sync/pulls", summary="A tenant's pull watermarks and latest runs",
                responses={**DATABASE_DOWN, 404: {"model": Problem, "description": "No such tenant"}})
    async def pulls(tenant: Name, _: Operator) -> dict[str, Any]:
        known(tenant)
        return await queries.pulls(tenant)

    return router

