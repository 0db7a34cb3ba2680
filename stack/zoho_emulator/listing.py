"""`GET {module}` (list) and `GET {module}/deleted`: paging by number and by page token, sorting,
`If-Modified-Since` (reference §1; shapes from zoho/crm-oas v8.0 getRecords / getDeletedRecords).

- By page number only the first 2,000 records are reachable (`page` x `per_page` <= 2,000), further pages answer
  400 DISCRETE_PAGINATION_LIMIT_EXCEEDED; every page with more records behind it carries a `next_page_token`
  that reaches up to 100,000 records (then 400 PAGINATION_LIMIT_EXCEEDED).
- A page token is a cursor (the sort key of the last record served), bound to the request's other parameters
  and valid for a day on the emulator clock. Zoho does not document how a token behaves when records change
  while a client pages; a cursor means a record modified meanwhile moves behind the cursor (sorted by
  Modified_Time) and is served again rather than skipped.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from stack.zoho_emulator.clock import Clock
from stack.zoho_emulator.errors import ZohoError, param_missing
from stack.zoho_emulator.store import DeletedRecord, OrgStore, SortKey, StoredRecord, sort_key

MAX_FIELDS = 50
MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2000
TOKEN_LIMIT = 100_000
SORTABLE = ("id", "Created_Time", "Modified_Time")
SORT_ORDERS = ("asc", "desc")
DELETED_TYPES = ("all", "recycle", "permanent")
# Live page tokens kept per org; the oldest goes first (a client that lost it starts over, as after expiry).
MAX_PAGE_TOKENS = 10_000


@dataclass(frozen=True)
class Cursor:
    binding: tuple[tuple[str, str], ...]
    after: SortKey
    page: int
    served: int
    expires_at: float


class PageTokens:
    def __init__(self, clock: Clock, ttl_s: int, limit: int = TOKEN_LIMIT, size: int = MAX_PAGE_TOKENS) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self.limit = limit
        self.size = size
        self._tokens: OrderedDict[str, Cursor] = OrderedDict()

    def reset(self) -> None:
        self._tokens.clear()

    def issue(self, binding: tuple[tuple[str, str], ...], after: SortKey, page: int, served: int
              ) -> tuple[str, float]:
        """A new token (48 hex characters, within the spec's 96) and when it expires."""
        cursor = Cursor(binding, after, page, served, self.clock.now() + self.ttl_s)
        token = secrets.token_hex(24)
        self._tokens[token] = cursor
        while len(self._tokens) > self.size:
            self._tokens.popitem(last=False)
        return token, cursor.expires_at

    def take(self, token: str, binding: tuple[tuple[str, str], ...]) -> Cursor:
        cursor = self._tokens.get(token)
        if cursor is not None and cursor.expires_at <= self.clock.now():
            raise ZohoError(400, "EXPIRED_VALUE", "Page token expired",
                            {"api_name": "page_token", "json_path": "$.query.page_token"})
        if cursor is None or cursor.binding != binding:
            raise ZohoError(400, "TOKEN_BOUND_DATA_MISMATCH",
                            "The page_token given seems to be invalid or input param is added or altered or deleted",
                            {"param_name": "page_token"})
        return cursor


def fields_param(request: Request, required: bool) -> list[str] | None:
    raw = request.query_params.get("fields")
    if not raw:
        if required:
            raise param_missing("fields")
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    if len(fields) > MAX_FIELDS:
        raise ZohoError(400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": MAX_FIELDS, "param_name": "fields"})
    return fields


def paging(request: Request) -> tuple[int, int]:
    params = request.query_params
    try:
        page = int(params.get("page", "1"))
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "page"}) from exc
    try:
        per_page = int(params.get("per_page", str(MAX_PER_PAGE)))
    except ValueError as exc:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "per_page"}) from exc
    if page < 1:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "page"})
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "per_page", "maximum_length": 200})
    return page, per_page


