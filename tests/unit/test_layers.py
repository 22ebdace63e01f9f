"""The package's two rules (docs/development.md), read from the code's own imports, function-local ones
included: imports point down the layers, the pure core never imports Dagster, and no modules import
each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "slo_assets"
# Bottom first; a package imports only packages of lower layers (and itself).
LAYERS = [("core",), ("warehouse",), ("openslo", "ingest"), ("slo",), ("remediation",), ("outputs",), ("defs",), ("definitions",),
          ("cli",)]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}
PURE = {"core", "warehouse", "openslo", "ingest", "slo", "remediation", "outputs"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every module of the package and the names it imports (absolute, resolved against the package)."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module(path)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        found[name] = names
    return found


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_imports_point_down_the_layers():
    upward = [(module, imported) for module, names in _imports().items() if module.count(".")
              for imported in names if imported.startswith("slo_assets.")
              and _package(imported) != _package(module) and LAYER[_package(imported)] >= LAYER[_package(module)]]
    assert upward == []


def test_the_pure_core_never_imports_dagster():
    assert [(m, n) for m, names in _imports().items() if m.count(".") and _package(m) in PURE
            for n in names if n == "dagster" or n.startswith(("dagster.", "dagster_"))] == []


def test_no_modules_import_each_other_in_a_circle():
    modules = _imports()
    # a submodule importing its own package (`from slo_assets.cli import acks`) is Python loading the package first: no circle
    edges = {m: {n for n in names if n in modules and n != m and not m.startswith(n + ".")} for m, names in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for after in edges[node]:
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert circles == []


def test_no_module_over_500_lines_and_no_function_over_60_without_a_reason():
    """A module a reader takes in at once; a function that reads as its steps. A longer function says
    why on its `def` line (a comment beginning `# long:`)."""
    long_modules, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            long_modules.append(_module(path))
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60 \
                    and "# long:" not in lines[node.lineno - 1]:
                long_functions.append(f"{_module(path)}.{node.name}")
    assert (long_modules, long_functions) == ([], [])
