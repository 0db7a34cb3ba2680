"""Run the Moodle emulator as a real HTTP server (subprocess), call it as a web-service client does, and receive
its webhooks in a tiny server that keeps the raw bytes (signatures are over them)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.infra import free_port, start_service, stop_service

SECRET = "whsec_" + "bW9vZGxlLWVtdWxhdG9yLXRlc3Qtc2VjcmV0LTAxMjM0NTY3"
TOKEN = "full-token-0123456789abcdef"
LEAST_PRIVILEGE = "least-privilege-token-0123"
NARROW = "narrow-token-0123456789abc"
DEBUG_TOKEN = "debug-site-token-012345678"
# A role allowed to assign only Student and Teacher, as the sink's least-privilege role is.
ASSIGNS_TWO = "assigns-two-roles-token-01"
WWWROOT = "https://lms.abchorizon.com"
# What the least-privilege token's user lacks.
MISSING = ["moodle/user:create", "moodle/course:update", "enrol/manual:enrol", "moodle/category:manage",
           "moodle/user:viewalldetails", "moodle/site:viewuseridentity", "moodle/site:viewfullnames"]


def php_pairs(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Moodle's REST encoding of nested parameters: users[0][username]=…"""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out += php_pairs(value, name)
        elif isinstance(value, list):
            out += php_pairs({str(i): v for i, v in enumerate(value)}, name)
        elif isinstance(value, bool):
            out.append((name, "1" if value else "0"))
        else:
            out.append((name, str(value)))
    return out


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    # Status codes to answer the next requests with (then 202).
    script: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.deliveries.clear()
            self.script.clear()

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [d for d in self.snapshot() if d.headers.get("x-emulator-answer") == "202"]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} accepted deliveries, got {len(self.snapshot())}")


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            with receiver.lock:
                status = receiver.script.pop(0) if receiver.script else 202
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["x-emulator-answer"] = str(status)
                receiver.deliveries.append(Delivery(self.path, headers, raw))
            self.send_response(status)
            self.send_header("content-length", "0")
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


class MoodleError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.body = body
        self.exception = body["exception"]
        self.errorcode = body["errorcode"]
        self.message = body["message"]


@dataclass
class Emulator:
    url: str

    @property
    def endpoint(self) -> str:
        return f"{self.url}/webservice/rest/server.php"

    def post(self, function: str | None, params: dict[str, Any] | None = None, token: str | None = TOKEN,
             fmt: str | None = "json", timeout: float = 10) -> httpx.Response:
        pairs: list[tuple[str, str]] = []
        if token is not None:
            pairs.append(("wstoken", token))
        if function is not None:
            pairs.append(("wsfunction", function))
        if fmt is not None:
            pairs.append(("moodlewsrestformat", fmt))
        return httpx.post(self.endpoint, data=dict(pairs) | dict(php_pairs(params or {})), timeout=timeout)

    def call(self, function: str, params: dict[str, Any] | None = None, token: str = TOKEN) -> Any:
        """The answer of a successful call; a Moodle exception (HTTP 200 too) raises MoodleError."""
        resp = self.post(function, params, token)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if isinstance(body, dict) and "exception" in body:
            raise MoodleError(body)
        return body

    def error(self, function: str | None, params: dict[str, Any] | None = None,
              token: str | None = TOKEN) -> dict[str, Any]:
        resp = self.post(function, params, token)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert isinstance(body, dict) and "exception" in body, body
        return dict(body)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = httpx.request(method, f"{self.url}/__emulator/{path}", timeout=10, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> None:
        self.admin("POST", "reset")

    def faults(self, **faults: Any) -> Any:
        return self.admin("POST", "faults", json=faults)

    def table(self, name: str, tenant: str | None = None) -> list[dict[str, Any]]:
        params = {"tenant": tenant} if tenant else {}
        return list(self.admin("GET", name, params=params)[name])

    def calls(self, tenant: str | None = None) -> list[dict[str, Any]]:
        params = {"tenant": tenant} if tenant else {}
        return list(self.admin("GET", "calls", params=params)["calls"])

    def counts(self) -> dict[str, int]:
        return dict(self.admin("GET", "calls/counts")["counts"])

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "webhooks")["deliveries"])

    def settled(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The delivery log once nothing waits to be sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.admin("GET", "webhooks")
            if state["pending"] == 0:
                return list(state["deliveries"])
            time.sleep(0.05)
        raise AssertionError(f"webhooks still pending: {self.admin('GET', 'webhooks')}")


def emulator_config(ingress_url: str, secret: str = SECRET) -> dict[str, Any]:
    everything = ["core_webservice_get_site_info", "core_user_create_users", "core_user_update_users",
                  "core_user_get_users_by_field", "core_course_create_categories", "core_course_get_categories",
                  "core_course_create_courses", "core_course_update_courses", "core_course_get_courses_by_field",
                  "enrol_manual_enrol_users", "enrol_manual_unenrol_users", "core_enrol_get_enrolled_users"]
    return {
        "sites": [
            {"tenant": "default", "wwwroot": WWWROOT, "moodle_webhook_secret": secret,
             "services": {"moodle_zoho_sync": everything,
                          "lookups": ["core_webservice_get_site_info", "core_user_get_users_by_field"]},
             "tokens": [{"token": TOKEN, "username": "zohosync"},
                        {"token": LEAST_PRIVILEGE, "username": "limited", "missing_capabilities": MISSING},
                        {"token": NARROW, "username": "lookup", "service": "lookups"},
                        {"token": ASSIGNS_TWO, "username": "enroller", "assignable_roles": [3, 5]}]},
            # A site in developer debug mode, without our plugin configured.
            {"tenant": "debugsite", "debug": True, "max_input_vars": 40,
             "tokens": [{"token": DEBUG_TOKEN, "username": "zohosync"}]},
        ],
        "webhooks": {"ingress_url": ingress_url, "backoff_s": 0.1, "max_attempts": 3, "timeout_s": 2},
        "faults": {"timeout_s": 1.5},
    }


@contextmanager
def running_emulator(config: dict[str, Any], workdir: Path) -> Iterator[Emulator]:
    port = free_port()
    config_file = workdir / "moodle-emulator.json"
    config_file.write_text(json.dumps(config))
    url = f"http://127.0.0.1:{port}"
    proc = start_service("stack.moodle_emulator", {}, workdir / "moodle-emulator.log", f"{url}/healthz",
                         args=["--port", str(port), "--config", str(config_file)])
    try:
        yield Emulator(url)
    finally:
        stop_service(proc)


def student(n: int, **fields: Any) -> dict[str, Any]:
    """A core_user_create_users entry for student n."""
    return {"username": f"student{n}", "firstname": f"First{n}", "lastname": f"Last{n}",
            "email": f"student{n}@abchorizon.com", "idnumber": f"STU-{n:04d}", "password": "Secret-pass1", **fields}