def modified_since(request: Request) -> float | None:
    """`If-Modified-Since` as epoch seconds; Zoho takes ISO 8601 with an offset."""
    raw = request.headers.get("if-modified-since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "If-Modified-Since"})
    return moment.timestamp()


def _changed_after(moment: float | None, at: float) -> bool:
    """Zoho's times have whole seconds: a record counts as modified since T when its second is after T's."""
    return moment is None or int(at) > int(moment)


def list_records(store: OrgStore, tokens: PageTokens, module: str, request: Request) -> Response:
    params = request.query_params
    fields = fields_param(request, required=True)
    page, per_page = paging(request)
    sort_by = params.get("sort_by", "id")
    if sort_by not in SORTABLE:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "sort_by",
                                                              "supported_values": list(SORTABLE)})
    sort_order = params.get("sort_order", "desc")
    if sort_order not in SORT_ORDERS:
        raise ZohoError(400, "INVALID_DATA", "invalid data", {"param_name": "sort_order",
                                                              "supported_values": list(SORT_ORDERS)})
    since = modified_since(request)
    ids = {i.strip() for i in params["ids"].split(",") if i.strip()} if params.get("ids") else None
    binding = (("module", module), ("If-Modified-Since", request.headers.get("if-modified-since", "")),
               *sorted((k, v) for k, v in params.multi_items() if k not in ("page_token", "page")))

    def wanted(record: StoredRecord) -> bool:
        return (ids is None or record.id in ids) and _changed_after(since, record.modified)

    token = params.get("page_token")
    if token:
        cursor = tokens.take(token, binding)
        if cursor.served >= tokens.limit:
            raise ZohoError(400, "PAGINATION_LIMIT_EXCEEDED",
                            f"You can only get upto {tokens.limit} records using page_token param",
                            {"param_name": "page_token"})
        page, served, cap = cursor.page + 1, cursor.served, min(per_page, tokens.limit - cursor.served)
        found = _take(store.walk(module, sort_by, sort_order == "desc", cursor.after), wanted, 0, cap + 1)
    else:
        if page * per_page > DISCRETE_LIMIT:
            raise ZohoError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                            "You can only get the first 2000 records without using page_token param",
                            {"limit": DISCRETE_LIMIT})
        served, cap = (page - 1) * per_page, per_page
        found = _take(store.walk(module, sort_by, sort_order == "desc", None), wanted, served, cap + 1)
    window, more = found[:cap], len(found) > cap
    if not window:
        if since is not None and not any(wanted(r) for r in store.records[module].values()):
            return Response(status_code=304)
        return Response(status_code=204)
    next_token: str | None = None
    expiry: str | None = None
    if more:
        # past the token limit Zoho still says more_records; the next token then answers PAGINATION_LIMIT_EXCEEDED
        next_token, expires_at = tokens.issue(binding, sort_key(sort_by, window[-1]), page, served + len(window))
        expiry = store.clock.iso(expires_at)
    return JSONResponse({
        "data": [store.render(module, r, fields) for r in window],
        "info": {"call": False, "per_page": per_page, "next_page_token": next_token, "count": len(window),
                 "sort_by": sort_by, "page": page, "page_token_expiry": expiry, "sort_order": sort_order,
                 "email": False, "more_records": more, "previous_page_token": None},
    })


def _take(records: Iterator[StoredRecord], wanted: Callable[[StoredRecord], bool], skip: int, limit: int
          ) -> list[StoredRecord]:
    out: list[StoredRecord] = []
    for record in records:
        if not wanted(record):
            continue
        if skip:
            skip -= 1
            continue
        out.append(record)
        if len(out) >= limit:
            break
    return out


def list_deleted(store: OrgStore, module: str, request: Request) -> Response:
    kind = request.query_params.get("type", "all")
    if kind not in DELETED_TYPES:
        raise ZohoError(400, "PATTERN_NOT_MATCHED", "Please check whether the input values are correct",
                        {"param_name": "type"})
    page, per_page = paging(request)
    since = modified_since(request)
    matching = [d for d in reversed(store.deleted[module])
                if (kind == "all" or d.type == kind) and _changed_after(since, d.deleted)]
    if not matching:
        return Response(status_code=304 if since is not None else 204)
    window = matching[(page - 1) * per_page: page * per_page]
    if not window:
        return Response(status_code=204)
    return JSONResponse({
        "data": [_deleted_item(store, d) for d in window],
        "info": {"per_page": per_page, "count": len(window), "page": page,
                 "more_records": len(matching) > page * per_page},
    })


def _deleted_item(store: OrgStore, deleted: DeletedRecord) -> dict[str, Any]:
    # A permanently deleted record keeps only its id and time (the spec's example has nulls for the rest).
    recycled = deleted.type == "recycle"
    return {"deleted_by": store.user if recycled else None, "id": deleted.id,
            "display_name": deleted.display_name if recycled else None, "type": deleted.type,
            "created_by": store.user if recycled else None, "deleted_time": store.clock.iso(deleted.deleted)}
