"""`/__emulator/*`: fault knobs, clock, reset and read-only inspection for tests. Not part of Zoho's API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from stack.zoho_emulator.config import Faults
from stack.zoho_emulator.emulator import Emulator, Org


class FaultsUpdate(Faults):
    """Fields left out keep their current value; `expire_tokens_now` is an action, not a setting."""

    expire_tokens_now: bool = False


class ClockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance_s: float = Field(default=0.0, ge=0)


def admin_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(prefix="/__emulator", tags=["emulator"])

    def org_of(tenant: str | None) -> Org:
        org = emulator.orgs.get(tenant or emulator.default_tenant())
        if org is None:
            raise HTTPException(404, f"unknown tenant {tenant!r}")
        return org

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return emulator.faults.model_dump()

    @router.post("/faults")
    async def set_faults(update: FaultsUpdate) -> dict[str, Any]:
        given = update.model_dump(exclude_unset=True)
        expire = given.pop("expire_tokens_now", False)
        emulator.set_faults(Faults.model_validate({**emulator.faults.model_dump(), **given}))
        expired = emulator.authority.expire_all() if expire else 0
        return {**emulator.faults.model_dump(), "tokens_expired": expired}

    @router.post("/clock")
    async def advance_clock(update: ClockUpdate) -> dict[str, float]:
        return {"now": emulator.clock.advance(update.advance_s), "offset_s": emulator.clock.offset}

    @router.get("/clock")
    async def get_clock() -> dict[str, float]:
        return {"now": emulator.clock.now(), "offset_s": emulator.clock.offset}

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        emulator.reset()
        return {"status": "reset"}

    @router.get("/records/{module}")
    async def records(module: str, tenant: str | None = None) -> dict[str, Any]:
        org = org_of(tenant)
        if module not in org.store.modules:
            raise HTTPException(404, f"unknown module {module!r}")
        rows = org.store.records[module].values()
        return {"data": [org.store.render(module, r) for r in rows], "count": len(rows)}

    @router.get("/calls")
    async def calls(since: int = 0, tenant: str | None = None) -> dict[str, Any]:
        return {"calls": emulator.calls.since(since, tenant)}

    @router.get("/webhooks")
    async def webhooks() -> dict[str, Any]:
        return {"deliveries": list(emulator.webhooks.deliveries), "pending": emulator.webhooks.pending()}

    @router.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        return {
            "live_tokens": emulator.authority.live_tokens(),
            "orgs": {t: {"credits_used": o.limits.used(), "daily_credits": o.config.daily_credits,
                         "in_flight": o.limits.in_flight} for t, o in emulator.orgs.items()},
        }

    return router
