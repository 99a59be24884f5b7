"""The import graph of zsaudit/ has no cycle, and every module imports on its own.

An edge is any import statement in a module (top level or inside a function): `from . import x`
is an edge to the module x when x is a module, else to the package. A package's own __init__ is
not counted as imported by its submodules (Python runs it first, but that is loading, not a
dependency the code chose).
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "zsaudit"


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                found = [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {m for m in found if m in mods and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_zsaudit():
    graph = import_graph()
    assert "zsaudit.analyze.analysis" in graph and graph["zsaudit.cli"] == {"zsaudit.commands"}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_every_module_imports_first():
    """Each module imported into a fresh zsaudit (nothing of it loaded yet): no import-order trap."""
    saved = {k: v for k, v in sys.modules.items() if k == "zsaudit" or k.startswith("zsaudit.")}
    try:
        for name in modules():
            if name.startswith("zsaudit.airflow.dags") or name == "zsaudit.__main__":
                continue    # the DAG file needs Airflow (make test-airflow); __main__ runs the CLI
            for k in [k for k in sys.modules if k == "zsaudit" or k.startswith("zsaudit.")]:
                del sys.modules[k]
            importlib.import_module(name)
    finally:
        for k in [k for k in sys.modules if k == "zsaudit" or k.startswith("zsaudit.")]:
            del sys.modules[k]
        sys.modules.update(saved)
