"""Categories and courses (Moodle 4.3 course/externallib.php): create/get categories, create/update/get courses."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from stack.moodle_emulator.context import Call
from stack.moodle_emulator.errors import MoodleException, invalid_parameter, missing_record
from stack.moodle_emulator.store import SITEID, Category, Course
from stack.moodle_emulator.validation import (
    ALPHA,
    ALPHANUMEXT,
    BOOL,
    DEFAULT,
    INT,
    LANGS,
    OPTIONAL,
    PLUGIN,
    RAW,
    SAFEDIR,
    SEQUENCE,
    TEXT,
    THEME,
    Multiple,
    Single,
    Value,
    clean,
)

CREATE_CATEGORIES = Single({"categories": Multiple(Single({
    "name": Value(TEXT), "parent": Value(INT, DEFAULT, 0), "idnumber": Value(RAW, OPTIONAL),
    "description": Value(RAW, OPTIONAL), "descriptionformat": Value(INT, DEFAULT, 1), "theme": Value(THEME, OPTIONAL),
}))})

GET_CATEGORIES = Single({
    "criteria": Multiple(Single({"key": Value(ALPHA), "value": Value(RAW)}), DEFAULT, []),
    "addsubcategories": Value(BOOL, DEFAULT, 1),
})

_OPTIONS = Multiple(Single({"name": Value(ALPHANUMEXT), "value": Value(RAW)}), OPTIONAL)
_CUSTOM = Multiple(Single({"shortname": Value(ALPHANUMEXT), "value": Value(RAW)}), OPTIONAL)
_COURSE_SETTINGS: dict[str, Value] = {
    "startdate": Value(INT, OPTIONAL), "enddate": Value(INT, OPTIONAL), "numsections": Value(INT, OPTIONAL),
}

CREATE_COURSES = Single({"courses": Multiple(Single({
    "fullname": Value(TEXT), "shortname": Value(TEXT), "categoryid": Value(INT), "idnumber": Value(RAW, OPTIONAL),
    "summary": Value(RAW, OPTIONAL), "summaryformat": Value(INT, DEFAULT, 1),
    "format": Value(PLUGIN, DEFAULT, "topics"), "showgrades": Value(INT, DEFAULT, 1),
    "newsitems": Value(INT, DEFAULT, 5), **_COURSE_SETTINGS, "maxbytes": Value(INT, DEFAULT, 0),
    "showreports": Value(INT, DEFAULT, 0), "visible": Value(INT, OPTIONAL), "hiddensections": Value(INT, OPTIONAL),
    "groupmode": Value(INT, DEFAULT, 0), "groupmodeforce": Value(INT, DEFAULT, 0),
    "defaultgroupingid": Value(INT, DEFAULT, 0), "enablecompletion": Value(INT, OPTIONAL),
    "completionnotify": Value(INT, OPTIONAL), "lang": Value(SAFEDIR, OPTIONAL), "forcetheme": Value(PLUGIN, OPTIONAL),
    "courseformatoptions": _OPTIONS, "customfields": _CUSTOM,
}))})

UPDATE_COURSES = Single({"courses": Multiple(Single({
    "id": Value(INT), "fullname": Value(TEXT, OPTIONAL), "shortname": Value(TEXT, OPTIONAL),
    "categoryid": Value(INT, OPTIONAL), "idnumber": Value(RAW, OPTIONAL), "summary": Value(RAW, OPTIONAL),
    "summaryformat": Value(INT, OPTIONAL), "format": Value(PLUGIN, OPTIONAL), "showgrades": Value(INT, OPTIONAL),
    "newsitems": Value(INT, OPTIONAL), **_COURSE_SETTINGS, "maxbytes": Value(INT, OPTIONAL),
    "showreports": Value(INT, OPTIONAL), "visible": Value(INT, OPTIONAL), "hiddensections": Value(INT, OPTIONAL),
    "groupmode": Value(INT, OPTIONAL), "groupmodeforce": Value(INT, OPTIONAL),
    "defaultgroupingid": Value(INT, OPTIONAL), "enablecompletion": Value(INT, OPTIONAL),
    "completionnotify": Value(INT, OPTIONAL), "lang": Value(SAFEDIR, OPTIONAL), "forcetheme": Value(PLUGIN, OPTIONAL),
    "courseformatoptions": _OPTIONS, "customfields": _CUSTOM,
}))})

GET_COURSES_BY_FIELD = Single({"field": Value(ALPHA, DEFAULT, ""), "value": Value(RAW, DEFAULT, "")})

_COURSE_COLUMNS = {f.name for f in dataclasses.fields(Course)} - {"id", "timecreated", "timemodified", "cacherev"}
# The filters a default 4.3 site has on, as a course inherits them.
_FILTERS = ("activitynames", "displayh5p", "emoticon", "mathjaxloader", "mediaplugin", "urltolink")


# -- categories -----------------------------------------------------------------------------------------------------

def create_categories(call: Call, params: dict[str, Any]) -> list[dict[str, Any]]:
    store = call.store
    created = []
    with store.transaction():
        for c in params["categories"]:
            if c["parent"] and c["parent"] not in store.categories:
                # The string Moodle asks for is misspelt, so there is none and the message is the bare key.
                raise MoodleException("unknowcategory", "error/unknowcategory")
            call.require("moodle/category:manage")
            if not c["name"]:
                raise MoodleException("categorynamerequired", "Category name is required")
            if len(c["name"]) > 255:
                raise MoodleException("categorytoolong", "Category name too long")
            idnumber = c.get("idnumber")
            if idnumber is not None:
                if len(idnumber) > 100:
                    raise MoodleException("idnumbertoolong", "ID number is too long")
                if idnumber != "" and any(x.idnumber == idnumber for x in store.categories.values()):
                    raise MoodleException("categoryidnumbertaken", "ID number is already used for another category")
            parent = store.categories.get(c["parent"])
            category = store.add_category(
                c["name"], parent.id if parent else 0, idnumber=idnumber or "", description=c.get("description", ""),
                descriptionformat=c["descriptionformat"], visible=parent.visible if parent else 1,
                timemodified=call.now)
            created.append({"id": category.id, "name": category.name})
    return created


def _category_info(call: Call, category: Category) -> dict[str, Any]:
    store = call.store
    info: dict[str, Any] = {"id": category.id, "name": category.name}
    manage = call.has("moodle/category:manage")
    if manage:
        info["idnumber"] = category.idnumber
    info.update(description=category.description, descriptionformat=1, parent=category.parent,
                sortorder=store.category_sortorder(category.id),
                coursecount=sum(1 for c in store.courses.values() if c.category == category.id))
    if manage:
        info.update(visible=category.visible, visibleold=category.visibleold, timemodified=category.timemodified)
    info.update(depth=category.depth, path=category.path)
    if manage:
        info["theme"] = clean(category.theme, THEME)
    return info


def _criteria_error(debuginfo: str) -> MoodleException:
    return MoodleException("criteriaerror", "Missing permissions to search on a criterion.", debuginfo=debuginfo)


def get_categories(call: Call, params: dict[str, Any]) -> list[dict[str, Any]]:
    store = call.store
    # Each criterion: the category's column must hold one of these values.
    conditions: list[tuple[str, frozenset[Any]]] = []
    seen: set[str] = set()
    for crit in params["criteria"]:
        key = crit["key"].strip()
        if key in seen:
            continue
        value = crit["value"]
        if key in ("idnumber", "theme") and not call.has("moodle/category:manage"):
            raise _criteria_error(f"You don't have the permissions to search on the \"{key}\" field.")
        if key == "visible" and not call.has("moodle/category:viewhiddencategories"):
            raise _criteria_error("You don't have the permissions to search on the \"visible\" field.")
        if key in ("id", "parent", "visible"):
            conditions.append((key, frozenset({clean(value, INT)})))
        elif key == "ids":
            conditions.append(("id", frozenset(int(p) for p in clean(value, SEQUENCE).split(",") if p)))
        elif key == "idnumber":
            conditions.append((key, frozenset({value})))
        elif key == "name":
            conditions.append((key, frozenset({clean(value, TEXT)})))
        elif key == "theme":
            conditions.append((key, frozenset({clean(value, THEME)})))
        else:
            raise _criteria_error(f"You can not search on this criteria: {key}")
        if key != "ids":
            seen.add(key)

    def matches(category: Category, which: list[tuple[str, frozenset[Any]]]) -> bool:
        return all(getattr(category, column) in values for column, values in which)

    if params["criteria"]:
        found = {c.id: c for c in store.categories.values() if matches(c, conditions)}
        if found and params["addsubcategories"]:
            # Subcategories at any depth, still held to the visible and theme criteria.
            inherited = [(k, v) for k, v in conditions if k in ("visible", "theme")]
            for top in list(found.values()):
                for c in store.categories.values():
                    if c.path.startswith(top.path + "/") and matches(c, inherited):
                        found.setdefault(c.id, c)
        chosen = list(found.values())
    else:
        chosen = list(store.categories.values())
    chosen.sort(key=lambda c: c.path)
    hidden_ok = call.has("moodle/category:viewhiddencategories")
    excluded: set[int] = set()
    out = []
    for category in chosen:
        if any(int(p) in excluded for p in category.path.strip("/").split("/")[:-1]):
            excluded.add(category.id)
            continue
        if not category.visible and not hidden_ok:
            excluded.add(category.id)
            continue
        out.append(_category_info(call, category))
    # Moodle sorts with strcmp() on the sort order: as strings.
    out.sort(key=lambda info: str(info["sortorder"]))
    return out


# -- courses --------------------------------------------------------------------------------------------------------

def _invalid_param(name: str) -> MoodleException:
    return MoodleException("errorinvalidparam", f'The param "{name}" is invalid.')


def _check_dates(given: dict[str, Any]) -> None:
    """course_validate_dates() on the data given (not the stored course), as Moodle does."""
    start, end = given.get("startdate"), given.get("enddate")
    if start and end and end < start:
        raise MoodleException("enddatebeforestartdate", "The course end date must be after the start date.")
    if not start and end:
        raise MoodleException("nostartdatenoenddate", "A course end date can only be set if a start date is also set.")


def _shortname_taken(call: Call, shortname: str, except_id: int = 0) -> None:
    if shortname and any(c.shortname == shortname and c.id != except_id for c in call.store.courses.values()):
        raise MoodleException("shortnametaken", f"Short name is already used for another course ({shortname})")


def _idnumber_taken(call: Call, idnumber: str, except_id: int = 0) -> None:
    if idnumber and any(c.idnumber == idnumber and c.id != except_id for c in call.store.courses.values()):
        raise MoodleException("courseidnumbertaken", f"ID number is already used for another course ({idnumber})")


def create_courses(call: Call, params: dict[str, Any]) -> list[dict[str, Any]]:
    store = call.store
    created = []
    with store.transaction():
        for c in params["courses"]:
            category = store.categories.get(c["categoryid"])
            if category is None:
                context_error = invalid_parameter("Context does not exist").message_for(call.debug)
                raise MoodleException(
                    "errorcatcontextnotvalid",
                    f"You cannot execute functions in the category context (category id:{c['categoryid']}). "
                    f"The context error message was: {context_error}")
            call.require("moodle/course:create")
            if c["fullname"].strip() == "":
                raise _invalid_param("fullname")
            if c["shortname"].strip() == "":
                raise _invalid_param("shortname")
            if "lang" in c and c["lang"] not in LANGS:
                raise _invalid_param("lang")
            fields = {k: v for k, v in c.items() if k in _COURSE_COLUMNS}
            if not call.has("moodle/course:visibility") or "visible" not in c:
                fields["visible"] = category.visible
            _shortname_taken(call, c["shortname"])
            _idnumber_taken(call, c.get("idnumber", ""))
            _check_dates(c)
            course = store.add_course(Course(id=store.new_course_id(), category=category.id, **fields,
                                             timecreated=call.now, timemodified=call.now, cacherev=call.now))
            created.append({"id": course.id, "shortname": course.shortname})
    return created


def _update_one(call: Call, c: dict[str, Any]) -> None:
    store = call.store
    old = store.courses.get(c["id"])
    if old is None:
        raise missing_record("context", "SELECT * FROM {context} WHERE instanceid = ? AND contextlevel = ?")
    call.require("moodle/course:update")
    changes = {k: v for k, v in c.items() if k in _COURSE_COLUMNS}
    if "categoryid" in c and old.category != c["categoryid"]:
        call.require("moodle/course:changecategory")
        changes["category"] = c["categoryid"]
    for name, capability in (("fullname", "moodle/course:changefullname"),
                             ("shortname", "moodle/course:changeshortname")):
        if name in c and getattr(old, name) != c[name]:
            call.require(capability)
            if c[name].strip() == "":
                raise _invalid_param(name)
    if "idnumber" in c and old.idnumber != c["idnumber"]:
        call.require("moodle/course:changeidnumber")
    if ("summary" in c and old.summary != c["summary"]) or (
            "summaryformat" in c and old.summaryformat != c["summaryformat"]):
        call.require("moodle/course:changesummary")
    if "visible" in c and old.visible != c["visible"]:
        call.require("moodle/course:visibility")
    if "lang" in c and old.lang != c["lang"] and c["lang"] not in LANGS:
        raise _invalid_param("lang")
    if old.id == SITEID:
        raise MoodleException("invalidcourse", "Invalid course")
    if c.get("shortname") and c["shortname"] != old.shortname:
        _shortname_taken(call, c["shortname"], old.id)
    if c.get("idnumber") and c["idnumber"] != old.idnumber:
        _idnumber_taken(call, c["idnumber"], old.id)
    _check_dates(c)
    if changes.get("category") and changes["category"] not in store.categories:
        raise missing_record("course_categories", "SELECT * FROM {course_categories} WHERE id = ?")
    if not changes.get("category"):
        changes.pop("category", None)
    store.save_course(dataclasses.replace(old, **changes, timemodified=call.now))


def update_courses(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    warnings = []
    for c in params["courses"]:
        # Each course on its own: a failure becomes a warning and the next course is still updated.
        try:
            with call.store.transaction():
                _update_one(call, c)
        except MoodleException as exc:
            warnings.append({"item": "course", "itemid": c["id"], "warningcode": exc.errorcode,
                             "message": exc.message_for(call.debug)})
    return {"warnings": warnings}


def _course_image(course: Course) -> str:
    # Moodle draws a pattern for a course without an image and sends it as an SVG data URI.
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><title>{course.id}</title></svg>'
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def course_info(call: Call, course: Course) -> dict[str, Any]:
    """get_courses_by_field's course, keys in the order of its return description."""
    store = call.store
    category = store.categories.get(course.category)
    contacts = [{"id": ue.userid, "fullname": f"{store.users[ue.userid].firstname} {store.users[ue.userid].lastname}"}
                for ue in store.enrolments_of_course(course.id)
                if ue.status == 0 and 3 in store.roles(course.id, ue.userid)]
    methods = [e.enrol for e in store.enrols.values() if e.courseid == course.id and e.status == 0]
    info: dict[str, Any] = {
        "id": course.id, "fullname": course.fullname, "displayname": course.fullname,
        "shortname": course.shortname, "courseimage": _course_image(course), "categoryid": course.category,
        "categoryname": category.name if category else "", "sortorder": store.course_sortorder(course),
        "summary": course.summary, "summaryformat": 1, "summaryfiles": [], "overviewfiles": [],
        # The site course's column is NULL in a real 4.3.
        "showactivitydates": course.format != "site",
        "showcompletionconditions": None if course.format == "site" else True,
        "contacts": contacts, "enrollmentmethods": methods,
    }
    if call.has("moodle/course:update"):
        info["idnumber"] = course.idnumber
    info.update(format=course.format, showgrades=course.showgrades, newsitems=course.newsitems,
                startdate=course.startdate, enddate=course.enddate, maxbytes=course.maxbytes,
                showreports=course.showreports, visible=course.visible, groupmode=course.groupmode,
                groupmodeforce=course.groupmodeforce, defaultgroupingid=course.defaultgroupingid,
                enablecompletion=course.enablecompletion, completionnotify=course.completionnotify,
                lang=course.lang, theme=course.theme, marker=0)
    if call.has("moodle/course:update"):
        info.update(legacyfiles=0, calendartype="", timecreated=course.timecreated, timemodified=course.timemodified,
                    requested=0, cacherev=course.cacherev)
    info["filters"] = [{"filter": f, "localstate": 0, "inheritedstate": 1} for f in _FILTERS]
    if course.format == "topics":
        # As a real 4.3 answers: the integers of the format's defaults, the indentation setting as a string.
        info["courseformatoptions"] = [{"name": "hiddensections", "value": 1}, {"name": "coursedisplay", "value": 0},
                                       {"name": "indentation", "value": "1"}]
    return info


def get_courses_by_field(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store = call.store
    field, value = params["field"], params["value"]
    warnings: list[dict[str, Any]] = []
    if not field:
        courses = sorted(store.courses.values(), key=lambda c: c.id)
    elif field in ("id", "category"):
        courses = store.course_by(field, clean(value, INT))
    elif field == "ids":
        courses = []
        for part in clean(value, SEQUENCE).split(","):
            if not part:
                continue
            found = store.courses.get(int(part))
            if found is None:
                warnings.append({"item": "course", "itemid": int(part), "warningcode": "1",
                                 "message": "No access rights in course context"})
            else:
                courses.append(found)
    elif field == "shortname":
        courses = store.course_by("shortname", clean(value, TEXT))
    elif field == "idnumber":
        courses = store.course_by("idnumber", value)
    else:
        raise invalid_parameter("Invalid field name")
    visible_ok = call.has("moodle/course:update")
    return {"courses": [course_info(call, c) for c in courses if c.visible or visible_ok], "warnings": warnings}

