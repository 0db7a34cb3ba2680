"""What the real Moodle answered the Moodle sink, and whether the emulator (`stack/moodle_emulator`) answers the
same calls the same way.

A recording proxy sits between the sink and `php -S`: every web-service call (function, parameters) and Moodle's
answer is kept. The calls are then replayed, in order, against an emulator seeded with the data the real site held
before the sink's first call; the ids in the parameters are translated (the emulator numbers its records itself) and
the answers compared: the same error (`exception`, `errorcode`, `message`), or the same shape (keys and JSON types,
at every depth) and the same number of items.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from common.settings import PROJECT_ROOT
from tools.moodle_check.product import terminate

# The scenario makes a few hundred calls; beyond this the proxy still forwards but stops recording.
RECORD_LIMIT = 5000
META = ("wstoken", "wsfunction", "moodlewsrestformat")
WRITES = ("core_user_create_users", "core_user_update_users", "core_course_create_categories",
          "core_course_create_courses", "core_course_update_courses", "enrol_manual_enrol_users",
          "enrol_manual_unenrol_users")


@dataclass
class Call:
    seq: int
    phase: str
    wsfunction: str
    token: str
    params: list[tuple[str, str]]
    status: int
    answer: Any

    @property
    def error(self) -> dict[str, Any] | None:
        return self.answer if isinstance(self.answer, dict) and "exception" in self.answer else None

    @property
    def write(self) -> bool:
        return self.wsfunction in WRITES and self.error is None and self.status == 200


@dataclass
class Recorder:
    """An HTTP proxy to `upstream` that records each web-service call and its answer."""

    upstream: str
    # Every call and answer as a JSON line, for diagnosis.
    log: Path | None = None
    calls: list[Call] = field(default_factory=list)
    phase: str = "sink"
    dropped: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return self.calls[mark:]

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def record(self, raw: bytes, status: int, body: bytes) -> None:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True)
        meta = {k: v for k, v in pairs if k in META}
        try:
            answer: Any = json.loads(body)
        except ValueError:
            answer = body.decode(errors="replace")[:500]
        with self._lock:
            if len(self.calls) >= RECORD_LIMIT:
                self.dropped += 1
                return
            call = Call(len(self.calls), self.phase, meta.get("wsfunction", ""), meta.get("wstoken", ""),
                        [(k, v) for k, v in pairs if k not in META], status, answer)
            self.calls.append(call)
            if self.log is not None:
                with self.log.open("a") as out:
                    out.write(json.dumps({"seq": call.seq, "phase": call.phase, "wsfunction": call.wsfunction,
                                          "params": call.params, "status": status, "answer": answer}) + "\n")

    @contextmanager
    def running(self, port: int) -> Iterator[Recorder]:
        recorder = self
        upstream = httpx.Client(base_url=self.upstream, timeout=120)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                resp = upstream.post(self.path, content=raw,
                                     headers={"content-type": self.headers.get("content-type", "")})
                recorder.record(raw, resp.status_code, resp.content)
                self.send_response(resp.status_code)
                self.send_header("content-type", resp.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            upstream.close()


# -- shapes ------------------------------------------------------------------------------------------------------

def shape(value: Any) -> Any:
    """A JSON value's structure: dicts by key, lists as the merged shape of their items, scalars as a type name."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [merged] if merged is not None else []
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), type(value).__name__)


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) if k in a and k in b else (a.get(k) or b.get(k))
                for k in [*a, *(k for k in b if k not in a)]}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    return a if a == b else f"{a}|{b}"


def shape_differences(real: Any, emulated: Any, path: str = "") -> list[str]:
    """Where the emulator's answer is built differently from Moodle's (an empty list matches any list)."""
    where = path or "answer"
    if isinstance(real, dict) and isinstance(emulated, dict):
        out = [f"{where}: key {k!r} only in Moodle's answer" for k in real if k not in emulated]
        out += [f"{where}: key {k!r} only in the emulator's answer" for k in emulated if k not in real]
        for k in real:
            if k in emulated:
                out += shape_differences(real[k], emulated[k], f"{path}.{k}" if path else k)
        return out
    if isinstance(real, list) and isinstance(emulated, list):
        if not real or not emulated:
            return []
        return shape_differences(real[0], emulated[0], f"{where}[]")
    if real != emulated:
        return [f"{where}: Moodle {real}, emulator {emulated}"]
    return []


