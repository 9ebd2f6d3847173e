"""The engine's layering, read from the source (AST): no import is executed.

- nothing under ``superintendent_core`` imports Streamlit or the app (``ui``, ``pages``);
- ``strategies`` imports nothing from ``store``, ``learning``, ``data``, ``service``, ``kinds``;
- ``store`` imports nothing from ``strategies``, ``learning``, ``data``, ``service``, ``kinds``;
- ``learning`` imports nothing from ``data``, ``service``, ``kinds`` (nor the app);
- ``features`` (image feature extractors, beside ``kinds``) imports nothing from ``strategies``,
  ``learning``, ``service``, ``kinds``; ``data`` reaches it only lazily, to resolve an extractor's name;
- the imports a module runs when it is imported (module level, outside
  ``if TYPE_CHECKING:``; importing ``a.b.c`` runs ``a/b/__init__`` first)
  form no cycle among the engine's modules.

The layering rules count every import, wherever it is (in a function, under
``TYPE_CHECKING``): a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "superintendent_core"

#: package (relative to superintendent_core) -> engine packages it must not import
FORBIDDEN = {
    "labels": {"store", "strategies", "learning", "data", "kinds", "service"},
    "figures": {"store", "strategies", "learning", "data", "kinds", "service", "features", "labels"},
    "strategies": {"store", "learning", "data", "service", "kinds"},
    "store": {"strategies", "learning", "data", "service", "kinds"},
    "learning": {"data", "service", "kinds", "ui"},
    "data": {"strategies", "learning", "service", "kinds"},
    "kinds": {"service"},
    "features": {"strategies", "learning", "service", "kinds"},
}
#: top-level packages no engine module may import
APP = {"streamlit", "ui", "pages"}


@dataclass(frozen=True)
class Import:
    target: str  # absolute dotted name, resolved to a module of the engine when it is one
    line: int
    runs_at_import: bool  # module level, not under `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


MODULES = _modules()


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """``from <level dots><name> import ...`` inside ``module``, as an absolute name."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package")
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, runs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(alias.name, child.lineno, runs) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = (
                    _resolve_relative(module, is_package, child.level, child.module)
                    if child.level
                    else child.module or ""
                )
                for alias in child.names:
                    # `from package import submodule` depends on the submodule
                    candidate = f"{base}.{alias.name}"
                    target = candidate if candidate in MODULES else base
                    found.append(Import(target, child.lineno, runs))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)  # runs when called, not at import
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), runs)
            else:
                visit(child, runs)

    visit(tree, True)
    return found


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _engine_module(target: str) -> str | None:
    """The engine module ``target`` names (its longest existing prefix), or None if outside."""
    if target != PACKAGE and not target.startswith(PACKAGE + "."):
        return None
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in MODULES:
            return name
        parts.pop()
    return None


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


# --------------------------------------------------------------------------- the reader itself


def test_relative_imports_resolve():
    assert _resolve_relative("superintendent_core.strategies.base", False, 1, "uncertainty") == (
        "superintendent_core.strategies.uncertainty"
    )
    assert _resolve_relative("superintendent_core.strategies", True, 1, "base") == "superintendent_core.strategies.base"
    assert _resolve_relative("superintendent_core.learning.learner", False, 2, "strategies") == (
        "superintendent_core.strategies"
    )
    assert _resolve_relative("superintendent_core.learning.learner", False, 2, None) == "superintendent_core"


def test_the_reader_sees_the_engine():
    assert "superintendent_core.strategies.registry" in MODULES
    targets = {i.target for i in IMPORTS["superintendent_core.strategies.registry"]}
    assert "superintendent_core.strategies.neighbourhood" in targets  # a relative import, resolved
    learner = {i.target for i in IMPORTS["superintendent_core.learning.learner"] if i.runs_at_import}
    assert "superintendent_core.strategies.registry" in learner  # `from ..strategies import registry`
    lazy = [i for i in IMPORTS["superintendent_core.learning.learner"] if not i.runs_at_import]
    assert lazy  # imports inside functions are seen, as not run at import


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_engine_module_imports_the_app(module):
    bad = [f"line {i.line}: {i.target}" for i in IMPORTS[module] if i.target.split(".")[0] in APP]
    assert not bad, f"{module} imports the app or Streamlit: {bad}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_what_is_below_them(layer):
    violations = []
    for module, imports in IMPORTS.items():
        if _layer(module) != layer:
            continue
        for i in imports:
            target = _engine_module(i.target) or i.target
            if target.split(".")[0] in APP:
                violations.append(f"{module} (line {i.line}) imports {i.target}")
            elif _engine_module(i.target) and _layer(target) in FORBIDDEN[layer]:
                violations.append(f"{module} (line {i.line}) imports {target}")
    assert not violations, f"superintendent_core.{layer} must not import {sorted(FORBIDDEN[layer])}:\n" + "\n".join(
        violations
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:  # Tarjan; the engine is small enough for recursion
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_importing_a_module_runs_its_packages_first():
    assert _runs_first("superintendent_core.learning.learner", "superintendent_core.strategies.registry") == [
        "superintendent_core.strategies",
        "superintendent_core.strategies.registry",
    ]
    assert _runs_first("superintendent_core.strategies", "superintendent_core.strategies.base") == [
        "superintendent_core.strategies.base"
    ]


def test_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _cycles({"a": {"a"}}) == [["a"]]


def _runs_first(importer: str, target: str) -> list[str]:
    """What importing ``target`` from ``importer`` runs: its packages' ``__init__`` first, then itself.

    The importer's own packages are already being imported, so they do not count.
    """
    own = {importer.rsplit(".", k)[0] for k in range(importer.count(".") + 1)}
    parts = target.split(".")
    chain = [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
    return [name for name in chain if name in MODULES and name not in own]


def test_no_import_cycles():
    graph = {module: set() for module in MODULES}
    for module, imports in IMPORTS.items():
        for i in imports:
            target = _engine_module(i.target)
            if i.runs_at_import and target:
                graph[module].update(_runs_first(module, target))
    cycles = _cycles(graph)
    assert not cycles, "import cycles among the engine's modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)
