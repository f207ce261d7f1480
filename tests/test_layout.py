"""The house shows the flow (#24): seeds -> crawler -> pipelines -> corpus. Read from the sources'
imports (stdlib `ast`; every import that runs, those inside functions included, but not those
under `if TYPE_CHECKING:`, which never run): nothing in crawler/
below its entry points (commands/, demo/) imports pipelines/ or corpus/, pipelines/ does not
import corpus/, and no package has an import circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("crawler", "pipelines", "corpus")
ENTRY_POINTS = ("crawler.commands", "crawler.demo")  # on top of everything: they may


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
    }


def type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
    return isinstance(node, ast.If) and name == "TYPE_CHECKING"


def runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if type_checking(child):
            for other in child.orelse:  # type: ignore[attr-defined]
                yield other
                yield from runtime_nodes(other)
            continue
        yield child
        yield from runtime_nodes(child)


def imports(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The project modules `path` imports (`from a.b import c` counts a.b.c when that is a
    module, else a.b)."""
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                yield name


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: set(imports(path, modules)) - {name} for name, path in modules.items()}


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_crawler_below_its_entry_points_never_imports_pipelines_or_corpus() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if under(module, "crawler") and not any(under(module, e) for e in ENTRY_POINTS)
        for target in targets
        if under(target, "pipelines") or under(target, "corpus")
    )
    assert upward == []


def test_pipelines_never_imports_corpus() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if under(module, "pipelines")
        for target in targets
        if under(target, "corpus")
    )
    assert upward == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", ["pipelines", "crawler"])
def test_no_import_circles(package: str) -> None:
    # a package's __init__ is imported by every module in it: not an edge of the flow
    edges = {
        module: {t for t in targets if under(t, package) and t != package}
        for module, targets in graph().items()
        if under(module, package)
    }
    assert cycles(edges) == []


def test_the_check_sees_a_circle_and_an_upward_import() -> None:
    """The checks above can fail: a circle and an upward import are found when present."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    modules = project_modules()
    source = PROJECT_ROOT / "crawler" / "frontier" / "seen.py"
    assert "crawler.frontier.distributed" in set(imports(source, modules))  # inside a function
    typed_only = PROJECT_ROOT / "crawler" / "net" / "ssrf.py"
    assert "crawler.net.middlewares" not in set(imports(typed_only, modules))
