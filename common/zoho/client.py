"""Async, typed Zoho CRM API client (the Zoho sink writes with it, the puller reads).

- one shared access token per account (auth.py), refreshed before expiry and once on 401 INVALID_TOKEN;
- writes in batches of <= 100 with `"trigger": []`, so our own writes do not fire workflow webhooks back at us;
- 429 -> exponential backoff with full jitter (Zoho sends no Retry-After); 5xx/timeouts -> bounded retries;
- per-record errors are returned in input order, never raised; exhausted retries raise ZohoRetriesExhausted.
Only idempotent writes (upsert on a unique field, update by id) are offered, because a timed-out write may have
landed and is retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import httpx

from common.zoho import metrics
from common.zoho.auth import TokenManager
from common.zoho.config import ClientSettings, ZohoAccount
from common.zoho.errors import ZohoAuthError, ZohoRequestError, ZohoRetriesExhausted
from common.zoho.results import RecordResult, RecordSuccess, parse_write_items
from common.zoho.retry import Backoff

log = logging.getLogger("zoho.client")

Record = dict[str, Any]
# Told of every call's credits once Zoho has answered it (the shared daily budget, common/zoho/budget.py).
SpendHook = Callable[[str, int], Awaitable[None]]
# Records per page of a read by ids (Zoho's maximum).
PAGE_SIZE = 200


def write_cost(records: int) -> int:
    """Zoho charges insert/update/upsert one credit per ten records, at least one."""
    return max(1, -(-records // 10))


def _error_body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass(frozen=True)
class Page:
    records: list[Record]
    more: bool
    next_token: str | None


class ZohoClient:
    def __init__(self, account: ZohoAccount, settings: ClientSettings | None = None, *,
                 http: httpx.AsyncClient | None = None, rng: random.Random | None = None,
                 clock: Callable[[], float] | None = None, on_spend: SpendHook | None = None) -> None:
        self.account = account
        self._on_spend = on_spend
        self.settings = settings or ClientSettings()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=self.settings.timeout_s)
        self.tokens = TokenManager(account, self._http, self.settings, clock)
        self._backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_cap_s)
        self._rng = rng or random.Random()
        self._base = f"{account.api_domain}/crm/{account.api_version}"

    async def __aenter__(self) -> ZohoClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- writes -------------------------------------------------------------------------------------------

    async def upsert(self, module: str, records: Sequence[Record], duplicate_check_fields: Sequence[str]
                     ) -> list[RecordResult]:
        """Insert or update each record by the first matching duplicate-check field (in the given order)."""
        return await self._write("upsert", "POST", f"{module}/upsert", module, records,
                                 {"duplicate_check_fields": list(duplicate_check_fields)})

    async def update(self, module: str, records: Sequence[Record]) -> list[RecordResult]:
        """Update records by their `id`; only the keys sent change (subform rows: see docs/zoho-emulator.md)."""
        return await self._write("update", "PUT", module, module, records, {})

    async def _write(self, operation: str, method: str, path: str, module: str, records: Sequence[Record],
                     extra: dict[str, Any]) -> list[RecordResult]:
        results: list[RecordResult] = []
        size = self.settings.batch_size
        default: Literal["created", "updated"] = "updated"
        for start in range(0, len(records), size):
            batch = list(records[start:start + size])
            body = {"data": batch, "trigger": [], **extra}
            metrics.RECORDS_PER_CALL.labels(operation=operation).observe(len(batch))
            resp = await self._send(operation, method, path, json=body, cost=write_cost(len(batch)))
            payload = _error_body(resp)
            if resp.status_code not in (200, 201, 207, 400) or "data" not in payload:
                raise self._request_error(resp, payload)
            batch_results = parse_write_items(payload["data"], start, len(batch), default)
            for result in batch_results:
                outcome = result.action if isinstance(result, RecordSuccess) else result.code
                metrics.RECORD_OUTCOMES.labels(tenant=self.account.tenant, operation=operation,
                                               outcome=outcome).inc()
            results.extend(batch_results)
        log.debug("zoho write", extra={"tenant": self.account.tenant, "zoho_module": module, "operation": operation,
                                       "records": len(records)})
        return results

    # -- reads --------------------------------------------------------------------------------------------

    async def get(self, module: str, record_id: str, fields: Sequence[str] | None = None) -> Record | None:
        """The record as Zoho returns it, or None when Zoho has no such record."""
        params = {"fields": ",".join(fields)} if fields else None
        resp = await self._send("get", "GET", f"{module}/{record_id}", params=params, cost=1)
        if resp.status_code == 204:
            return None
        payload = _error_body(resp)
        if resp.status_code == 400 and payload.get("code") == "INVALID_DATA" \
                and payload.get("details", {}).get("resource_path_index") is not None:
            return None  # some orgs answer an unknown id this way instead of 204
        if resp.status_code != 200 or not payload.get("data"):
            raise self._request_error(resp, payload)
        record: Record = payload["data"][0]
        return record

    async def list_page(self, module: str, fields: Sequence[str], *, page: int = 1, page_token: str | None = None,
                        modified_since: datetime | None = None, sort_by: str = "Modified_Time",
                        sort_order: str = "asc") -> Page:
        """One page (<= 200) of a module's records. Past 2,000 records Zoho pages only by `page_token`; with
        `modified_since`, only records changed since then (an empty page when none: 304)."""
        params: dict[str, Any] = {"fields": ",".join(fields), "per_page": PAGE_SIZE, "sort_by": sort_by,
                                  "sort_order": sort_order}
        if page_token:
            params["page_token"] = page_token
        else:
            params["page"] = page
        headers = {"If-Modified-Since": modified_since.isoformat(timespec="seconds")} if modified_since else None
        resp = await self._send("list", "GET", module, params=params, cost=1, headers=headers)
        return self._page(resp)

    async def field_names(self, module: str) -> list[str]:
        """The API names of a module's fields, from the org's metadata (`settings/fields`)."""
        resp = await self._send("fields", "GET", "settings/fields", params={"module": module}, cost=1)
        payload = _error_body(resp)
        if resp.status_code != 200 or "fields" not in payload:
            raise self._request_error(resp, payload)
        return [str(f["api_name"]) for f in payload["fields"] if isinstance(f, dict) and f.get("api_name")]

    async def deleted_page(self, module: str, *, page: int = 1) -> Page:
        """One page of the module's deleted records (recycle bin and permanently deleted), newest first."""
        resp = await self._send("deleted", "GET", f"{module}/deleted",
                                params={"type": "all", "page": page, "per_page": PAGE_SIZE}, cost=1)
        return self._page(resp)

    def _page(self, resp: httpx.Response) -> Page:
        if resp.status_code in (204, 304):
            return Page([], False, None)
        payload = _error_body(resp)
        if resp.status_code != 200 or "data" not in payload:
            raise self._request_error(resp, payload)
        info = payload.get("info") or {}
        return Page(list(payload["data"]), bool(info.get("more_records")), info.get("next_page_token") or None)

    # -- transport ----------------------------------------------------------------------------------------

    async def _send(self, operation: str, method: str, path: str, *, cost: int, params: dict[str, Any] | None = None,
                    json: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        tenant = self.account.tenant
        rate_limited = transient = 0
        reauthorised = False
        while True:
            try:
                token = await self.tokens.token()
                sent = {**(headers or {}), "Authorization": f"Zoho-oauthtoken {token}"}
                resp = await self._http.request(method, f"{self._base}/{path}", params=params, json=json,
                                                headers=sent)
            except httpx.TransportError as exc:
                reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
                metrics.CALLS.labels(tenant=tenant, operation=operation, status=reason).inc()
                transient += 1
                await self._pause(operation, reason, transient, self.settings.transient_attempts, None, None)
                continue
            status = resp.status_code
            metrics.CALLS.labels(tenant=tenant, operation=operation, status=str(status)).inc()
            if (remaining := resp.headers.get("X-API-CREDITS-REMAINING")) is not None:
                metrics.CREDITS_REMAINING.labels(tenant=tenant).set(float(remaining))
            code = _error_body(resp).get("code") if status >= 400 else None
            if status == 401 and code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE") and not reauthorised:
                # Expired early or revoked: one fresh token, one retry of this call.
                reauthorised = True
                self.tokens.invalidate(token)
                metrics.RETRIES.labels(tenant=tenant, operation=operation, reason="invalid_token").inc()
                continue
            if status == 401:
                raise ZohoAuthError(f"Zoho rejected the access token of {tenant}: {code}", code=code)
            if status == 429:
                metrics.RATE_LIMITED.labels(tenant=tenant).inc()
                rate_limited += 1
                await self._pause(operation, "rate_limited", rate_limited, self.settings.rate_limited_attempts,
                                  status, code)
                continue
            if status >= 500:
                transient += 1
                await self._pause(operation, "server_error", transient, self.settings.transient_attempts,
                                  status, code)
                continue
            metrics.CREDITS.labels(tenant=tenant).inc(cost)
            if self._on_spend is not None:
                await self._on_spend(tenant, cost)
            return resp

    async def _pause(self, operation: str, reason: str, attempt: int, allowed: int, status: int | None,
                     code: str | None) -> None:
        if attempt >= allowed:
            log.warning("zoho call gave up", extra={"tenant": self.account.tenant, "operation": operation,
                                                    "reason": reason, "attempts": attempt, "status": status})
            raise ZohoRetriesExhausted(operation, attempt, reason, status, code)
        metrics.RETRIES.labels(tenant=self.account.tenant, operation=operation, reason=reason).inc()
        await asyncio.sleep(self._backoff.delay(attempt, self._rng))

    @staticmethod
    def _request_error(resp: httpx.Response, payload: dict[str, Any]) -> ZohoRequestError:
        return ZohoRequestError(resp.status_code, payload.get("code"), str(payload.get("message", resp.text[:200])),
                                payload.get("details") if isinstance(payload.get("details"), dict) else None)
