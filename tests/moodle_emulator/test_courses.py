"""Categories and courses: create, look up, update (with warnings), duplicates, unknown parents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.moodle_emulator.harness import DEBUG_TOKEN, LEAST_PRIVILEGE, Emulator, MoodleError


def _categories(moodle: Emulator, *categories: dict[str, Any]) -> list[dict[str, Any]]:
    return list(moodle.call("core_course_create_categories", {"categories": list(categories)}))


def _courses(moodle: Emulator, *courses: dict[str, Any]) -> list[dict[str, Any]]:
    return list(moodle.call("core_course_create_courses", {"courses": list(courses)}))


def _course(n: int, categoryid: int, **fields: Any) -> dict[str, Any]:
    return {"fullname": f"Unit {n}", "shortname": f"U{n}", "categoryid": categoryid, "idnumber": f"CLS-{n}",
            **fields}


def test_categories_nest_and_are_found_by_criteria(moodle: Emulator) -> None:
    (top,) = _categories(moodle, {"name": "BTEC IT L3", "idnumber": "PROG-1"})
    (child,) = _categories(moodle, {"name": "Year 1", "parent": top["id"], "idnumber": "PROG-1-Y1"})
    assert top == {"id": 2, "name": "BTEC IT L3"}  # after the install's "Category 1"
    found = moodle.call("core_course_get_categories", {"criteria": [{"key": "idnumber", "value": "PROG-1"}]})
    assert [c["id"] for c in found] == [top["id"], child["id"]]  # with subcategories by default
    assert list(found[1]) == ["id", "name", "idnumber", "description", "descriptionformat", "parent", "sortorder",
                              "coursecount", "visible", "visibleold", "timemodified", "depth", "path", "theme"]
    assert (found[1]["parent"], found[1]["depth"], found[1]["path"]) == (top["id"], 2, f"/{top['id']}/{child['id']}")
    only = moodle.call("core_course_get_categories",
                       {"criteria": [{"key": "idnumber", "value": "PROG-1"}], "addsubcategories": 0})
    assert [c["id"] for c in only] == [top["id"]]
    assert [c["name"] for c in moodle.call("core_course_get_categories")] == ["Category 1", "BTEC IT L3", "Year 1"]
    by_parent = moodle.call("core_course_get_categories", {"criteria": [{"key": "parent", "value": top["id"]}]})
    assert [c["id"] for c in by_parent] == [child["id"]]


def test_category_errors(moodle: Emulator) -> None:
    _categories(moodle, {"name": "A", "idnumber": "PROG-1"})
    with pytest.raises(MoodleError) as taken:
        _categories(moodle, {"name": "B", "idnumber": "PROG-2"}, {"name": "C", "idnumber": "PROG-1"})
    assert (taken.value.errorcode, taken.value.message) == (
        "categoryidnumbertaken", "ID number is already used for another category")
    assert [c["name"] for c in moodle.table("categories")] == ["Category 1", "A"]  # B rolled back
    unknown = moodle.error("core_course_create_categories", {"categories": [{"name": "X", "parent": 99}]})
    assert unknown == {"exception": "moodle_exception", "errorcode": "unknowcategory",
                       "message": "error/unknowcategory"}
    criteria = moodle.error("core_course_get_categories", {"criteria": [{"key": "shortname", "value": "x"}]})
    assert criteria == {"exception": "moodle_exception", "errorcode": "criteriaerror",
                        "message": "Missing permissions to search on a criterion."}
    refused = moodle.error("core_course_get_categories", {"criteria": [{"key": "idnumber", "value": "PROG-1"}]},
                           token=LEAST_PRIVILEGE)
    assert refused["errorcode"] == "criteriaerror"
    assert moodle.error("core_course_create_categories", {"categories": [{"name": "Z"}]}, token=LEAST_PRIVILEGE)[
        "message"] == "Sorry, but you do not currently have permissions to do that (Manage categories)."


def test_create_courses_and_read_them_back(moodle: Emulator) -> None:
    (cat,) = _categories(moodle, {"name": "BTEC IT", "idnumber": "PROG-1"})
    created = _courses(moodle, _course(1, cat["id"], startdate=1767225600), _course(2, cat["id"]))
    assert created == [{"id": 2, "shortname": "U1"}, {"id": 3, "shortname": "U2"}]
    answer = moodle.call("core_course_get_courses_by_field", {"field": "idnumber", "value": "CLS-1"})
    assert answer["warnings"] == []
    (course,) = answer["courses"]
    assert (course["id"], course["fullname"], course["shortname"], course["categoryid"], course["categoryname"],
            course["idnumber"], course["startdate"], course["format"], course["visible"]) == (
        2, "Unit 1", "U1", cat["id"], "BTEC IT", "CLS-1", 1767225600, "topics", 1)
    assert course["enrollmentmethods"] == ["manual"] and course["contacts"] == []
    everything = moodle.call("core_course_get_courses_by_field")
    assert [c["id"] for c in everything["courses"]] == [1, 2, 3]  # the site course too, as Moodle lists it
    assert everything["courses"][0]["format"] == "site"
    ids = moodle.call("core_course_get_courses_by_field", {"field": "ids", "value": "3,77"})
    assert [c["id"] for c in ids["courses"]] == [3]
    assert ids["warnings"] == [{"item": "course", "itemid": 77, "warningcode": "1",
                                "message": "No access rights in course context"}]
    assert moodle.call("core_course_get_categories", {"criteria": [{"key": "id", "value": cat["id"]}]})[0][
        "coursecount"] == 2
    assert moodle.error("core_course_get_courses_by_field", {"field": "fullname", "value": "x"})[
        "errorcode"] == "invalidparameter"


def test_course_duplicates_and_unknown_category_fail_the_batch(moodle: Emulator) -> None:
    (cat,) = _categories(moodle, {"name": "BTEC IT"})
    _courses(moodle, _course(1, cat["id"]))
    for bad, code, message in (
            (_course(9, cat["id"], shortname="U1"), "shortnametaken",
             "Short name is already used for another course (U1)"),
            (_course(9, cat["id"], idnumber="CLS-1"), "courseidnumbertaken",
             "ID number is already used for another course (CLS-1)"),
            (_course(9, cat["id"], startdate=200, enddate=100), "enddatebeforestartdate",
             "The course end date must be after the start date."),
            (_course(9, 99), "errorcatcontextnotvalid",
             "You cannot execute functions in the category context (category id:99). The context error message "
             "was: Invalid parameter value detected")):
        err = moodle.error("core_course_create_courses", {"courses": [_course(5, cat["id"]), bad]})
        assert (err["exception"], err["errorcode"], err["message"]) == ("moodle_exception", code, message)
    assert [c["shortname"] for c in moodle.table("courses")] == ["moodle", "U1"]
    blank = moodle.error("core_course_create_courses", {"courses": [_course(5, cat["id"], fullname=" ")]})
    assert (blank["errorcode"], blank["message"]) == ("errorinvalidparam", 'The param "fullname" is invalid.')


def test_update_courses_returns_warnings_per_course(moodle: Emulator) -> None:
    (cat,) = _categories(moodle, {"name": "BTEC IT"})
    (other,) = _categories(moodle, {"name": "BTEC Business"})
    a, b = _courses(moodle, _course(1, cat["id"]), _course(2, cat["id"]))
    result = moodle.call("core_course_update_courses", {"courses": [
        {"id": a["id"], "fullname": "Unit 1: Networks", "categoryid": other["id"], "startdate": 1767225600},
        {"id": b["id"], "shortname": "U1"},
        {"id": b["id"], "idnumber": "CLS-1"},
        {"id": 404, "fullname": "nobody"},
        {"id": b["id"], "enddate": 1767225600},
    ]})
    assert result == {"warnings": [
        {"item": "course", "itemid": b["id"], "warningcode": "shortnametaken",
         "message": "Short name is already used for another course (U1)"},
        {"item": "course", "itemid": b["id"], "warningcode": "courseidnumbertaken",
         "message": "ID number is already used for another course (CLS-1)"},
        {"item": "course", "itemid": 404, "warningcode": "invalidrecord",
         "message": "Can't find data record in database table context."},
        {"item": "course", "itemid": b["id"], "warningcode": "nostartdatenoenddate",
         "message": "A course end date can only be set if a start date is also set."},
    ]}
    (course,) = moodle.call("core_course_get_courses_by_field", {"field": "id", "value": a["id"]})["courses"]
    assert (course["fullname"], course["categoryid"], course["startdate"]) == (
        "Unit 1: Networks", other["id"], 1767225600)
    refused = moodle.call("core_course_update_courses", {"courses": [{"id": a["id"], "fullname": "x"}]},
                          token=LEAST_PRIVILEGE)
    assert refused["warnings"][0]["warningcode"] == "nopermissions"
    debug = moodle.call("core_course_update_courses", {"courses": [{"id": 404}]}, token=DEBUG_TOKEN)
    assert debug["warnings"][0]["message"].startswith("Can't find data record in database table context. (")