def _counts(value: Any, path: str = "") -> dict[str, int]:
    """The number of items of every list in an answer, by path (`users`, `courses`, `warnings`, ...)."""
    out: dict[str, int] = {}
    if isinstance(value, list):
        out[path or "answer"] = len(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.update(_counts(v, f"{path}.{k}" if path else k))
    return out


def compare_answers(real: Any, emulated: Any) -> list[str]:
    real_error = real if isinstance(real, dict) and "exception" in real else None
    emu_error = emulated if isinstance(emulated, dict) and "exception" in emulated else None
    if real_error or emu_error:
        if not (real_error and emu_error):
            return [f"Moodle answered {_brief(real)}, the emulator {_brief(emulated)}"]
        # Messages compared with their numbers masked: they name ids, which differ between the two sites.
        out = [f"{k}: Moodle {real_error.get(k)!r}, emulator {emu_error.get(k)!r}"
               for k in ("exception", "errorcode", "message")
               if _masked(real_error.get(k)) != _masked(emu_error.get(k))]
        if set(real_error) != set(emu_error):
            out.append(f"error keys: Moodle {sorted(real_error)}, emulator {sorted(emu_error)}")
        return out
    out = shape_differences(shape(real), shape(emulated))
    real_counts, emu_counts = _counts(real), _counts(emulated)
    out += [f"{path}: Moodle {n} items, emulator {emu_counts.get(path)}" for path, n in real_counts.items()
            if emu_counts.get(path, n) != n]
    return out


def _masked(value: Any) -> Any:
    return re.sub(r"\d+", "#", value) if isinstance(value, str) else value


def _brief(answer: Any) -> str:
    if isinstance(answer, dict) and "exception" in answer:
        return f"{answer.get('exception')}/{answer.get('errorcode')} ({answer.get('message')})"
    return json.dumps(answer)[:120]


# -- replay --------------------------------------------------------------------------------------------------------

@dataclass
class IdMap:
    """Real Moodle id -> emulator id, per kind of record."""

    ids: dict[str, dict[str, str]] = field(default_factory=lambda: {"user": {}, "course": {}, "category": {}})

    def add(self, kind: str, real: Any, emulated: Any) -> None:
        self.ids[kind][str(real)] = str(emulated)

    def get(self, kind: str, real: str) -> str:
        return self.ids[kind].get(real, real)


_LAST = re.compile(r"\[([a-z]+)\]$")


def _kind(function: str, name: str, params: dict[str, str]) -> str | None:
    """Which kind of record a parameter's value names, if any."""
    last = _LAST.search(name)
    key = last.group(1) if last else name
    if key == "userid":
        return "user"
    if key == "courseid":
        return "course"
    if key in ("categoryid", "parent"):
        return "category"
    if key == "id":
        return "user" if function.startswith("core_user_") else "course"
    if function == "core_user_get_users_by_field" and name.startswith("values[") and params.get("field") == "id":
        return "user"
    if function == "core_course_get_courses_by_field" and name == "value":
        return {"id": "course", "ids": "course", "category": "category"}.get(params.get("field", ""))
    if function == "core_course_get_categories" and key == "value":
        index = name.split("]")[0] + "]"
        return "category" if params.get(f"{index}[key]") in ("id", "ids", "parent") else None
    return None


def translate(call: Call, ids: IdMap) -> list[tuple[str, str]]:
    params = dict(call.params)
    out: list[tuple[str, str]] = []
    for name, value in call.params:
        kind = _kind(call.wsfunction, name, params)
        if kind is not None:
            value = ",".join(ids.get(kind, v) for v in value.split(","))
        out.append((name, value))
    return out


CREATES = {"core_user_create_users": "user", "core_course_create_courses": "course",
           "core_course_create_categories": "category"}


def learn(call: Call, emulated: Any, ids: IdMap) -> None:
    kind = CREATES.get(call.wsfunction)
    if kind and isinstance(call.answer, list) and isinstance(emulated, list):
        for real, emu in zip(call.answer, emulated, strict=False):
            if isinstance(real, dict) and isinstance(emu, dict) and "id" in real and "id" in emu:
                ids.add(kind, real["id"], emu["id"])


@dataclass
class Difference:
    seq: int
    phase: str
    wsfunction: str
    detail: str

    def __str__(self) -> str:
        return f"#{self.seq} {self.phase} {self.wsfunction}: {self.detail}"


# Differences docs/moodle-emulator.md lists as known unfaithfulness: (function, words of the difference).
KNOWN: tuple[tuple[str, str], ...] = (
    # `ids` naming a missing course: Moodle 4.3 on PHP 8 fails with a PHP Error; the emulator warns and skips it.
    ("core_course_get_courses_by_field", "contextvalidated"),
    # A real function the emulator does not implement: Moodle says it is not in the service, the emulator that
    # it does not exist.
    ("core_user_delete_users", "accessexception"),
    ("core_user_delete_users", "webservice_access_exception"),
    ("core_user_delete_users", "Access control exception"),
)


def known(d: Difference) -> bool:
    return any(d.wsfunction == function and words in d.detail for function, words in KNOWN)


def replay(calls: list[Call], endpoint: str, tokens: dict[str, str], ids: IdMap) -> list[Difference]:
    """Each call again against the emulator, in order; the differences between the two answers."""
    out: list[Difference] = []
    with httpx.Client(timeout=30) as http:
        for call in calls:
            data = [("wstoken", tokens.get(call.token, call.token)), ("wsfunction", call.wsfunction),
                    ("moodlewsrestformat", "json"), *translate(call, ids)]
            resp = http.post(endpoint, content=urlencode(data),
                             headers={"content-type": "application/x-www-form-urlencoded"})
            try:
                emulated: Any = resp.json()
            except ValueError:
                emulated = resp.text[:500]
            learn(call, emulated, ids)
            if resp.status_code != call.status:
                out.append(Difference(call.seq, call.phase, call.wsfunction,
                                      f"HTTP {call.status} from Moodle, {resp.status_code} from the emulator"))
            out += [Difference(call.seq, call.phase, call.wsfunction, d) for d in compare_answers(call.answer,
                                                                                                  emulated)]
    return out


# -- the emulator ----------------------------------------------------------------------------------------------

ROLE_IDS = {"manager": 1, "coursecreator": 2, "editingteacher": 3, "teacher": 4, "student": 5, "iv": 9}


def _users(site: dict[str, Any], skip: set[str]) -> list[dict[str, Any]]:
    return [u for u in site["users"] if u["username"] not in skip]


def _categories(site: dict[str, Any]) -> list[dict[str, Any]]:
    # Category 1 ("Category 1") is made by both installs.
    return [c for c in site["categories"] if c["id"] != 1]


@contextmanager
def emulator(config: dict[str, Any], port: int, work: Path) -> Iterator[str]:
    """`python -m stack.moodle_emulator` on its own port, as the emulator's tests start it; yields its URL."""
    config_file = work / "moodle-emulator.json"
    config_file.write_text(json.dumps(config))
    url = f"http://127.0.0.1:{port}"
    with (work / "moodle-emulator.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "stack.moodle_emulator", "--port", str(port), "--config",
                                 str(config_file)], stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Moodle emulator did not start; see {work / 'moodle-emulator.log'}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        terminate(proc, 20)


def seed(url: str, site: dict[str, Any], skip_users: set[str]) -> IdMap:
    """The emulator holds what the real site held (drive.php `site`); the id map pairs their records. One
    request per kind, categories one by one (a parent's emulator id is needed before its children go in)."""
    ids = IdMap()
    ids.add("category", 1, 1)

    def post(body: dict[str, Any]) -> dict[str, list[int]]:
        resp = httpx.post(f"{url}/__emulator/seed", json={"tenant": "default", **body}, timeout=30)
        resp.raise_for_status()
        return dict(resp.json())

    users = _users(site, skip_users)
    made = post({"users": [{k: u[k] for k in ("username", "firstname", "lastname", "email", "idnumber", "auth")}
                           | {"suspended": bool(u["suspended"])} for u in users]})
    for real, emu in zip(users, made["users"], strict=True):
        ids.add("user", real["id"], emu)
    for c in _categories(site):
        (emu,) = post({"categories": [{"name": c["name"], "idnumber": c["idnumber"],
                                       "parent": int(ids.get("category", str(c["parent"])))}]})["categories"]
        ids.add("category", c["id"], emu)
    courses = site["courses"]
    made = post({"courses": [{k: c[k] for k in ("fullname", "shortname", "idnumber", "startdate")}
                             | {"categoryid": int(ids.get("category", str(c["categoryid"])))} for c in courses]})
    for real, emu in zip(courses, made["courses"], strict=True):
        ids.add("course", real["id"], emu)
    post({"enrolments": [
        {"userid": int(ids.get("user", str(e["userid"]))), "courseid": int(ids.get("course", str(e["courseid"]))),
         "roleid": ROLE_IDS.get((e["roles"] or ["student"])[0], 5), "status": e["status"],
         "timestart": e["timestart"], "timeend": e["timeend"]}
        for e in site["enrolments"] if str(e["userid"]) in ids.ids["user"]]})
    return ids
