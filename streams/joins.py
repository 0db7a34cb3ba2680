"""Which dependencies a record still lacks, and its join ids once it lacks none (pure functions).

`Refs` answers reference-data lookups ("class", id) → stored fields; the stages keep it
in partition-local tables, so the same functions run in any worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Lookup = Callable[[str, str], dict[str, Any] | None]


def _class_of_course(course_id: str, idnumber: Any, lookup: Lookup, missing: list[str]) -> str | None:
    """The class a Moodle course is for: the class whose Moodle_Class_ID names the course, else the class the
    course's idnumber names. The Moodle sink makes courses with their class's Zoho id as idnumber and writes
    Moodle_Class_ID into Zoho without a workflow trigger, so until a pull brings that back only the idnumber
    tells; waiting for either, whichever comes first."""
    course = lookup("course", course_id)
    if course is not None:
        return str(course["class_id"])
    if idnumber and lookup("class", str(idnumber)) is not None:
        return str(idnumber)
    missing.append(f"course:{course_id}")
    if idnumber:
        missing.append(f"class:{idnumber}")
    return None


def _chain(payload: dict[str, Any], lookup: Lookup, missing: list[str]) -> dict[str, Any]:
    """class → unit → program for a grade; the ids found so far, and what is missing."""
    found: dict[str, Any] = {}
    class_id = payload.get("class_id")
    if not class_id and payload.get("moodle_course_id"):
        class_id = _class_of_course(str(payload["moodle_course_id"]), payload.get("moodle_course_idnumber"),
                                    lookup, missing)
        if class_id is None:
            return found
    if not class_id:
        missing.append("class:?")
        return found
    cls = lookup("class", class_id)
    if cls is None:
        missing.append(f"class:{class_id}")
        return found
    found["class_id"] = class_id
    found["class_name"] = payload.get("class_name") or cls.get("name")
    unit_id = cls.get("unit_id") or payload.get("unit_id")
    if not unit_id:
        missing.append("unit:?")
        return found
    unit = lookup("unit", unit_id)
    if unit is None:
        missing.append(f"unit:{unit_id}")
        return found
    found["unit_id"] = unit_id
    found["unit_name"] = payload.get("unit_name") or unit.get("name")
    program_id = unit.get("program_id") or cls.get("program_id")
    if not program_id:
        missing.append("program:?")
        return found
    if lookup("program", program_id) is None:
        missing.append(f"program:{program_id}")
        return found
    found["program_id"] = program_id
    return found


def resolve(entity: str, payload: dict[str, Any], student_known: bool, programs: dict[str, str],
            lookup: Lookup) -> tuple[dict[str, Any] | None, list[str]]:
    """Return (payload with join ids, []) when every dependency exists, else (None, what is missing).

    `programs` maps the student's program ids to their registration ids.
    """
    missing: list[str] = [] if student_known else ["student"]
    filled = dict(payload)
    if entity == "grade":
        filled.update(_chain(payload, lookup, missing))
        program_id = filled.get("program_id")
        if program_id and not missing:
            reg = programs.get(program_id)
            if reg is None:
                missing.append(f"registration:{program_id}")
            else:
                filled["registration_id"] = reg
    elif entity == "enrollment":
        class_id = payload.get("class_id")
        if not class_id or lookup("class", class_id) is None:
            missing.append(f"class:{class_id or '?'}")
    elif entity == "moodle_enrollment":
        # Reaches the person stage already linked (student id from the link); the course names its class.
        course_id = str(payload.get("course_id") or "")
        class_id = None
        if not course_id:
            missing.append("course:?")
        else:
            class_id = _class_of_course(course_id, payload.get("course_idnumber"), lookup, missing)
        if class_id is not None:
            filled["class_id"] = class_id
            cls = lookup("class", class_id) or {}
            filled["class_name"] = cls.get("name")
    elif entity == "payment":
        reg_id = payload.get("registration_id")
        if not reg_id or reg_id not in programs.values():
            missing.append(f"registration_id:{reg_id or '?'}")
    return (None, missing) if missing else (filled, [])


def ref_waits(missing: list[str]) -> list[tuple[str, str]]:
    """The reference records (kind, id) whose arrival should wake a waiting record."""
    out = []
    for item in missing:
        kind, _, ident = item.partition(":")
        if kind in ("class", "unit", "program", "course") and ident and ident != "?":
            out.append((kind, ident))
    return out
