"""The harness's imports run one way: no cycles in benchmark/, no imports of leaderboard/ or baselines/.

Why a static check: lazy (function-level) imports hide cycles from a plain ``import``, and a cycle
is how one concern starts to depend on another's internals. Every ``import`` statement of every
module under benchmark/ counts, wherever it stands, except those under ``if TYPE_CHECKING:``
(they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("leaderboard", "baselines")
#: benchmark modules allowed to import a forbidden package, and why.
ALLOWED = {
    # the console script's `bgbench leaderboard build|show` is where the harness hands over to the leaderboard
    # package;
    "benchmark.cli.leaderboard": {"leaderboard"},
}


def module_files(root: Path, package: str = "benchmark") -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _runtime_nodes(tree: ast.AST):
    """All nodes except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imported_names(module: str, path: Path) -> set[str]:
    """Absolute dotted names a module imports: ``a.b`` for ``import a.b``, ``a.b.c`` for ``from a.b import c``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between benchmark modules, imports of forbidden packages) for every module under benchmark/."""
    modules = module_files(root)
    edges: dict[str, set[str]] = {}
    forbidden: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            if name.split(".")[0] in FORBIDDEN:
                forbidden.setdefault(module, set()).add(name.split(".")[0])
            while name and name not in modules:  # `from a import b`: b is a module, or a name defined in a
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        edges[module] = targets
    return edges, forbidden


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_benchmark_has_no_import_cycle():
    edges, _ = import_graph()
    assert "benchmark.data.reference" in edges and edges["benchmark.data.reference"]  # the parser sees imports
    assert cycles(edges) == []


def test_benchmark_imports_neither_leaderboard_nor_baselines():
    _, forbidden = import_graph()
    unexpected = {m: pkgs - ALLOWED.get(m, set()) for m, pkgs in forbidden.items()}
    assert {m: p for m, p in unexpected.items() if p} == {}


def test_data_layers_import_downward_only():
    """Within benchmark/data: the cache, then formats, then readers, then preparation, then cards."""
    layers = [["store"], ["formats", "basins"], ["corpus", "starts", "torch_md"], ["reference", "replica_md"],
              ["corpus_md", "published"], ["generate"], ["cards", "on_demand"]]
    rank = {f"benchmark.data.{m}": i for i, names in enumerate(layers) for m in names}
    edges, _ = import_graph()
    assert set(rank) == {m for m in edges if m.startswith("benchmark.data.")}, "a new data module needs a layer"
    upward = [(a, b) for a in rank for b in edges[a] if b in rank and rank[b] >= rank[a]]
    assert upward == []
    assert "benchmark.data" not in set().union(*(edges[m] for m in rank))  # modules never import the package API


@pytest.mark.parametrize("y_source,expected_cycles,expected_forbidden", [
    ("import leaderboard.site\nfrom benchmark.x import f\n", [["benchmark.x", "benchmark.y"]], {"benchmark.y": {"leaderboard"}}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from benchmark.x import f\n    import baselines.md\n", [], {}),
    ("from . import x\n", [["benchmark.x", "benchmark.y"]], {}),
])
def test_checks_on_a_tiny_package(tmp_path, y_source, expected_cycles, expected_forbidden):
    pkg = tmp_path / "benchmark"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "x.py").write_text("def f():\n    from benchmark import y  # lazy, still an edge\n")
    (pkg / "y.py").write_text(y_source)
    edges, forbidden = import_graph(tmp_path)
    assert cycles(edges) == expected_cycles
    assert forbidden == expected_forbidden
