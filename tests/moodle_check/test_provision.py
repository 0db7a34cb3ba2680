"""The provisioning part of the real-Moodle check, offline: the token it sets up is the one the docs describe,
and the comparison of Moodle's answers with the emulator's finds what differs (and only that)."""

from __future__ import annotations

import re

from common.settings import PROJECT_ROOT
from tools.moodle_check.compare import Call, IdMap, compare_answers, learn, shape, translate
from tools.moodle_check.provision import CAPABILITIES, FUNCTIONS, written


def _token_section() -> str:
    text = (PROJECT_ROOT / "docs" / "moodle-sink.md").read_text()
    return text[text.index("## A least-privilege token"):text.index("## Against a real Moodle")]


def test_the_check_sets_up_exactly_the_documented_service_and_role() -> None:
    section = _token_section()
    functions = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))
    capabilities = set(re.findall(r"`([a-z]+/[a-z_]+:[a-z_]+)`", section)) - {"moodle/webservice:createtoken"}
    assert functions == set(FUNCTIONS)
    assert capabilities == set(CAPABILITIES)


def test_an_error_differs_by_code_or_message_and_an_answer_by_shape_and_count() -> None:
    error = {"exception": "moodle_exception", "errorcode": "invalidtoken", "message": "Invalid token - token not found"}
    assert compare_answers(error, dict(error)) == []
    assert compare_answers(error, error | {"errorcode": "accessexception"}) == [
        "errorcode: Moodle 'invalidtoken', emulator 'accessexception'"]
    assert compare_answers(error, []) == [
        "Moodle answered moodle_exception/invalidtoken (Invalid token - token not found), the emulator []"]
    real = [{"id": 3, "email": "a@b.example", "suspended": False, "idnumber": None}]
    assert compare_answers(real, [{"id": 9, "email": "c@d.example", "suspended": True, "idnumber": None}]) == []
    assert compare_answers(real, [{"id": 9, "email": "c@d.example", "suspended": 0, "idnumber": None,
                                   "description": ""}]) == [
        "answer[]: key 'description' only in the emulator's answer", "answer[].suspended: Moodle bool, emulator int"]
    assert compare_answers({"courses": real}, {"courses": []}) == ["courses: Moodle 1 items, emulator 0"]


def test_list_items_merge_so_an_optional_key_or_a_mixed_type_shows() -> None:
    options = [{"name": "hiddensections", "value": 1}, {"name": "indentation", "value": "1"}]
    assert shape(options) == [{"name": "str", "value": "int|str"}]
    assert shape([{"id": 1}, {"id": 2, "city": "Beirut"}]) == [{"id": "int", "city": "str"}]


def test_replayed_parameters_name_the_emulators_records() -> None:
    ids = IdMap()
    ids.add("user", 18, 7)
    ids.add("course", 6, 4)
    ids.add("category", 3, 2)
    enrol = Call(0, "sink", "enrol_manual_enrol_users", "t", [
        ("enrolments[0][roleid]", "5"), ("enrolments[0][userid]", "18"), ("enrolments[0][courseid]", "6")], 200, None)
    assert translate(enrol, ids) == [("enrolments[0][roleid]", "5"), ("enrolments[0][userid]", "7"),
                                     ("enrolments[0][courseid]", "4")]
    update = Call(1, "sink", "core_course_update_courses", "t", [("courses[0][id]", "6"),
                                                                 ("courses[0][categoryid]", "3")], 200, None)
    assert translate(update, ids) == [("courses[0][id]", "4"), ("courses[0][categoryid]", "2")]
    lookup = Call(2, "sink", "core_user_get_users_by_field", "t", [("field", "id"), ("values[0]", "18")], 200, None)
    assert translate(lookup, ids) == [("field", "id"), ("values[0]", "7")]
    by_email = Call(3, "sink", "core_user_get_users_by_field", "t", [("field", "email"), ("values[0]", "18")], 200,
                    None)
    assert translate(by_email, ids) == [("field", "email"), ("values[0]", "18")]
    # A create teaches the map the new records' ids, in the order of the answers.
    create = Call(4, "sink", "core_user_create_users", "t", [], 200, [{"id": 20, "username": "a"},
                                                                       {"id": 21, "username": "b"}])
    learn(create, [{"id": 11, "username": "a"}, {"id": 12, "username": "b"}], ids)
    assert (ids.get("user", "20"), ids.get("user", "21"), ids.get("user", "99")) == ("11", "12", "99")


def test_a_write_is_summed_up_by_its_fields_ids_without_their_values() -> None:
    call = Call(11, "sink", "core_user_update_users", "t", [
        ("users[0][id]", "20"), ("users[0][suspended]", "1"), ("users[1][id]", "21"), ("users[1][lastname]", "New")],
        200, {"warnings": []})
    assert written(call) == ["core_user_update_users [id, suspended=1]", "core_user_update_users [id, lastname=New]"]
