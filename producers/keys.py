"""Record keys and delivery ids: the only things ingress reads from a body.

Keys follow docs/contract.md: `tenant/module/record-id` for Zoho (record id empty for a batch)
and `tenant/event/entity-id` for Moodle.
"""

from __future__ import annotations

from typing import Any


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


def record_key(tenant: str, kind: str, entity_id: str) -> bytes:
    return f"{tenant}/{kind}/{entity_id}".encode()
