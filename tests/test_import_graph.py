"""quizcnn's modules import each other without a cycle, and torch stays off the app's paths."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "quizcnn"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each quizcnn module -> the quizcnn modules it imports, at any depth of its code
    (an import inside a function is still an edge: it runs when that function does)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_quizcnn_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path):
    package = tmp_path / "quizcnn"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from quizcnn.b import g\n")
    (package / "b.py").write_text("from quizcnn import a\n")
    (package / "c.py").write_text("import quizcnn.a\n")
    graph = import_graph(package)
    assert graph["quizcnn.c"] == {"quizcnn.a"}
    assert find_cycle(graph) in (
        ["quizcnn.a", "quizcnn.b", "quizcnn.a"],
        ["quizcnn.b", "quizcnn.a", "quizcnn.b"],
    )


def test_devices_and_results_are_leaves():
    graph = import_graph()
    assert graph["quizcnn.devices"] == set()
    assert graph["quizcnn.results"] == set()
    assert "quizcnn.proofs" not in graph["quizcnn.proofkit"]
