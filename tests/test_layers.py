"""Layers you can see: no import cycle, and no import from a lower layer to a higher one.

Every ``import`` of an ``obskit`` module counts, at module level and inside functions (an
import hidden in a function is still a dependency); ``if TYPE_CHECKING:`` blocks never run
and are left out of the layer rule, but not of the cycle rule. The layers, lowest first:

0. foundations: errors, limits, timeutil, schemas, redact, problems, progress...
1. readers and pure analyses: ``load``, ``analyze``, ``scale`` (sketches, streaming, rollups)
2. alerting: ``alerts`` (signals, rules, the engine, explanations, notification)
3. configuration and exports: ``config``, ``promql_map``, ``alerts.export``
4. views and samples: ``charts``, ``views``, ``sample``
5. the session and what it serves: ``session``, ``panels``, ``check``, ``history``, ``dashboards``...
6. pages and tools: ``report``, ``explorer``, ``notebooks``
7. the command line: ``cli``
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "obskit"

#: Module prefix -> layer; the longest matching prefix wins, anything else is layer 0.
LAYERS: dict[str, int] = {
    "obskit.load": 1, "obskit.analyze": 1, "obskit.scale": 1, "obskit.evidently_report": 1,
    "obskit.alerts": 2,
    "obskit.config": 3, "obskit.promql_map": 3, "obskit.alerts.export": 3,
    "obskit.charts": 4, "obskit.views": 4, "obskit.sample": 4, "obskit.schedule": 4,
    "obskit.session": 5, "obskit.panels": 5, "obskit.check": 5, "obskit.history": 5, "obskit.dashboards": 5,
    "obskit.flywheel": 5,
    "obskit.report": 6, "obskit.explorer": 6, "obskit.notebooks": 6, "obskit.watch": 6,
    "obskit.cli": 7, "obskit.__main__": 7,
}


#: Package facades (``__init__`` re-exporting the public API) sit with the highest module they re-export.
FACADES: dict[str, int] = {"obskit.alerts": 3}


def layer(module: str) -> int:
    if module in FACADES:
        return FACADES[module]
    best, rank = "", 0
    for prefix, r in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best, rank = prefix, r
    return rank


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(*, type_only: bool = False) -> dict[str, set[str]]:
    """Module -> the obskit modules it imports, anywhere in its code (``type_only``: TYPE_CHECKING blocks too)."""
    mods = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]

        def add(target: str, name: str = name) -> None:
            while target not in mods and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in mods and target != name and target != "obskit":
                graph[name].add(target)

        def walk(node: ast.AST, package: str = package, add=add) -> None:  # type: ignore[no-untyped-def]
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _type_checking(child) and not type_only:
                    for other in child.orelse:
                        walk(other)
                    continue
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        if alias.name.startswith("obskit"):
                            add(alias.name)
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        up = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                        base = ".".join(up + ([base] if base else []))
                    if base.startswith("obskit"):
                        for alias in child.names:
                            full = f"{base}.{alias.name}"
                            add(full if full in mods else base)
                walk(child)

        walk(ast.parse(path.read_text(encoding="utf-8")))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_imports_inside_functions() -> None:
    graph = imports()
    assert "obskit.alerts.explain" in graph["obskit.session"]  # imported inside Session.alerts()
    assert "obskit.load.request_source" in graph["obskit.session"]


def test_no_import_cycle() -> None:
    assert _cycles(imports()) == []


def test_no_cycle_even_through_type_only_imports() -> None:
    """Type hints follow the layers too: a lower module types against a protocol, not a higher class."""
    assert _cycles(imports(type_only=True)) == []


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    backward = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                      for a, targets in imports().items() for b in targets if layer(b) > layer(a))
    assert backward == []


def test_a_cycle_would_be_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
