"""Building search criteria safely: `(`, `)`, `,` and `\\` in values are backslash-escaped (docs/zoho-api.md#search)."""

from __future__ import annotations


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace(",", "\\,")


def condition(field: str, op: str, *values: str) -> str:
    return f"({field}:{op}:{','.join(escape(v) for v in values)})"


def equals(field: str, value: str) -> str:
    """Note: on text fields Zoho's `equals` also matches values that merely contain `value`; compare afterwards."""
    return condition(field, "equals", value)


def all_of(*conditions: str) -> str:
    return conditions[0] if len(conditions) == 1 else "(" + "and".join(conditions) + ")"


def any_of(*conditions: str) -> str:
    return conditions[0] if len(conditions) == 1 else "(" + "or".join(conditions) + ")"
