"""The shape of the code, checked: layers import one way, modules and functions stay small.

Counts, not taste: a module over 350 lines or a function over 50 is asking to be split (the
simulator, a test tool, aside), and an import cycle between two top-level modules or packages
means one layer reaches up into another.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "qsan_exporter"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 50


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _unit(module: str) -> str:
    """The top-level module or package `qsan_exporter.<unit>...` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        unit = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("qsan_exporter")):
                continue
            targets = ([f"{node.module}.{a.name}" for a in node.names]
                       if node.module == "qsan_exporter" else [node.module])
            edges[unit].update(t for t in map(_unit, targets) if t != unit)
    return edges


def test_no_import_cycle_between_top_level_modules_and_packages() -> None:
    edges = _imports()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo.extend(edges.get(here, ()))
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if reaches(b, a)})
    assert cycles == []
    assert "poll" in edges["cli"] or "service" in edges["cli"]  # the walk saw real imports


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        text = path.read_text()
        if relative.parts[0] != "simulator" and text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{relative}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{relative}:{node.lineno} {node.name}() {length} lines")
    assert too_long == []
