"""The dependency rule, checked on every import in the source: services import only the contract
(`schemas/`) and `common/`, never each other; `schemas/` imports only `common/`; nothing in production
imports the development stack; no import cycle between packages."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("producers", "control", "streams", "projections", "sinks", "pullers", "ops")
OURS = (*SERVICES, "schemas", "common", "stack", "bench", "tests")
ALLOWED: dict[str, set[str]] = {
    **{service: {"schemas", "common"} for service in SERVICES},
    "schemas": {"common"},
    "common": set(),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(OURS)


def _package_imports() -> dict[str, dict[str, set[Path]]]:
    graph: dict[str, dict[str, set[Path]]] = defaultdict(lambda: defaultdict(set))
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            for imported in _imports(path) - {package}:
                graph[package][imported].add(path.relative_to(ROOT))
    return graph


def test_services_import_only_the_contract_and_common() -> None:
    broken = [f"{package} imports {imported} in {sorted(map(str, paths))}"
              for package, imports in _package_imports().items()
              for imported, paths in imports.items() if imported not in ALLOWED[package]]
    assert broken == []


def test_no_import_cycle_between_packages() -> None:
    graph = {package: set(imports) for package, imports in _package_imports().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
                   for nxt in graph.get(start, ()))

    assert [p for p in graph if reaches(p, p, set())] == []
