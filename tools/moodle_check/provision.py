"""The provisioning scenario against the real Moodle: what a college registers in Zoho (a program, teachers,
students, classes, enrollments) reaches the real Moodle through the product's own path — Zoho emulator → ingress →
streams → canonical topics → `python -m sinks.moodle` → Moodle's REST web services (`php -S` serves
`webservice/rest/server.php`) with a least-privilege token — then the plugin's events for those writes come back
to the ingress and cause no further write, the Moodle ids reach Zoho, and a re-run writes nothing.

Every call the sink makes goes through a recording proxy (compare.py); afterwards a few refusals are provoked on
purpose, and the whole recording is replayed against the emulator to compare the answers.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sinks.moodle.client import php_pairs
from stack.process import free_port
from tools.moodle_check import compare
from tools.moodle_check.checks import Result
from tools.moodle_check.product import Product, wait_for
from tools.moodle_check.site import PHP, Site

# docs/moodle-sink.md, "A least-privilege token": the service's functions and the role's capabilities (a test
# holds the docs to these lists).
FUNCTIONS = ("core_user_get_users_by_field", "core_user_create_users", "core_user_update_users",
             "core_course_get_categories", "core_course_create_categories", "core_course_get_courses_by_field",
             "core_course_create_courses", "core_course_update_courses", "enrol_manual_enrol_users",
             "enrol_manual_unenrol_users")
CAPABILITIES = ("webservice/rest:use", "moodle/user:viewdetails", "moodle/user:viewalldetails",
                "moodle/user:viewhiddendetails", "moodle/site:viewuseridentity", "moodle/site:viewfullnames",
                "moodle/user:create", "moodle/user:update", "moodle/category:viewhiddencategories",
                "moodle/category:manage",
                "moodle/course:view", "moodle/course:viewhiddencourses", "moodle/course:create",
                "moodle/course:visibility", "moodle/course:update", "moodle/course:changecategory",
                "moodle/course:changefullname", "moodle/course:changeshortname", "moodle/course:changeidnumber",
                "enrol/manual:enrol", "enrol/manual:unenrol", "moodle/role:assign")
# Moodle's users the comparison does not seed into the emulator (it has its own admin, guest and token users).
SITE_USERS = {"guest", "admin", "zohosync", "zohosynclimited"}
DOMAIN = "students.college.example"
# Zoho students of the scenario: first and last name; `idn`, `mail` and `user` have a Moodle account made by hand
# before the sync (matched by idnumber, e-mail, username); `wd` withdraws later.
STUDENTS = {"new1": ("Nora", "New"), "new2": ("Omar", "Next"), "idn": ("Ida", "Number"), "mail": ("Mae", "Mail"),
            "user": ("Uma", "User"), "wd": ("Will", "Withdrawn")}
IN_A = ("new1", "new2", "idn", "wd")
IN_B = ("mail", "user")
WAIT_S = 180.0
# The classes' and enrollments' start date, 2026-09-01, as Moodle's timestamp.
START = 1788220800


def email(key: str) -> str:
    return f"pv.{key}@{DOMAIN}"


@dataclass
class Zoho:
    """The scenario's Zoho ids, and the Zoho-made student numbers (`Name`, Moodle's idnumber)."""

    program: str = ""
    unit: str = ""
    registration: str = ""
    teachers: dict[str, str] = field(default_factory=dict)
    students: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)
    enrollments: dict[str, str] = field(default_factory=dict)


class WebServer:
    """`php -S` in the site's root: Moodle's `webservice/rest/server.php` over HTTP."""

    def __init__(self, site: Site, port: int) -> None:
        self.site = site
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WebServer:
        log = (self.site.work / "php-server.log").open("ab")
        self.proc = subprocess.Popen([*PHP, "-S", f"127.0.0.1:{self.port}", "-t", str(self.site.root)],
                                     cwd=self.site.root, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/webservice/rest/server.php", timeout=5)
                return self
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"php -S did not start; see {self.site.work / 'php-server.log'}") from None
                time.sleep(0.3)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def setup_webservice(site: Site) -> dict[str, Any]:
    """Web services, the service, the role, the users and tokens (before the plugin: none of it is an event)."""
    # No mail server here: `createpassword` makes Moodle mail the new password.
    site.cfg("noemailever", "1")
    return site.drive("webservice", {"functions": list(FUNCTIONS), "capabilities": list(CAPABILITIES)})


def create_zoho(product: Product) -> Zoho:
    z = Zoho()
    with product.zoho_api() as api:
        z.program = product.zoho_create(api, "Products", {"Product_Name": "BTEC Level 3 Provisioning check",
                                                          "Status": "Approved"})
        z.unit = product.zoho_create(api, "BTEC", {"Name": "Unit 9: Provisioning", "Unit_Code": "PV9",
                                                   "Program": {"id": z.program}})
        z.teachers["pat"] = product.zoho_create(api, "BTEC_Teachers", {
            "Name": "Pat Provision", "Email": f"pat.provision@{DOMAIN}"})
        # The site's teacher (drive.php setup) exists in Moodle with this e-mail: linked, not duplicated.
        z.teachers["tarek"] = product.zoho_create(api, "BTEC_Teachers", {
            "Name": "Tarek Teacher", "Email": f"mc.teacher@{DOMAIN}"})
        for key, (first, last) in STUDENTS.items():
            z.students[key] = product.zoho_create(api, "BTEC_Students", {
                "First_Name": first, "Last_Name": last, "Academic_Email": email(key), "Status": "Active"})
        for record in product.zoho_records("BTEC_Students"):
            for key, zoho_id in z.students.items():
                if str(record.get("id")) == zoho_id:
                    z.numbers[key] = str(record["Name"])
    return z


def create_classes(product: Product, z: Zoho, hand_course: int) -> None:
    with product.zoho_api() as api:
        # A: a new course; B: linked by Moodle_Class_ID; C (no teacher): linked by the course's idnumber, which the
        # check gives a course made by hand once C's Zoho id is known.
        classes: tuple[tuple[str, dict[str, Any]], ...] = (
            ("A", {"Teacher": {"id": z.teachers["pat"]}}),
            ("B", {"Teacher": {"id": z.teachers["tarek"]}, "Moodle_Class_ID": str(hand_course)}), ("C", {}))
        for key, extra in classes:
            z.classes[key] = product.zoho_create(api, "BTEC_Classes", {
                "Class_Name": f"PV Class {key} 2026", "BTEC_Program": {"id": z.program}, "Unit": {"id": z.unit},
                "Class_Status": "Active", "Start_Date": "2026-09-01", "End_Date": "2027-06-30", **extra})
        # new1's registration in the program: a grade joins with it (step 4 grades new1 in class A's new course).
        z.registration = product.zoho_create(api, "BTEC_Registrations", {
            "Student_ID": {"id": z.students["new1"]}, "Program": {"id": z.program}, "Registration_Status": "Active",
            "Currency": "USD", "Program_Price": "4000"})
        for key in (*IN_A, *IN_B):
            z.enrollments[key] = product.zoho_create(api, "BTEC_Enrollments", {
                "Enrolled_Students": {"id": z.students[key]}, "Classes": {"id": z.classes["A" if key in IN_A else "B"]},
                "Start_Date": "2026-09-01", "Enrollment_Type": "Normal"})


def written(call: compare.Call) -> list[str]:
    """Each record of a write call as the function and its fields, with the values of those that are not ids
    (per record, so how the sink's flushes happened to batch them does not matter)."""
    records: dict[str, set[str]] = {}
    for name, value in call.params:
        record, _, key = name.rpartition("[")
        key = key.rstrip("]")
        records.setdefault(record, set()).add(key if key in ("id", "userid", "courseid") else f"{key}={value}")
    return [f"{call.wsfunction} [{', '.join(sorted(fields))}]" for fields in records.values()]


# -- what the site holds ---------------------------------------------------------------------------------------

def accounts(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Moodle accounts by e-mail (lower case)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for u in state["users"]:
        out.setdefault(str(u["email"]).lower(), []).append(u)
    return out


def expected_accounts(z: Zoho, hand: list[int], teacher_id: int) -> str:
    return (f"new1, new2, wd created; idn linked #{hand[0]}, mail linked #{hand[1]}, user linked #{hand[2]}; "
            f"pat created, tarek linked #{teacher_id}")


def found_accounts(outcomes: list[dict[str, Any]], z: Zoho) -> str:
    first: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        if o["action"] != "unchanged":
            first.setdefault(f"{o['entity']}:{o['record_key']}", o)

    def said(kind: str, zoho_id: str) -> str:
        o = first.get(f"{kind}:{zoho_id}")
        if o is None:
            return "no outcome"
        return o["action"] if o["action"] == "created" else f"{o['action']} #{o['moodle_id']}"

    s = {k: said("student", v) for k, v in z.students.items()}
    t = {k: said("teacher", v) for k, v in z.teachers.items()}
    created = [k for k in ("new1", "new2", "wd") if s[k] == "created"]
    text = ", ".join(created) + " created" if len(created) == 3 else ", ".join(f"{k} {s[k]}" for k in
                                                                               ("new1", "new2", "wd"))
    return (f"{text}; idn {s['idn']}, mail {s['mail']}, user {s['user']}; pat {t['pat']}, tarek {t['tarek']}")


def account_problems(state: dict[str, Any], before: dict[str, Any], z: Zoho,
                     zoho_students: list[dict[str, Any]]) -> list[str]:
    """Every Zoho student and the scenario's teachers: exactly one account, with Zoho's e-mail and idnumber, the
    username it had if it existed before the sync (a person's login is never changed), else the e-mail; `wd`
    suspended, the others not."""
    by_email = accounts(state)
    had = {u["id"]: u["username"] for u in before["users"]}
    problems: list[str] = []
    wanted = {str(s["Academic_Email"]).lower(): (str(s["Name"]), str(s.get("Status"))) for s in zoho_students}
    wanted |= {f"pat.provision@{DOMAIN}": (z.teachers["pat"], "Active"),
               f"mc.teacher@{DOMAIN}": (z.teachers["tarek"], "Active")}
    for address, (number, status) in sorted(wanted.items()):
        found = by_email.get(address, [])
        if len(found) != 1:
            problems.append(f"{address}: {len(found)} accounts")
            continue
        u = found[0]
        suspended = 1 if status == "Withdraw" else 0
        if (u["idnumber"], u["username"], u["suspended"]) != (number, had.get(u["id"], address), suspended):
            problems.append(f"{address}: idnumber={u['idnumber']} username={u['username']} "
                            f"suspended={u['suspended']}")
    return problems


def course_summary(state: dict[str, Any], z: Zoho, hand: set[int]) -> str:
    category = next((c for c in state["categories"] if c["idnumber"] == z.program), None)
    if category is None:
        return "no category for the program"
    parts = [f"category {category['name']!r}"]
    for key in ("A", "B", "C"):
        found = [c for c in state["courses"] if c["idnumber"] == z.classes.get(key)]
        if len(found) != 1:
            parts.append(f"class {key}: {len(found)} courses")
            continue
        c = found[0]
        made = "linked #hand" if c["id"] in hand else "new course"
        inside = "in it" if c["categoryid"] == category["id"] else f"in category {c['categoryid']}"
        parts.append(f"class {key}: {made} {c['shortname']!r} {inside}")
    return "; ".join(parts)


def expected_courses() -> str:
    return ("category 'BTEC Level 3 Provisioning check'; class A: new course 'PV Class A 2026' in it; "
            "class B: linked #hand 'PV Class B 2026' in it; class C: linked #hand 'PV Class C 2026' in it")


def enrolment_summary(state: dict[str, Any], z: Zoho) -> str:
    names = {u["id"]: str(u["email"]).split("@")[0].removeprefix("pv.") for u in state["users"]}
    course_key = {c["id"]: key for key, zoho_id in z.classes.items() for c in state["courses"]
                  if c["idnumber"] == zoho_id}
    rows = sorted(f"{course_key[e['courseid']]}:{names.get(e['userid'], e['userid'])}/{','.join(e['roles'])}/"
                  f"{'suspended' if e['status'] else 'active'}"
                  for e in state["enrolments"] if e["courseid"] in course_key)
    return " ".join(rows) or "none"


def expected_enrolments(ended: bool) -> str:
    rows = [f"A:{k}/student/{'suspended' if ended and k == 'new2' else 'active'}" for k in IN_A]
    rows += [f"B:{k}/student/active" for k in IN_B]
    # The change of class A's teacher (with the end of the enrollment) moves the editing teacher's enrolment.
    rows += [f"A:{'mc.teacher' if ended else 'pat.provision'}/editingteacher/active",
             "B:mc.teacher/editingteacher/active"]
    return " ".join(sorted(rows))


# -- the scenario ------------------------------------------------------------------------------------------------

@dataclass
class Provisioning:
    site: Site
    product: Product
    web: dict[str, Any]
    results: list[Result] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    # The site as the sink's first call found it: the emulator is seeded with it.
    before: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        return self.site.drive("site")

    def run(self, ids: dict[str, Any]) -> list[Result]:
        tenant, _ = self.product.tenant()
        with WebServer(self.site, free_port()) as web:
            recorder = compare.Recorder(web.url, log=self.site.work / "ws-calls.jsonl")
            with recorder.running(free_port()):
                self._scenario(tenant, ids, recorder)
                self._compare(recorder)
        return self.results

    def _scenario(self, tenant: str, ids: dict[str, Any], recorder: compare.Recorder) -> None:
        z = create_zoho(self.product)
        made = self.site.drive("accounts", {"accounts": [
            {"username": "pv.idn.hand", "email": f"ida.hand@{DOMAIN}", "idnumber": z.numbers["idn"],
             "firstname": "Ida", "lastname": "Number"},
            {"username": "pv.mail.hand", "email": email("mail"), "firstname": "Mae", "lastname": "Mail"},
            {"username": email("user"), "email": f"uma.hand@{DOMAIN}", "firstname": "Uma", "lastname": "User"}],
            "courses": [{"fullname": "Made by hand", "shortname": "PV-HAND"}]})
        hand, hand_course = made["accounts"], int(made["courses"][0])
        create_classes(self.product, z, hand_course)
        by_idnumber = self.site.drive("accounts", {"accounts": [], "courses": [
            {"fullname": "Made by hand, with the class's id", "shortname": "PV-BY-IDNUMBER",
             "idnumber": z.classes["C"]}]})
        hand_courses = {hand_course, int(by_idnumber["courses"][0])}
        before = self.before = self.state()
        site = {"tenant": tenant, "url": recorder.url, "token": self.web["token"], "timeout_s": 60}
        self.product.start_moodle_sink("moodle-sink", [site], "moodle-check-provisioning")

        # 1. Everything provisioned.
        state = wait_for(self.state, lambda s: enrolment_summary(s, z) == expected_enrolments(False)
                         and course_summary(s, z, hand_courses) == expected_courses(), WAIT_S)
        outcomes = self.product.outcomes(tenant)
        self.results.append(Result("provisioning: accounts created or linked (idnumber, e-mail, username)",
                                   expected_accounts(z, hand, int(ids["teacher"])), found_accounts(outcomes, z)))
        self.results.append(Result("provisioning: category and courses (linked by Moodle_Class_ID and by idnumber)",
                                   expected_courses(), course_summary(state, z, hand_courses)))
        self.results.append(Result("provisioning: enrolments (students, class teacher as editing teacher)",
                                   expected_enrolments(False), enrolment_summary(state, z)))

        # 2. A withdrawal and the end of an enrollment.
        mark = recorder.mark()
        with self.product.zoho_api() as api:
            self.product.zoho_update(api, "BTEC_Students", z.students["wd"], {"Status": "Withdraw"})
            yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
            self.product.zoho_update(api, "BTEC_Enrollments", z.enrollments["new2"], {"End_Date": yesterday})
            self.product.zoho_update(api, "BTEC_Classes", z.classes["A"], {"Teacher": {"id": z.teachers["tarek"]}})
        state = wait_for(self.state, lambda s: enrolment_summary(s, z) == expected_enrolments(True) and any(
            u["suspended"] for u in accounts(s).get(email("wd"), [])), WAIT_S)
        wd = accounts(state).get(email("wd"), [])
        self.results.append(Result(
            "provisioning: withdrawal suspends the account, an ended enrollment the enrolment, a new class teacher "
            "replaces the old",
            "wd suspended=1, enrolments " + expected_enrolments(True),
            f"wd suspended={wd[0]['suspended'] if wd else '-'}, enrolments {enrolment_summary(state, z)}"))
        self.results.append(Result(
            "provisioning: a change writes only what changed",
            "core_user_update_users [id, suspended=1]; enrol_manual_enrol_users [courseid, roleid=3, suspend=0, "
            f"userid]; enrol_manual_enrol_users [courseid, roleid=5, suspend=1, timestart={START}, userid]; "
            "enrol_manual_unenrol_users [courseid, userid]",
            "; ".join(sorted(r for c in recorder.since(mark) if c.write for r in written(c))) or "no write"))
        problems = account_problems(state, before, z, self.product.zoho_records("BTEC_Students"))
        self.results.append(Result("provisioning: one account per Zoho student and teacher, Zoho's values",
                                   "no problem", "; ".join(problems) or "no problem"))

        # 3. The plugin's events for the sink's writes reach the ingress and cause no write.
        mark = recorder.mark()
        self.site.run_adhoc_tasks()
        self.results.append(self._events(state, before))
        self.results.append(self._links(z, state))
        self.results.append(Result("provisioning: no echo (calls after the plugin's events were ingested)",
                                   "0 write calls", f"{sum(c.write for c in recorder.since(mark))} write calls"))

        # 4. The class's teacher grades a student in the course the sink made; the grade reaches Zoho, joined to
        # the Zoho student and class (the course names its class by idnumber: Moodle_Class_ID, written with no
        # workflow trigger, has not come back).
        self.results.append(self._grade(z, state))

        # 5. A re-run: a new consumer group reads every event again and writes nothing.
        self.product.stop_service("moodle-sink")
        records = {(o["entity"], o["record_key"]) for o in outcomes}
        mark = recorder.mark()
        self.product.start_moodle_sink("moodle-sink-rerun", [site], "moodle-check-provisioning-rerun")
        port = self.product.moodle_sink_port
        wait_for(lambda: self.product.metric("moodle_sink_outcomes_total", port, tenant=tenant),
                 lambda n: n >= len(records), WAIT_S)
        time.sleep(3)  # a write would follow its lookups within the same flush
        again = self.state()
        same = "same" if (again["users"], again["enrolments"], again["courses"]) == (
            state["users"], state["enrolments"], state["courses"]) else "changed"
        writes = sum(c.write for c in recorder.since(mark))
        self.results.append(Result("provisioning: re-run with a new consumer group",
                                   "0 write calls, users/courses/enrolments same",
                                   f"{writes} write calls, users/courses/enrolments {same}"))
        self.product.stop_service("moodle-sink-rerun")
        self._probes(recorder, z, state)

    def _grade(self, z: Zoho, state: dict[str, Any]) -> Result:
        course = next(c["id"] for c in state["courses"] if c["idnumber"] == z.classes["A"])
        student = accounts(state)[email("new1")][0]["id"]
        teacher = accounts(state)[f"mc.teacher@{DOMAIN}"][0]["id"]  # class A's teacher since step 2
        graded = self.site.drive("grade_in_course", {"courseid": course, "student": student, "teacher": teacher})
        self.site.run_adhoc_tasks()
        key = f"{student}_{graded['assignment']}"

        def record() -> dict[str, Any] | None:
            return next((r for r in self.product.zoho_records("BTEC_Grades")
                         if r.get("Moodle_Grade_Composite_Key") == key), None)

        found = wait_for(record, lambda r: r is not None, WAIT_S)
        seen = (f"Student={(found.get('Student') or {}).get('id') == z.students['new1']} "
                f"Class={(found.get('Class') or {}).get('id') == z.classes['A']} Grade={found.get('Grade')} "
                f"Grader_Name={found.get('Grader_Name')}") if found else "no BTEC_Grades record"
        return Result("provisioning: a grade in the course the sink made reaches Zoho with its student and class",
                      "Student=True Class=True Grade=D Grader_Name=Tarek Teacher", seen)

    def _events(self, state: dict[str, Any], before: dict[str, Any]) -> Result:
        """user_created for every account the sink made, enrollment_created for every enrolment it made."""
        old = {u["id"] for u in before["users"]}
        made_users = {u["id"] for u in state["users"] if u["id"] not in old}
        old_enrol = {(e["userid"], e["courseid"]) for e in before["enrolments"]}
        made_enrol = {(e["userid"], e["courseid"]) for e in state["enrolments"]} - old_enrol

        def seen() -> tuple[set[int], set[tuple[int, int]]]:
            raw = self.product.raw_moodle()
            users = {int(b["data"]["moodle_user_id"]) for b in raw if b.get("event_type") == "user_created"}
            enrols = {(int(b["data"]["moodle_user_id"]), int(b["data"]["course_id"])) for b in raw
                      if b.get("event_type") == "enrollment_created"}
            return users & made_users, enrols & made_enrol

        users, enrols = wait_for(seen, lambda s: s == (made_users, made_enrol), 90)
        # The events went through streams into the projections before the echo is judged.
        wait_for(lambda: self.product.query("SELECT count(*) AS n FROM moodle_user WHERE id = ANY(%s)",
                                            [str(i) for i in made_users]),
                 lambda rows: rows[0]["n"] == len(made_users), 90)
        time.sleep(5)
        return Result("provisioning: the plugin's events for the sink's writes",
                      f"user_created {len(made_users)}/{len(made_users)}, "
                      f"enrollment_created {len(made_enrol)}/{len(made_enrol)}",
                      f"user_created {len(users)}/{len(made_users)}, "
                      f"enrollment_created {len(enrols)}/{len(made_enrol)}")

    def _links(self, z: Zoho, state: dict[str, Any]) -> Result:
        """Student_Moodle_ID, Teacher_Moodle_ID and Moodle_Class_ID in Zoho: the Moodle ids."""
        by_email = accounts(state)
        course_of = {c["idnumber"]: str(c["id"]) for c in state["courses"]}
        want = {("BTEC_Students", z.students[k], "Student_Moodle_ID"): str(by_email[email(k)][0]["id"])
                for k in STUDENTS if by_email.get(email(k))}
        want |= {("BTEC_Teachers", z.teachers[k], "Teacher_Moodle_ID"): str(by_email[address][0]["id"])
                 for k, address in (("pat", f"pat.provision@{DOMAIN}"), ("tarek", f"mc.teacher@{DOMAIN}"))
                 if by_email.get(address)}
        want |= {("BTEC_Classes", z.classes[k], "Moodle_Class_ID"): course_of.get(z.classes[k], "-") for k in "ABC"}

        def held() -> dict[tuple[str, str, str], str]:
            out: dict[tuple[str, str, str], str] = {}
            for module in ("BTEC_Students", "BTEC_Teachers", "BTEC_Classes"):
                for r in self.product.zoho_records(module):
                    for key in want:
                        if key[0] == module and key[1] == str(r.get("id")):
                            out[key] = str(r.get(key[2]) or "-")
            return out

        found = wait_for(held, lambda h: h == want, 90)

        def count(field_name: str) -> str:
            keys = [k for k in want if k[2] == field_name]
            return f"{field_name} {sum(found.get(k) == want[k] for k in keys)}/{len(keys)}"

        expected = "Student_Moodle_ID 6/6, Teacher_Moodle_ID 2/2, Moodle_Class_ID 3/3"
        return Result("provisioning: Moodle ids back in Zoho", expected,
                      ", ".join(count(f) for f in ("Student_Moodle_ID", "Teacher_Moodle_ID", "Moodle_Class_ID")))

    # -- the comparison with the emulator ------------------------------------------------------------------------

    def _probes(self, recorder: compare.Recorder, z: Zoho, state: dict[str, Any]) -> None:
        """Refusals and errors provoked on purpose, through the recorder so they are replayed too."""
        recorder.phase = "probe"
        token, limited = self.web["token"], self.web["limited_token"]
        course_a = next(c for c in state["courses"] if c["idnumber"] == z.classes["A"])
        new1 = accounts(state)[email("new1")][0]
        other = accounts(state)[email("new2")][0]
        someone = {"username": "pv.probe", "firstname": "Pro", "lastname": "Be", "email": f"pv.probe@{DOMAIN}",
                   "password": "Check#Passw0rd"}
        probes: list[tuple[str, str, dict[str, Any]]] = [
            ("0" * 32, "core_user_get_users_by_field", {"field": "id", "values": [new1["id"]]}),
            (token, "core_enrol_get_enrolled_users", {"courseid": course_a["id"]}),
            (limited, "core_user_create_users", {"users": [someone]}),
            (token, "core_user_create_users", {"users": [{k: v for k, v in someone.items() if k != "lastname"}]}),
            (token, "core_course_get_courses_by_field", {"field": "fullname", "value": "x"}),
            (token, "core_user_get_users_by_field", {"field": "city", "values": ["x"]}),
            (token, "core_user_create_users", {"users": [someone | {"username": new1["username"]}]}),
            (token, "core_user_create_users", {"users": [someone | {"password": "short"}]}),
            (token, "core_course_create_courses", {"courses": [
                {"fullname": "Probe", "shortname": "PV-PROBE", "categoryid": 1, "idnumber": z.classes["A"]}]}),
            (token, "core_course_create_courses", {"courses": [
                {"fullname": "Probe", "shortname": course_a["shortname"], "categoryid": 1}]}),
            (token, "core_course_create_categories", {"categories": [{"name": "Probe", "idnumber": z.program}]}),
            (token, "core_user_update_users", {"users": [{"id": new1["id"], "email": email("new2")}]}),
            (token, "core_course_update_courses", {"courses": [{"id": 999999, "fullname": "Gone"}]}),
            (token, "enrol_manual_enrol_users", {"enrolments": [
                {"roleid": 5, "userid": 999999, "courseid": course_a["id"]}]}),
            (token, "enrol_manual_enrol_users", {"enrolments": [
                {"roleid": 1, "userid": new1["id"], "courseid": course_a["id"]}]}),
            (token, "enrol_manual_enrol_users", {"enrolments": [{"roleid": 5, "userid": new1["id"], "courseid": 1}]}),
            (token, "core_user_update_users", {"users": [{"id": new1["id"], "username": other["username"]}]}),
            (token, "core_user_create_users", {"users": [someone | {"email": "not-an-address"}]}),
            (token, "core_user_get_users_by_field", {"field": "username", "values": [new1["username"].upper()]}),
            (token, "core_course_create_courses", {"courses": [
                {"fullname": "Probe", "shortname": "PV-PROBE", "categoryid": "abc"}]}),
            (token, "core_course_update_courses", {"courses": [{"id": course_a["id"], "enddate": 1830000000}]}),
            (token, "core_course_get_courses_by_field", {"field": "idnumber", "value": z.classes["A"]}),
            (token, "core_course_get_courses_by_field", {"field": "ids", "value": f"{course_a['id']},999999"}),
            (token, "core_course_get_categories", {"criteria": [{"key": "idnumber", "value": z.program}]}),
            (token, "core_user_delete_users", {"userids": [new1["id"]]}),
            # The last ones change the site: a student unenrolled, then again (not enrolled any more: skipped).
            *[(token, "enrol_manual_unenrol_users", {"enrolments": [{"userid": other["id"],
                                                                      "courseid": course_a["id"]}]})] * 2,
        ]
        with httpx.Client(timeout=60) as http:
            for wstoken, function, params in probes:
                data = [("wstoken", wstoken), ("wsfunction", function), ("moodlewsrestformat", "json"),
                        *php_pairs(params)]
                http.post(f"{recorder.url}/webservice/rest/server.php", data=dict(data))

    def _compare(self, recorder: compare.Recorder) -> None:
        config = {"sites": [{"tenant": "default", "wwwroot": "http://127.0.0.1", "services": {
            "moodle_zoho_sync": list(FUNCTIONS)}, "tokens": [
            {"token": "emulator-sink-token", "username": "zohosync", "assignable_roles": [3, 5]},
            {"token": "emulator-limited-token", "username": "zohosynclimited", "assignable_roles": [3, 5],
             "missing_capabilities": ["moodle/user:create"]}]}]}
        tokens = {self.web["token"]: "emulator-sink-token", self.web["limited_token"]: "emulator-limited-token"}
        with compare.emulator(config, free_port(), self.site.work) as url:
            ids = compare.seed(url, self.before, SITE_USERS)
            found = compare.replay(recorder.calls, f"{url}/webservice/rest/server.php", tokens, ids)
        self.differences = [str(d) for d in found]
        known = [d for d in found if compare.known(d)]
        unknown = [d for d in found if not compare.known(d)]
        self.results.append(Result(
            "emulator: same answers as this Moodle for the same calls (replayed)",
            f"{len(recorder.calls)} calls, no undocumented difference",
            f"{len(recorder.calls)} calls, " + (f"{len(unknown)} undocumented differences" if unknown
                                                else "no undocumented difference")))
        if known:
            self.differences.append(f"({len(known)} of these are documented in docs/moodle-emulator.md)")

