"""The package tree reads as the pipeline: every import goes down the stages, none up, and
no module imports itself back through a cycle."""

from __future__ import annotations

import ast

from .conftest import ROOT

SRC = ROOT / "src" / "deploycost"
# lower rank = earlier in the pipeline; a module may import only from its own rank or below
RANK = {
    "errors": 0,
    "periods": 0,
    "version": 0,
    "files": 0,
    "pandas_setup": 0,
    "memory": 0,
    "catalog": 0,
    "seed": 0,
    "scenario": 1,
    "cost": 2,
    "options": 3,
    "optimize": 4,
    "analysis": 5,
    "simulate": 5,
    "outputs": 6,
    "cli": 7,
    "api": 7,
    "__init__": 8,
    "__main__": 8,
}


def _modules() -> dict[str, set[str]]:
    """Module name -> deploycost modules it imports (at any depth of the file; not the
    annotations-only imports under ``if TYPE_CHECKING:``)."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(("deploycost", *path.relative_to(SRC).with_suffix("").parts))
        name = name.removesuffix(".__init__")
        targets = set()
        tree = ast.parse(path.read_text())
        typing_only = {  # imports under ``if TYPE_CHECKING:`` never run
            id(inner)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
            for inner in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from package import submodule`` imports the submodule
                targets |= {f"{node.module}.{alias.name}" for alias in node.names}
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
        graph[name] = {t for t in targets if t == "deploycost" or t.startswith("deploycost.")}
    known = set(graph)
    for name, targets in graph.items():
        # a name imported from a module (not a submodule) counts as the module itself
        resolved = {t if t in known else t.rsplit(".", 1)[0] for t in targets}
        graph[name] = {t for t in resolved if t in known and t != name}
    return graph


def _rank(module: str) -> int:
    parts = module.split(".")
    return RANK["__init__"] if len(parts) == 1 else RANK[parts[1]]


def test_every_package_has_a_rank():
    assert {_rank(m) for m in _modules()} <= set(RANK.values())


def test_no_upward_imports():
    upward = [
        (module, target)
        for module, targets in _modules().items()
        for target in targets
        if _rank(target) > _rank(module)
    ]
    assert upward == []


def test_no_import_cycles_between_modules():
    graph = _modules()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    cycles = [c for m in sorted(graph) if m not in state and (c := visit(m, []))]
    assert cycles == []
