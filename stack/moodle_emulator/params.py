"""Form parameters → PHP arrays, the way PHP builds `$_GET`/`$_POST` before Moodle sees them.

`users[0][username]=a&users[0][email]=b` becomes `{"users": {"0": {"username": "a", "email": "b"}}}`; `x[]=1&x[]=2`
appends with the next integer key. Every leaf is a string. Keys keep their first-seen order, as PHP arrays do,
which is the order Moodle iterates a list in. Variables beyond `max_input_vars` are dropped silently, as PHP does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PhpValue = str | dict[str, "PhpValue"]
PhpArray = dict[str, PhpValue]

_SEGMENTS = re.compile(r"\[([^\]]*)\]")


def _next_index(array: PhpArray) -> str:
    ints = [int(k) for k in array if re.fullmatch(r"-?(0|[1-9][0-9]*)", k)]
    return str(max(ints) + 1 if ints else 0)


def php_array(pairs: Iterable[tuple[str, str]], max_input_vars: int) -> PhpArray:
    out: PhpArray = {}
    for count, (key, value) in enumerate(pairs):
        if count >= max_input_vars:
            break
        bracket = key.find("[")
        base = key if bracket < 0 else key[:bracket]
        if not base:
            continue
        segments: list[str] = []
        if bracket >= 0:
            # PHP reads consecutive [..] groups right after the name and ignores what follows the last one.
            pos = bracket
            while (m := _SEGMENTS.match(key, pos)) is not None:
                segments.append(m.group(1))
                pos = m.end()
            if not segments:
                base = key  # an unclosed bracket is part of the name
        target: PhpArray = out
        name = base
        for segment in segments:
            child = target.get(name)
            if not isinstance(child, dict):
                child = {}
                target[name] = child
            target = child
            name = segment if segment != "" else _next_index(target)
        target[name] = value
    return out


def merged(query: Iterable[tuple[str, str]], form: Iterable[tuple[str, str]], max_input_vars: int) -> PhpArray:
    """`array_merge($_GET, $_POST)`: a top-level POST key replaces the GET one wholesale."""
    return {**php_array(query, max_input_vars), **php_array(form, max_input_vars)}
