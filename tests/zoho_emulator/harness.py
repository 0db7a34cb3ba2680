"""Run the emulator as a real HTTP server (subprocess) and a tiny webhook receiver, for both test packages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from stack.zoho_emulator.schema import default_modules
from tests.infra import free_port, start_service, stop_service

CLIENT_ID = "1000.EMULATORCLIENT"
CLIENT_SECRET = "emulator-client-secret"
REFRESH_TOKEN = "1000.emulator-refresh-token"
WEBHOOK_TOKEN = "default-zoho-token-0123456789"
# More refresh tokens of the default org, each generated with fewer scopes than the sink's.
READ_ONLY_REFRESH = "1000.read-only-refresh"
GRADES_ONLY_REFRESH = "1000.grades-only-refresh"
CUSTOM_ONLY_REFRESH = "1000.custom-modules-refresh"
EXTRA_REFRESH_TOKENS = {READ_ONLY_REFRESH: "ZohoCRM.modules.READ",
                        GRADES_ONLY_REFRESH: "ZohoCRM.modules.BTEC_Grades.ALL ZohoSearch.securesearch.READ",
                        CUSTOM_ONLY_REFRESH: "ZohoCRM.modules.custom.ALL"}
# The admin API takes at most this many records per seed call.
SEED_BATCH = 5000
TIGHT: dict[str, Any] = {"tenant": "tight", "client_id": "1000.TIGHT", "client_secret": "tight-secret",
         "refresh_token": "1000.tight-refresh", "id_prefix": "5725767", "concurrency": 3, "sub_concurrency": 1,
         "daily_credits": 20}


def unique_field(module: str, field: str) -> dict[str, Any]:
    """A default module with one more field set to "Do not allow duplicate values", as an org's own change."""
    spec = default_modules()[module]
    spec.fields[field] = spec.fields[field].model_copy(update={"unique": True})
    return {module: spec.model_dump(exclude_defaults=True)}


# An org whose admin made BTEC_Grades.Moodle_Grade_ID unique too; the other orgs keep the default schema.
CUSTOM: dict[str, Any] = {"tenant": "custom", "client_id": "1000.CUSTOM", "client_secret": "custom-secret",
                          "refresh_token": "1000.custom-refresh", "id_prefix": "5725768",
                          "modules": unique_field("BTEC_Grades", "Moodle_Grade_ID")}


@dataclass
class Delivery:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.deliveries.clear()

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            parts = urlsplit(self.path)
            with receiver.lock:
                receiver.deliveries.append(Delivery(parts.path, parse_qs(parts.query),
                                                    {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)))
            self.send_response(202)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Emulator:
    url: str

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = httpx.request(method, f"{self.url}/__emulator/{path}", timeout=10, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> None:
        self.admin("POST", "reset")

    def faults(self, **faults: Any) -> Any:
        return self.admin("POST", "faults", json=faults)

    def advance(self, seconds: float) -> None:
        self.admin("POST", "clock", json={"advance_s": seconds})

    def records(self, module: str, tenant: str | None = None) -> list[dict[str, Any]]:
        params = {"tenant": tenant} if tenant else {}
        return list(self.admin("GET", f"records/{module}", params=params)["data"])

    def calls(self, tenant: str | None = None) -> list[dict[str, Any]]:
        params = {"tenant": tenant} if tenant else {}
        return list(self.admin("GET", "calls", params=params)["calls"])

    def seed(self, module: str, records: Sequence[dict[str, Any]], *, tenant: str | None = None,
             created_start: datetime | None = None, modified_start: datetime | None = None,
             modified_step_s: float = 0.0) -> list[str]:
        """Records that already sit in Zoho (no webhook, no credits), in batches; returns their ids in order.

        Record i is created at `created_start` (default: now) and last modified `i * modified_step_s` seconds after
        `modified_start` (default: its creation), unless it carries its own `Created_Time` / `Modified_Time`.
        """
        params = {"tenant": tenant} if tenant else {}
        if modified_step_s and modified_start is None:
            # one base for every batch, so the spread runs on where the previous batch ended
            modified_start = created_start or datetime.fromtimestamp(self.admin("GET", "clock")["now"], UTC)
        ids: list[str] = []
        for start in range(0, len(records), SEED_BATCH):
            body: dict[str, Any] = {"data": list(records[start:start + SEED_BATCH]),
                                    "modified_step_s": modified_step_s}
            if created_start is not None:
                body["created_start"] = created_start.isoformat()
            if modified_start is not None:
                body["modified_start"] = (modified_start + timedelta(seconds=start * modified_step_s)).isoformat()
            ids.extend(self.admin("POST", f"records/{module}", params=params, json=body)["ids"])
        return ids

    def delete(self, module: str, ids: Sequence[str], *, tenant: str | None = None,
               permanent: bool = False) -> dict[str, list[str]]:
        """Delete as a user in Zoho's UI would (no webhook); `permanent` skips the recycle bin."""
        params: dict[str, Any] = {"ids": ",".join(ids), "permanent": permanent}
        if tenant:
            params["tenant"] = tenant
        result: dict[str, list[str]] = self.admin("DELETE", f"records/{module}", params=params)
        return result

    def credits(self, tenant: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "credits", params={"tenant": tenant} if tenant else {})
        return result

    def profile(self, tenant: str, **changes: Any) -> dict[str, Any]:
        """Change an org's scope (for tokens issued afterwards), module rights or daily credits until reset."""
        result: dict[str, Any] = self.admin("POST", f"orgs/{tenant}/profile", json=changes)
        return result

    def token(self, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET, refresh: str = REFRESH_TOKEN) -> str:
        resp = httpx.post(f"{self.url}/oauth/v2/token", params={
            "grant_type": "refresh_token", "client_id": client_id, "client_secret": secret, "refresh_token": refresh})
        return str(resp.json()["access_token"])

    def metric(self, line_prefix: str) -> float:
        for line in httpx.get(f"{self.url}/metrics").text.splitlines():
            if line.startswith(line_prefix):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def students(n: int, start: int = 0, domain: str = "college.test") -> list[dict[str, Any]]:
    """`n` valid BTEC_Students records (unique e-mail and Moodle id), for seeding."""
    return [{"Academic_Email": f"student{i}@{domain}", "First_Name": f"First{i}", "Last_Name": f"Last{i}",
             "Student_Moodle_ID": str(10_000 + i), "Status": "Active"} for i in range(start, start + n)]


def emulator_config(ingress_url: str) -> dict[str, Any]:
    return {
        "orgs": [{"tenant": "default", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                  "refresh_token": REFRESH_TOKEN, "webhook_token": WEBHOOK_TOKEN,
                  "extra_refresh_tokens": EXTRA_REFRESH_TOKENS}, TIGHT, CUSTOM],
        "webhooks": {"ingress_url": ingress_url},
        "faults": {"timeout_s": 1.5, "seed": 7},
    }


@contextmanager
def running_emulator(config: dict[str, Any], workdir: Path) -> Iterator[Emulator]:
    port = free_port()
    config_file = workdir / "emulator.json"
    config_file.write_text(json.dumps(config))
    url = f"http://127.0.0.1:{port}"
    proc = start_service("stack.zoho_emulator", {}, workdir / "emulator.log", f"{url}/healthz",
                         args=["--port", str(port), "--config", str(config_file)])
    try:
        yield Emulator(url)
    finally:
        stop_service(proc)
