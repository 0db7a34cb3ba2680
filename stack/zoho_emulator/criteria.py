"""The search `criteria` language: `((F:op:v)and(F:op:v))`, backslash escapes, `equals` ~ contains on text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stack.zoho_emulator.errors import ZohoError
from stack.zoho_emulator.schema import ModuleSpec

OPERATORS = frozenset({"equals", "starts_with", "in", "not_equal", "greater_equal", "greater_than", "less_equal",
                       "less_than", "between"})
MAX_CONDITIONS = 10
_SYSTEM_TYPES = {"id": "id", "Created_Time": "datetime", "Modified_Time": "datetime"}
_CONTAINS_TYPES = ("text", "textarea")


def invalid_query(reason: str) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", "invalid query formed", {"reason": reason})


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Junction:
    op: str  # "and" | "or"
    parts: tuple[Node, ...]


Node = Condition | Junction


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.conditions = 0

    def parse(self) -> Node:
        node = self._expr()
        self._skip_space()
        if self.pos != len(self.text):
            raise invalid_query(f"unexpected text at position {self.pos}")
        if self.conditions > MAX_CONDITIONS:
            raise invalid_query(f"more than {MAX_CONDITIONS} conditions")
        return node

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _expr(self) -> Node:
        # `and` binds tighter than `or`: a list of and-groups joined by or.
        ors: list[list[Node]] = [[self._group()]]
        while True:
            self._skip_space()
            rest = self.text[self.pos:].lower()
            if rest.startswith("and"):
                self.pos += 3
                ors[-1].append(self._group())
            elif rest.startswith("or"):
                self.pos += 2
                ors.append([self._group()])
            else:
                break
        ands: list[Node] = [group[0] if len(group) == 1 else Junction("and", tuple(group)) for group in ors]
        return ands[0] if len(ands) == 1 else Junction("or", tuple(ands))

    def _group(self) -> Node:
        self._skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise invalid_query(f"expected '(' at position {self.pos}")
        self.pos += 1
        self._skip_space()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            node = self._expr()
            self._skip_space()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                raise invalid_query(f"expected ')' at position {self.pos}")
            self.pos += 1
            return node
        return self._condition()

    def _condition(self) -> Condition:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] != ")":
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        if self.pos >= len(self.text):
            raise invalid_query("unbalanced parentheses")
        raw = self.text[start:self.pos]
        self.pos += 1
        parts = raw.split(":", 2)
        if len(parts) != 3 or not parts[0].strip():
            raise invalid_query(f"condition {raw!r} is not field:operator:value")
        field, op, value = parts[0].strip(), parts[1].strip().lower(), parts[2]
        if op not in OPERATORS:
            raise invalid_query(f"unsupported operator {op!r}")
        values = tuple(_split_unescaped(value)) if op in ("in", "between") else (_unescape(value),)
        if op == "between" and len(values) != 2:
            raise invalid_query("between takes two comma-separated values")
        self.conditions += 1
        return Condition(field, op, values)


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


def _split_unescaped(text: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def parse_criteria(text: str, module: ModuleSpec) -> Node:
    node = _Parser(text).parse()
    _check_fields(node, module)
    return node


def _check_fields(node: Node, module: ModuleSpec) -> None:
    if isinstance(node, Junction):
        for part in node.parts:
            _check_fields(part, module)
    elif node.field not in module.fields and node.field not in _SYSTEM_TYPES:
        raise invalid_query(f"invalid field {node.field!r}")
    elif node.field in module.fields and module.fields[node.field].type == "subform":
        raise invalid_query(f"subform {node.field!r} cannot be searched")


def matches(node: Node, values: Callable[[str], Any], module: ModuleSpec) -> bool:
    if isinstance(node, Junction):
        results = (matches(part, values, module) for part in node.parts)
        return all(results) if node.op == "and" else any(results)
    kind = module.fields[node.field].type if node.field in module.fields else _SYSTEM_TYPES[node.field]
    return _condition_holds(node, kind, values(node.field))


def _condition_holds(cond: Condition, kind: str, value: Any) -> bool:
    if value is None:
        return cond.op == "not_equal"
    if kind in ("integer", "decimal"):
        return _compare(cond, float(value), float)
    if kind == "datetime":
        return _compare(cond, datetime.fromisoformat(value), datetime.fromisoformat)
    if kind == "boolean":
        return _compare(cond, str(value).lower(), str.lower)
    if kind == "multiselectpicklist":
        return any(_condition_holds(cond, "picklist", item) for item in value)
    text = str(value).casefold()
    wanted = [v.casefold() for v in cond.values]
    if cond.op == "equals":
        return wanted[0] in text if kind in _CONTAINS_TYPES else text == wanted[0]
    if cond.op == "starts_with":
        return text.startswith(wanted[0])
    if cond.op == "not_equal":
        return text != wanted[0]
    if cond.op == "in":
        return text in wanted
    return _compare(cond, str(value), str)


def _compare(cond: Condition, value: Any, convert: Callable[[str], Any]) -> bool:
    try:
        given = [convert(v) for v in cond.values]
    except ValueError as exc:
        raise invalid_query(f"value of {cond.field!r} has the wrong type") from exc
    op = cond.op
    checks: dict[str, Callable[[], bool]] = {
        "equals": lambda: bool(value == given[0]), "starts_with": lambda: str(value).startswith(cond.values[0]),
        "not_equal": lambda: bool(value != given[0]), "in": lambda: value in given,
        "greater_equal": lambda: bool(value >= given[0]), "greater_than": lambda: bool(value > given[0]),
        "less_equal": lambda: bool(value <= given[0]), "less_than": lambda: bool(value < given[0]),
        "between": lambda: bool(given[0] <= value <= given[1]),
    }
    return checks[op]()
