"""The layout's contracts (pyproject [tool.importlinter]): no import from a lower floor to a higher one, rooms
inside the library, the config naming no part implementation, drivers and LangChain/LlamaIndex confined to their
modules. import-linter reads the real import graph (grimp). And no import circle at run time."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_import_runs_from_a_lower_floor_to_a_higher_one():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 6 kept, 0 broken." in result.stdout


def _import_time_edges() -> dict[str, set[str]]:
    """module -> the project modules it imports when it is imported (top level, not under TYPE_CHECKING, not
    inside a function: those run later, or never)."""
    modules: dict[str, Path] = {}
    for folder in ("rag", "ingest", "service", "eval", "apps"):
        for path in (REPO / folder).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for item in ast.walk(node) if isinstance(node, ast.Import | ast.ImportFrom | ast.If | ast.Try) else []:
                if isinstance(item, ast.Import):
                    found.update(alias.name for alias in item.names)
                elif isinstance(item, ast.ImportFrom):
                    base = item.module or ""
                    if item.level:
                        base = ".".join([*package.split(".")[: len(package.split(".")) - item.level + 1], base]).strip(
                            "."
                        )
                    found.add(base)
                    found.update(f"{base}.{alias.name}" for alias in item.names)
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        edges[name] = {
            parent for target in found if target in modules or target.rpartition(".")[0] in modules
            for parent in _with_parents(target if target in modules else target.rpartition(".")[0])
            if parent in modules and parent != name
        }  # fmt: skip
    return edges


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def test_no_import_circle_at_run_time():
    edges = _import_time_edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    # A package's __init__ importing its own modules, which import the package's base, is Python's normal
    # shape, not a circle of ours: only circles across packages count.
    across = [c for c in cycles if len({m.split(".")[0] + "." + ([*m.split("."), ""])[1] for m in c}) > 1]
    assert not across, across


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(REPO)): lines
        for folder in ("rag", "ingest", "service", "eval", "apps")
        for path in (REPO / folder).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 420
    }
    assert not long, long
