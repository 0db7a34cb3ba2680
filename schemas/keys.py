"""Record keys of every topic, and the ids the ingress reads from a body to build them.

Every key starts with the tenant and uses `/` between its parts:
- raw topics: `tenant/module/record-id` (Zoho; record id empty for a batch) and
  `tenant/event/entity-id` (Moodle) — `RawKey`;
- canonical topics: `tenant/entity-id` — `EntityKey`;
- outcome topics: `tenant/module-or-entity/record-key` — `OutcomeKey`;
- the streams' internal stage topics `tenant/email`, `tenant/moodle-user-id`, `tenant/student-id` —
  `EntityKey` — and their state tables `tenant/kind/id` — `StateKey`.
Ids may themselves hold `/` only in their last part; parsing splits from the left.
"""

from __future__ import annotations

from typing import Any, NamedTuple

SEP = "/"


def _text(key: bytes | str) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key


def tenant_of(key: bytes | str | None) -> str:
    """The tenant a key belongs to ('' for no key)."""
    return "" if key is None else _text(key).split(SEP, 1)[0]


class RawKey(NamedTuple):
    tenant: str
    kind: str
    record_id: str

    def encode(self) -> bytes:
        return f"{self.tenant}{SEP}{self.kind}{SEP}{self.record_id}".encode()

    @classmethod
    def parse(cls, key: bytes | str) -> RawKey:
        parts = _text(key).split(SEP, 2)
        parts += [""] * (3 - len(parts))
        return cls(parts[0], parts[1], parts[2])


class EntityKey(NamedTuple):
    tenant: str
    entity_id: str

    def encode(self) -> bytes:
        return f"{self.tenant}{SEP}{self.entity_id}".encode()

    def text(self) -> str:
        return f"{self.tenant}{SEP}{self.entity_id}"

    @classmethod
    def parse(cls, key: bytes | str) -> EntityKey:
        tenant, _, entity_id = _text(key).partition(SEP)
        return cls(tenant, entity_id)


class OutcomeKey(NamedTuple):
    tenant: str
    scope: str
    record_key: str

    def encode(self) -> bytes:
        return f"{self.tenant}{SEP}{self.scope}{SEP}{self.record_key}".encode()

    @classmethod
    def parse(cls, key: bytes | str) -> OutcomeKey:
        tenant, scope, record_key = RawKey.parse(key)
        return cls(tenant, scope, record_key)


class StateKey(NamedTuple):
    """A record of some kind held in a state table: reference data by id, the last event emitted per entity."""

    tenant: str
    kind: str
    ident: str

    def text(self) -> str:
        return f"{self.tenant}{SEP}{self.kind}{SEP}{self.ident}"


def _as_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | str):
        return str(value).strip()
    if isinstance(value, dict):
        return _as_id(value.get("id"))
    return ""


def zoho_record_id(body: dict[str, Any]) -> str:
    data = body.get("data")
    if isinstance(data, list):
        return _as_id(data[0].get("id")) if len(data) == 1 and isinstance(data[0], dict) else ""
    for candidate in (body.get("record_id"), data.get("id") if isinstance(data, dict) else None,
                      body.get("zoho_id"), body.get("id")):
        rid = _as_id(candidate)
        if rid:
            return rid
    ids = body.get("ids")
    if isinstance(ids, list) and len(ids) == 1:
        return _as_id(ids[0])
    return ""


def zoho_delivery_id(body: dict[str, Any]) -> str | None:
    nid = _as_id(body.get("notification_id"))
    return nid or None


def moodle_entity_id(event: str, body: dict[str, Any]) -> str:
    data = body.get("data")
    if not isinstance(data, dict):
        return ""
    if event.startswith("user_"):
        return _as_id(data.get("moodle_user_id"))
    if event.startswith("enrollment_"):
        return _as_id(data.get("enrolment_id"))
    if event == "grade_updated":
        user, assignment = _as_id(data.get("moodle_user_id")), _as_id(data.get("assignment_id"))
        return f"{user}_{assignment}" if user and assignment else ""
    return ""
