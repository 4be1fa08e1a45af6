"""The packages of `bench` form layers, each importing only its own and lower ones, and no
modules import each other in a cycle. Read from the source with `ast` (nothing is imported),
counting every import: at the top, inside functions, and under TYPE_CHECKING.

    errors < measures < trial/schema < ledger < engine < executors
                  < analysis/conformance < claims < report < perf/cli

A known exception that waits on another change is listed in ALLOWED below, with why; the test
fails when one is no longer needed, so the list only shrinks."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.bench.helpers import REPO

LAYERS = (
    ("", "errors"),  # "": the package itself (bench/__init__.py: its version)
    ("measures",),
    ("trial", "schema"),  # the schema's trial columns come from the Trial fields' declaration
    ("ledger",),
    ("engine",),
    ("executors",),
    ("analysis", "conformance"),
    ("claims",),
    ("report",),
    ("perf", "cli", "__main__"),
)
LAYER = {name: rank for rank, names in enumerate(LAYERS) for name in names}

# Allowed for now, each with the change that removes it: cycles (their modules), and upward
# imports (importer, imported).
ALLOWED_CYCLES: dict[frozenset[str], str] = {}
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("bench.conformance.audit_page", "bench.report.cells"):
        "the audit page reuses the report's Markdown escaping; a shared text module removes it",
}


def modules(root: Path = REPO) -> dict[str, Path]:
    """Module name -> file, for every module of the `bench` package."""
    out = {}
    for path in sorted((root / "bench").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The `bench` modules `name` imports (a `from package import module` names the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import bench.engine.runner` etc.
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path = REPO) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYER[parts[1] if len(parts) > 1 else ""]


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports of a higher layer's module by a lower layer's."""
    return {(a, b) for a, targets in edges.items() for b in targets if layer(b) > layer(a)}


def test_every_bench_package_has_a_layer():
    assert {m.split(".")[1] if "." in m else "" for m in modules()} <= set(LAYER)


def test_no_import_cycles_among_bench_modules():
    found = set(cycles(graph()))
    assert found - set(ALLOWED_CYCLES) == set(), "import cycles"
    assert set(ALLOWED_CYCLES) - found == set(), "allowed cycles that are gone: drop them"


def test_no_lower_layer_imports_a_higher_one():
    found = upward(graph())
    assert found - set(ALLOWED_UPWARD) == set(), "imports of a higher layer"
    assert set(ALLOWED_UPWARD) - found == set(), "allowed imports that are gone: drop them"


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path):
    for name, text in {"__init__.py": "", "errors.py": "from bench.engine import runner\n",
                       "engine/__init__.py": "", "engine/runner.py": "import bench.errors\n",
                       "engine/record.py": "from . import runner\n"
                                           "def f():\n    from bench.executors.sweep import x\n",
                       "executors/__init__.py": "", "executors/sweep.py": ""}.items():
        (tmp_path / "bench" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "bench" / name).write_text(text)
    edges = graph(tmp_path)
    assert edges["bench.engine.record"] == {"bench.engine.runner", "bench.executors.sweep"}
    assert cycles(edges) == [frozenset({"bench.errors", "bench.engine.runner"})]
    assert upward(edges) == {("bench.errors", "bench.engine.runner"),
                             ("bench.engine.record", "bench.executors.sweep")}
