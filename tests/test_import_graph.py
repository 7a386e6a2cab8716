"""No import cycle in ``behemb_core``: the import graph (module-level and nested imports alike) is walked from the
source, and every strongly connected component with more than one module is a cycle.

Cycles that remain outside the part already straightened are listed in :data:`KNOWN_CYCLES`, each with the step
of issue 13 that removes it; any other cycle fails, and so does an entry that no longer exists (delete it then).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "behemb_core"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# The one allow-list: cycles that exist today and the issue 13 step that removes each. Nothing else may be added.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _owner(name: str, modules: set[str]) -> str:
    """The innermost module of ``modules`` that ``name`` (a module or an attribute path) lives in."""
    while name not in modules:
        name = name.rsplit(".", 1)[0]
    return name


def import_graph() -> dict[str, set[str]]:
    """``module → modules of the package it imports``, from every ``import`` statement anywhere in its source."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {_owner(a.name, modules) for a in node.names if a.name.split(".")[0] == PACKAGE}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != PACKAGE:
                    continue
                for alias in node.names:  # ``from pkg import sub`` imports the submodule ``pkg.sub``
                    sub = f"{source}.{alias.name}"
                    targets.add(sub if sub in modules else _owner(source, modules))
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _describe(component: frozenset[str], graph: dict[str, set[str]]) -> str:
    return "; ".join(f"{m} → {', '.join(sorted(graph[m] & component))}" for m in sorted(component))


def test_no_import_cycle_but_the_known_ones() -> None:
    graph = import_graph()
    assert "behemb_core.methods.registry" in graph and "behemb_core.store" in graph  # the walk saw the package
    new = [c for c in cycles(graph) if c not in KNOWN_CYCLES]
    assert not new, "import cycles: " + " | ".join(_describe(c, graph) for c in new)


def test_every_known_cycle_still_exists() -> None:
    """When a step of issue 13 removes a cycle, its entry goes too, so the allow-list only ever shrinks."""
    gone = set(KNOWN_CYCLES) - set(cycles(import_graph()))
    assert not gone, f"no longer a cycle, remove from KNOWN_CYCLES: {[sorted(c) for c in gone]}"


def test_the_walk_finds_nested_imports_and_cycles() -> None:
    """The checker itself: a cycle closed by an import inside a function is still a cycle."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert "behemb_core.methods.registry" in import_graph()["behemb_core.warmup"]  # imported inside a function


def test_nothing_in_the_library_imports_the_command_line() -> None:
    """``cli/`` is a front end: arrows run from it into the library, never back up (the spark-submit entry script
    lives in ``cli/`` for that reason)."""
    graph = import_graph()
    assert "behemb_core.cli.spark_submit" in graph
    up = sorted(f"{m} → {t}" for m, targets in graph.items() if not _in_cli(m) and m != PACKAGE + ".__main__"
                for t in targets if _in_cli(t))
    assert not up, "library modules import the command line: " + "; ".join(up)


def _in_cli(module: str) -> bool:
    return module == f"{PACKAGE}.cli" or module.startswith(f"{PACKAGE}.cli.")
