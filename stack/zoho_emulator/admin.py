"""`/__emulator/*`: fault knobs, clock, reset and read-only inspection for tests. Not part of Zoho's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from stack.zoho_emulator.config import Faults
from stack.zoho_emulator.emulator import PROFILE_KEYS, Emulator, Org
from stack.zoho_emulator.errors import ZohoError

# One seed call at most; a test seeds 100,000 records in 20 calls without a request the server chokes on.
MAX_SEED = 5000


class FaultsUpdate(Faults):
    """Fields left out keep their current value; `expire_tokens_now` is an action, not a setting."""

    expire_tokens_now: bool = False


class Seed(BaseModel):
    """Records that already sat in Zoho before the integration: no webhook, no credits, ids as Zoho gives them.

    Times: a record's own `Created_Time` / `Modified_Time` (ISO 8601) win; otherwise record i was created at
    `created_start` (default: now) and modified `i * modified_step_s` seconds after `modified_start` (default:
    its creation), so a pull by Modified_Time sees them spread out.
    """

    model_config = ConfigDict(extra="forbid")

    data: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_SEED)
    created_start: datetime | None = None
    modified_start: datetime | None = None
    modified_step_s: float = Field(default=0.0, ge=0)


class ProfileUpdate(BaseModel):
    """An org admin's change: the scope of tokens issued from now on, the API user's module rights, the
    daily credits. Fields left out keep their value; reset restores the configured ones."""

    model_config = ConfigDict(extra="forbid")

    scope: str | None = None
    read_only_modules: list[str] | None = None
    no_access_modules: list[str] | None = None
    daily_credits: int | None = Field(default=None, ge=0)


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

    @router.post("/records/{module}")
    async def seed(module: str, seed: Seed, tenant: str | None = None) -> dict[str, Any]:
        org = org_of(tenant)
        if module not in org.store.modules:
            raise HTTPException(404, f"unknown module {module!r}")
        now = emulator.clock.now()
        created_start = seed.created_start.timestamp() if seed.created_start else now
        times = []
        for i, raw in enumerate(seed.data):
            created = _moment(raw.get("Created_Time"), created_start)
            modified_default = (seed.modified_start.timestamp() if seed.modified_start else created) \
                + i * seed.modified_step_s
            times.append((created, _moment(raw.get("Modified_Time"), modified_default)))
        try:
            ids = org.records.seed(module, seed.data, times)
        except ZohoError as err:
            raise HTTPException(400, err.body()) from err
        return {"ids": ids, "count": len(ids)}

    @router.delete("/records/{module}")
    async def delete(module: str, ids: str, tenant: str | None = None, permanent: bool = False) -> dict[str, Any]:
        """Deletes as a user in Zoho's UI would (no webhook); `permanent` as if emptied from the recycle bin."""
        org = org_of(tenant)
        if module not in org.store.modules:
            raise HTTPException(404, f"unknown module {module!r}")
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        deleted = [i for i in wanted if org.store.delete(module, i, permanent=permanent)]
        return {"deleted": deleted, "missing": [i for i in wanted if i not in deleted]}

    @router.get("/credits")
    async def credits(tenant: str | None = None) -> dict[str, Any]:
        org = org_of(tenant)
        return {"tenant": org.config.tenant, "daily_credits": org.config.daily_credits,
                "used": org.limits.used(), "remaining": org.limits.remaining()}

    @router.post("/orgs/{tenant}/profile")
    async def profile(tenant: str, update: ProfileUpdate) -> dict[str, Any]:
        org = org_of(tenant)
        for key, value in update.model_dump(exclude_unset=True).items():
            setattr(org.config, key, value)
        return org.config.model_dump(include=PROFILE_KEYS)

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
            "orgs": {t: {"credits_used": o.limits.used(), "credits_remaining": o.limits.remaining(),
                         "daily_credits": o.config.daily_credits, "in_flight": o.limits.in_flight}
                     for t, o in emulator.orgs.items()},
        }

    return router


def _moment(value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise HTTPException(400, f"not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise HTTPException(400, f"time without an offset: {value!r}")
    return moment.timestamp()
