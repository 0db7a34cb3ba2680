"""One site's data: users, categories, courses, manual enrolment instances, enrolments and role assignments.

Writes happen inside `transaction()`, like Moodle's delegated transactions: an exception undoes every change of
the call (the undo journal) and drops the plugin events it recorded, which the plugin writes to its outbox inside
the same transaction. Ids come from counters that a rollback does not rewind, as database sequences do not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stack.moodle_emulator.config import SiteConfig

SITEID = 1
DEFAULT_CATEGORY = 1
# Gap between category sort orders (MAX_COURSES_IN_CATEGORY): a course sorts as its category + its position.
CATEGORY_SORT_STEP = 10_000
ENROL_USER_ACTIVE, ENROL_USER_SUSPENDED = 0, 1


@dataclass(frozen=True)
class Role:
    id: int
    shortname: str
    name: str
    sortorder: int


# A default install's roles, plus the internal verifier's role a BTEC college adds (shortname "iv", which the
# plugin reports as the grader role "iv"). `get_assignable_roles()` of a course for an administrator is the
# course-level ones.
ROLES: dict[int, Role] = {r.id: r for r in (
    Role(1, "manager", "Manager", 1), Role(2, "coursecreator", "Course creator", 2),
    Role(3, "editingteacher", "Teacher", 3), Role(4, "teacher", "Non-editing teacher", 4),
    Role(5, "student", "Student", 5), Role(6, "guest", "Guest", 6), Role(7, "user", "Authenticated user", 7),
    Role(8, "frontpage", "Authenticated user on site home", 8), Role(9, "iv", "Internal verifier", 9),
)}
COURSE_ASSIGNABLE_ROLES = frozenset({1, 3, 4, 5, 9})
STUDENT_ROLE = 5


@dataclass(frozen=True)
class User:
    id: int
    username: str
    firstname: str
    lastname: str
    email: str
    auth: str = "manual"
    idnumber: str = ""
    suspended: bool = False
    confirmed: bool = True
    lang: str = "en"
    calendartype: str = "gregorian"
    timezone: str = "99"
    theme: str = ""
    mailformat: int = 1
    maildisplay: int = 2
    description: str | None = None
    city: str = ""
    country: str = ""
    institution: str = ""
    department: str = ""
    phone1: str = ""
    phone2: str = ""
    address: str = ""
    middlename: str = ""
    alternatename: str = ""
    firstnamephonetic: str = ""
    lastnamephonetic: str = ""
    has_password: bool = False
    timecreated: int = 0
    timemodified: int = 0


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    parent: int
    path: str
    depth: int
    # NULL for the install's "Category 1"; '' or a value for categories made later.
    idnumber: str | None = ""
    description: str = ""
    descriptionformat: int = 1
    visible: int = 1
    visibleold: int = 1
    theme: str = ""
    timemodified: int = 0


@dataclass(frozen=True)
class Course:
    id: int
    category: int
    fullname: str
    shortname: str
    idnumber: str = ""
    summary: str = ""
    summaryformat: int = 1
    format: str = "topics"
    showgrades: int = 1
    newsitems: int = 5
    startdate: int = 0
    enddate: int = 0
    maxbytes: int = 0
    showreports: int = 0
    visible: int = 1
    groupmode: int = 0
    groupmodeforce: int = 0
    defaultgroupingid: int = 0
    enablecompletion: int = 1
    completionnotify: int = 0
    lang: str = ""
    theme: str = ""
    timecreated: int = 0
    timemodified: int = 0
    cacherev: int = 0


@dataclass(frozen=True)
class EnrolInstance:
    id: int
    courseid: int
    enrol: str = "manual"
    status: int = 0
    roleid: int = STUDENT_ROLE


@dataclass(frozen=True)
class UserEnrolment:
    id: int
    enrolid: int
    userid: int
    status: int
    timestart: int
    timeend: int
    timecreated: int
    timemodified: int


@dataclass
class PendingEvent:
    """A plugin event recorded inside a transaction; its body is built when the transaction commits."""

    event_type: str
    event_name: str
    record: str
    at: int
    build: Callable[[], dict[str, Any]]


K = TypeVar("K")
V = TypeVar("V")
_MISSING = object()


@dataclass
class _Journal:
    undo: list[tuple[dict[Any, Any], Any, Any]] = field(default_factory=list)
    events: list[PendingEvent] = field(default_factory=list)


class SiteStore:
    def __init__(self, config: SiteConfig, on_commit: Callable[[list[PendingEvent]], None]) -> None:
        self.config = config
        self.on_commit = on_commit
        self.reset()

    def reset(self) -> None:
        self.users: dict[int, User] = {}
        self.categories: dict[int, Category] = {}
        self.courses: dict[int, Course] = {}
        self.enrols: dict[int, EnrolInstance] = {}
        self.user_enrolments: dict[int, UserEnrolment] = {}
        # (courseid, userid) → role ids assigned in the course context.
        self.role_assignments: dict[tuple[int, int], frozenset[int]] = {}
        # The plugin's last queued fingerprint per user: a user_updated that changes none of its fields is not sent.
        self.user_fingerprints: dict[int, str] = {}
        # Indexes, kept (and rolled back) with the tables, so lookups stay cheap on a site with many users.
        self._usernames: dict[str, int] = {}
        self._emails: dict[str, frozenset[int]] = {}
        self._ue_by_pair: dict[tuple[int, int], int] = {}
        # Graded assignments: (courseid, assignment name) → course module id; (cmid, userid, attempt) → grade id.
        self.assignments: dict[tuple[int, str], int] = {}
        self.grades: dict[tuple[int, int, int], int] = {}
        self._cm_ids = itertools.count(1)
        self._grade_ids = itertools.count(1)
        self._journal: _Journal | None = None
        self._user_ids = itertools.count(1)
        self._category_ids = itertools.count(1)
        self._course_ids = itertools.count(1)
        self._enrol_ids = itertools.count(1)
        self._ue_ids = itertools.count(1)
        # What a fresh install holds: guest and admin, the site course, the default category.
        self.add_user(username="guest", firstname="Guest user", lastname=" ", email="root@localhost")
        self.add_user(username="admin", firstname="Admin", lastname="User", email="admin@example.com")
        self._put(self.courses, self.new_course_id(), Course(SITEID, 0, self.config.sitename,
                                                             self.config.site_shortname, format="site"))
        self.add_category("Category 1", 0, descriptionformat=0, idnumber=None)
        for token in self.config.tokens:
            if self.user_by_username(token.username) is None:
                self.add_user(username=token.username, firstname="Web services", lastname="User",
                              email=f"{token.username}@emulator.invalid", auth="webservice")

    # -- transactions -------------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._journal is not None:  # nested: Moodle's delegated transactions commit or roll back as one
            yield
            return
        self._journal = _Journal()
        try:
            yield
        except BaseException:
            for table, key, old in reversed(self._journal.undo):
                if old is _MISSING:
                    table.pop(key, None)
                else:
                    table[key] = old
            raise
        else:
            events = self._journal.events
            if events:
                self.on_commit(events)
        finally:
            self._journal = None

    def _put(self, table: dict[K, V], key: K, value: V) -> V:
        if self._journal is not None:
            self._journal.undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value
        return value

    def _drop(self, table: dict[K, V], key: K) -> None:
        if key in table:
            if self._journal is not None:
                self._journal.undo.append((table, key, table[key]))
            del table[key]

    def emit(self, event: PendingEvent) -> None:
        if self._journal is None:
            raise RuntimeError("plugin events are recorded inside a transaction")
        self._journal.events.append(event)

    # -- ids ----------------------------------------------------------------------------------------------------

    def new_course_id(self) -> int:
        return next(self._course_ids)

    # -- users --------------------------------------------------------------------------------------------------

    def add_user(self, **fields: Any) -> User:
        return self.save_user(User(id=next(self._user_ids), **fields))

    def save_user(self, user: User) -> User:
        old = self.users.get(user.id)
        if old is not None and old.username != user.username:
            self._drop(self._usernames, old.username)
        self._put(self._usernames, user.username, user.id)
        if old is not None and old.email.lower() != user.email.lower():
            self._set_email(old.email, self._emails.get(old.email.lower(), frozenset()) - {user.id})
        self._set_email(user.email, self._emails.get(user.email.lower(), frozenset()) | {user.id})
        return self._put(self.users, user.id, user)

    def _set_email(self, email: str, ids: frozenset[int]) -> None:
        if ids:
            self._put(self._emails, email.lower(), ids)
        else:
            self._drop(self._emails, email.lower())

    def set_fingerprint(self, userid: int, fingerprint: str) -> None:
        self._put(self.user_fingerprints, userid, fingerprint)

    def user_by_username(self, username: str) -> User | None:
        userid = self._usernames.get(username)
        return None if userid is None else self.users[userid]

    def email_taken(self, email: str, except_id: int | None = None) -> bool:
        """Case-insensitive, as Moodle's check is."""
        return bool(self._emails.get(email.lower(), frozenset()) - {except_id})

    # -- categories and courses ---------------------------------------------------------------------------------

    def add_category(self, name: str, parent: int, **fields: Any) -> Category:
        above = self.categories.get(parent)
        categoryid = next(self._category_ids)
        path = f"{above.path if above else ''}/{categoryid}"
        category = Category(categoryid, name, parent, path, path.count("/"), **fields)
        return self._put(self.categories, category.id, category)

    def category_sortorder(self, categoryid: int) -> int:
        """Categories in tree order, siblings in creation order, `CATEGORY_SORT_STEP` apart."""
        ordered = sorted(self.categories.values(), key=lambda c: [int(p) for p in c.path.strip("/").split("/")])
        return next((i + 1) * CATEGORY_SORT_STEP for i, c in enumerate(ordered) if c.id == categoryid)

    def course_sortorder(self, course: Course) -> int:
        if course.id == SITEID:
            return 1
        siblings = sorted(c.id for c in self.courses.values() if c.category == course.category)
        return self.category_sortorder(course.category) + siblings.index(course.id) + 1

    def add_course(self, course: Course) -> Course:
        self._put(self.courses, course.id, course)
        # Every new course gets the site's default enrolment instances; of those only manual is enabled.
        instance = EnrolInstance(next(self._enrol_ids), course.id)
        self._put(self.enrols, instance.id, instance)
        return course

    def save_course(self, course: Course) -> Course:
        return self._put(self.courses, course.id, course)

    def course_by(self, field_name: str, value: Any) -> list[Course]:
        return sorted((c for c in self.courses.values() if getattr(c, field_name) == value), key=lambda c: c.id)

    def manual_instance(self, courseid: int) -> EnrolInstance | None:
        return next((e for e in self.enrols.values() if e.courseid == courseid and e.enrol == "manual"), None)

    # -- grading ------------------------------------------------------------------------------------------------

    def assignment(self, courseid: int, name: str) -> int:
        cmid = self.assignments.get((courseid, name))
        return cmid if cmid is not None else self._put(self.assignments, (courseid, name), next(self._cm_ids))

    def grade_id(self, cmid: int, userid: int, attempt: int) -> int:
        key = (cmid, userid, attempt)
        gradeid = self.grades.get(key)
        return gradeid if gradeid is not None else self._put(self.grades, key, next(self._grade_ids))

    # -- enrolments and roles -----------------------------------------------------------------------------------

    def user_enrolment(self, enrolid: int, userid: int) -> UserEnrolment | None:
        ueid = self._ue_by_pair.get((enrolid, userid))
        return None if ueid is None else self.user_enrolments[ueid]

    def add_user_enrolment(self, **fields: Any) -> UserEnrolment:
        ue = UserEnrolment(id=next(self._ue_ids), **fields)
        self._put(self._ue_by_pair, (ue.enrolid, ue.userid), ue.id)
        return self._put(self.user_enrolments, ue.id, ue)

    def save_user_enrolment(self, ue: UserEnrolment) -> UserEnrolment:
        return self._put(self.user_enrolments, ue.id, ue)

    def drop_user_enrolment(self, ue: UserEnrolment) -> None:
        self._drop(self._ue_by_pair, (ue.enrolid, ue.userid))
        self._drop(self.user_enrolments, ue.id)

    def roles(self, courseid: int, userid: int) -> frozenset[int]:
        return self.role_assignments.get((courseid, userid), frozenset())

    def assign_role(self, courseid: int, userid: int, roleid: int) -> None:
        held = self.roles(courseid, userid)
        if roleid not in held:
            self._put(self.role_assignments, (courseid, userid), held | {roleid})

    def unassign_all(self, courseid: int, userid: int) -> None:
        self._drop(self.role_assignments, (courseid, userid))

    def course_role(self, courseid: int, userid: int, default_roleid: int) -> str:
        """The plugin's rule: the highest (lowest sortorder) role held in the course, else the instance default."""
        held = sorted(self.roles(courseid, userid), key=lambda r: ROLES[r].sortorder)
        return ROLES[held[0] if held else default_roleid].shortname

    def enrolments_of_course(self, courseid: int) -> list[UserEnrolment]:
        enrolids = {e.id for e in self.enrols.values() if e.courseid == courseid}
        return [ue for ue in self.user_enrolments.values() if ue.enrolid in enrolids]

    def courses_of_users(self) -> dict[int, set[int]]:
        """userid → the courses the user is enrolled in (any status)."""
        out: dict[int, set[int]] = {}
        for ue in self.user_enrolments.values():
            out.setdefault(ue.userid, set()).add(self.enrols[ue.enrolid].courseid)
        return out
