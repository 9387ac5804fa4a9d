"""The package's import graph: no circles, nothing low importing something above it.

The rule is written down in docs/layout.md ("Import rules"). Every ``import`` counts, also
those inside functions and under ``TYPE_CHECKING``: a lazy import that climbs up is still a
dependency the wrong way round. The graph is read from the source with :mod:`ast`, so nothing
is imported (and torch is not loaded) to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sstsal"

# Floors, lowest first. The ground floor is every module directly in sstsal/ (errors, atomic,
# devices, ...); a module may import its own floor's modules and those of the floors below.
FLOORS = ["ground", "media", "model", "flow", "gaze", "evaluation", "training", "viewing", "streaming", "pipeline", "cli", "__main__"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports (``from a import b`` counts ``a.b`` when b is a module)."""
    found: set[str] = set()
    this = module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{this}: relative import on line {node.lineno}: the package imports absolutely"
            module = node.module or ""
            names = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules and name != this)
    return found


def floor_of(module: str) -> int:
    parts = module.split(".")
    if module == "sstsal.__main__":
        return FLOORS.index("__main__")
    if len(parts) <= 2 and (PACKAGE / f"{parts[-1]}.py").is_file() or module == "sstsal":
        return FLOORS.index("ground")
    if parts[1] not in FLOORS:
        raise AssertionError(f"{module}: subpackage {parts[1]!r} has no floor: add it to FLOORS here and in docs/layout.md")
    return FLOORS.index(parts[1])


# Edges being removed by work in progress elsewhere (checkpoint lookup moving to one ground-floor
# module); test_pending_edges_still_exist fails once one is gone, so the entry is deleted then.
PENDING: set[tuple[str, str]] = set()


def import_graph(*, pending: bool = False) -> dict[str, set[str]]:
    """Module -> the package modules it imports; without ``pending``, less the PENDING edges."""
    modules = package_modules()
    graph = {name: imported_modules(path, modules) for name, path in modules.items()}
    if not pending:
        for module, target in PENDING:
            graph.get(module, set()).discard(target)
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} (floor {FLOORS[floor_of(module)]}) imports {target} (floor {FLOORS[floor_of(target)]})"
        for module, targets in graph.items()
        for target in targets
        if floor_of(target) > floor_of(module)
    )


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_no_import_climbs_up():
    assert upward_imports(import_graph()) == []


def test_pending_edges_still_exist():
    graph = import_graph(pending=True)
    gone = sorted(f"{module} -> {target}" for module, target in PENDING if target not in graph.get(module, set()))
    assert not gone, f"{gone} no longer exist: delete them from PENDING in this file"


def test_every_subpackage_has_a_floor():
    for module in package_modules():
        floor_of(module)  # raises for a subpackage missing from FLOORS


# The checks themselves, on small made-up graphs: they must see what they are for.


def test_circle_detection_finds_a_circle_and_ignores_a_chain():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


@pytest.mark.parametrize(
    ("module", "target", "climbs"),
    [
        ("sstsal.media.frames", "sstsal.atomic", False),
        ("sstsal.model.predictor", "sstsal.media.naming", False),
        ("sstsal.media.render", "sstsal.pipeline.job", True),
        ("sstsal.atomic", "sstsal.model.network", True),
        ("sstsal.model.weights", "sstsal.flow.raft", True),
    ],
)
def test_upward_import_detection(module: str, target: str, climbs: bool):
    assert bool(upward_imports({module: {target}})) is climbs


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    # a plain import, a lazy import inside a function, and `from package import module`
    assert "sstsal.errors" in graph["sstsal.atomic"]
    assert "sstsal.model.checkpoint" in graph["sstsal.model.predictor"]
    assert "sstsal.evaluation.metrics" in graph["sstsal.evaluation.evaluate"]


# The other rule read from the source: library code logs through `logging`. Only the CLI prints,
# and the job wrapper, which writes the job's own log file and echoes errors and warnings to the
# console while stderr is that log.
PRINTS_ALLOWED = {"sstsal/pipeline/job.py", "sstsal/pipeline/provenance.py"}


def test_library_code_logs_instead_of_printing():
    printing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative.startswith("sstsal/cli/") or relative in PRINTS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.append(f"{relative}:{node.lineno}")
    assert printing == [], "use logging.getLogger(__name__) instead of print"
