"""`/__emulator/*`: inspection, seeding, faults and reset for tests. Not part of Moodle."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from stack.moodle_emulator.config import Faults
from stack.moodle_emulator.emulator import Emulator, Site
from stack.moodle_emulator.events import enrolment_event, user_event
from stack.moodle_emulator.grading import GradeRequest, GradingRefused, grade
from stack.moodle_emulator.store import ROLES, Course


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultsUpdate(_Strict):
    """Fields left out keep their current value."""

    next: list[str] | None = None
    latency_ms: int | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, ge=0)


class SeedUser(_Strict):
    username: str
    firstname: str
    lastname: str
    email: str
    idnumber: str = ""
    auth: str = "manual"
    suspended: bool = False


class SeedCategory(_Strict):
    name: str
    idnumber: str = ""
    parent: int = 0


class SeedCourse(_Strict):
    fullname: str
    shortname: str
    categoryid: int = 1
    idnumber: str = ""
    startdate: int = 0


class SeedEnrolment(_Strict):
    userid: int
    courseid: int
    roleid: int = 5
    status: int = 0
    timestart: int = 0
    timeend: int = 0


class Seed(_Strict):
    """Data an administrator made by hand before the sync started. `events`: whether the plugin saw it happen."""

    tenant: str | None = None
    users: list[SeedUser] = Field(default_factory=list)
    categories: list[SeedCategory] = Field(default_factory=list)
    courses: list[SeedCourse] = Field(default_factory=list)
    enrolments: list[SeedEnrolment] = Field(default_factory=list)
    events: bool = False


def admin_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(prefix="/__emulator", tags=["emulator"])

    def site_of(tenant: str | None) -> Site:
        site = emulator.site(tenant)
        if site is None:
            raise HTTPException(404, f"unknown tenant {tenant!r}")
        return site

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return emulator.faults.model_dump()

    @router.post("/faults")
    async def set_faults(update: FaultsUpdate) -> dict[str, Any]:
        given = update.model_dump(exclude_none=True)
        emulator.set_faults(Faults.model_validate({**emulator.faults.model_dump(), **given}))
        return emulator.faults.model_dump()

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        emulator.reset()
        return {"status": "reset"}

    @router.get("/users")
    async def users(tenant: str | None = None) -> dict[str, Any]:
        rows = [dataclasses.asdict(u) for u in site_of(tenant).store.users.values()]
        return {"users": rows, "count": len(rows)}

    @router.get("/categories")
    async def categories(tenant: str | None = None) -> dict[str, Any]:
        rows = [dataclasses.asdict(c) for c in site_of(tenant).store.categories.values()]
        return {"categories": rows, "count": len(rows)}

    @router.get("/courses")
    async def courses(tenant: str | None = None) -> dict[str, Any]:
        rows = [dataclasses.asdict(c) for c in site_of(tenant).store.courses.values()]
        return {"courses": rows, "count": len(rows)}

    @router.get("/enrolments")
    async def enrolments(tenant: str | None = None) -> dict[str, Any]:
        store = site_of(tenant).store
        rows = []
        for ue in store.user_enrolments.values():
            courseid = store.enrols[ue.enrolid].courseid
            rows.append({**dataclasses.asdict(ue), "courseid": courseid, "enrol": store.enrols[ue.enrolid].enrol,
                         "roles": sorted(ROLES[r].shortname for r in store.roles(courseid, ue.userid))})
        return {"enrolments": rows, "count": len(rows)}

    @router.get("/calls")
    async def calls(since: int = 0, tenant: str | None = None, wsfunction: str | None = None) -> dict[str, Any]:
        return {"calls": emulator.calls.since(since, tenant, wsfunction)}

    @router.get("/calls/counts")
    async def call_counts(tenant: str | None = None) -> dict[str, Any]:
        return {"counts": emulator.calls.counts(tenant)}

    @router.get("/webhooks")
    async def webhooks() -> dict[str, Any]:
        return {"deliveries": list(emulator.webhooks.deliveries), "pending": emulator.webhooks.pending()}

    @router.post("/seed")
    async def seed(body: Seed) -> dict[str, Any]:
        site = site_of(body.tenant)
        store = site.store
        out: dict[str, list[int]] = {"users": [], "categories": [], "courses": [], "enrolments": []}
        now = int(time.time())
        with store.transaction():
            for u in body.users:
                if store.user_by_username(u.username) is not None:
                    raise HTTPException(422, f"username {u.username!r} exists")
                user = store.add_user(**u.model_dump(), has_password=True, timecreated=now, timemodified=now)
                if body.events:
                    user_event(store, "user_created", user.id, now)
                out["users"].append(user.id)
            for c in body.categories:
                out["categories"].append(store.add_category(c.name, c.parent, idnumber=c.idnumber, timemodified=now).id)
            for course in body.courses:
                fields = course.model_dump()
                category = fields.pop("categoryid")
                out["courses"].append(store.add_course(Course(id=store.new_course_id(), category=category,
                                                              **fields, timecreated=now, timemodified=now)).id)
            for e in body.enrolments:
                instance = store.manual_instance(e.courseid)
                if instance is None or e.userid not in store.users:
                    raise HTTPException(422, f"no course {e.courseid} or no user {e.userid}")
                ue = store.add_user_enrolment(enrolid=instance.id, userid=e.userid, status=e.status,
                                              timestart=e.timestart, timeend=e.timeend, timecreated=now,
                                              timemodified=now)
                store.assign_role(e.courseid, e.userid, e.roleid)
                if body.events:
                    enrolment_event(store, "enrollment_created", ue, instance, now)
                out["enrolments"].append(ue.id)
        return out

    @router.post("/grade")
    async def give_grade(body: GradeRequest) -> dict[str, int]:
        """A teacher grades a student's submission; the plugin sends grade_updated."""
        try:
            return grade(site_of(body.tenant).store, body, int(time.time()))
        except GradingRefused as exc:
            raise HTTPException(422, str(exc)) from None

    return router
