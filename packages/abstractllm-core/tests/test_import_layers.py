"""Core's modules import each other without a cycle, and the contract module stands alone.

The graph is read from the sources with ``ast``: every ``import`` of an ``abstractllm`` module,
at module level or inside a function (deferring an import into a function hides a cycle, it
does not break it). Imports under ``if TYPE_CHECKING:`` are left out: they never run. A name
taken from a package (``from abstractllm import create_llm``) counts as an import of the module
the package serves it from (its static ``X as X`` re-export), since that is what runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "abstractllm"

#: The contract a plugin author codes against: it may import only these (and the standard library).
CONTRACT = "abstractllm.backend"
CONTRACT_MAY_IMPORT = ("abstractllm.errors",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, *, type_checking: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``node``, with whether it sits under ``if TYPE_CHECKING:``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, type_checking
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.body:
            yield from _imports(child, type_checking=True)
        for child in node.orelse:
            yield from _imports(child, type_checking=type_checking)
        return
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, type_checking=type_checking)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _static_reexports(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """``name -> module`` for every ``from M import name as name`` of ``tree`` (type-checking or not)."""
    served = {}
    for node, _ in _imports(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node, is_package)
            for alias in node.names:
                if alias.asname == alias.name:
                    served[alias.name] = source
    return served


def import_graph(*, type_checking: bool = False, follow_reexports: bool = True) -> dict[str, set[str]]:
    """``module -> modules of abstractllm it imports`` when it runs (with ``type_checking``: also
    the imports under ``if TYPE_CHECKING:``). A name a package re-exports counts as an import of
    the module defining it, unless ``follow_reexports`` is False (then: of the module named)."""
    trees = _sources()
    packages = {name for name in trees if (SRC / Path(*name.split(".")) / "__init__.py").exists()}
    reexports = {name: _static_reexports(tree, name, name in packages) for name, tree in trees.items()}
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for module, tree in trees.items():
        for node, guarded in _imports(tree):
            if guarded and not type_checking:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _absolute(module, node, module in packages)
                targets = []
                for alias in node.names:
                    if f"{source}.{alias.name}" in trees:
                        targets.append(f"{source}.{alias.name}")
                    else:
                        served = reexports.get(source, {}).get(alias.name, source) if follow_reexports else source
                        targets.append(served)
            graph[module] |= {target for target in targets if target in trees and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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


def _path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """The shortest cycle through ``component``'s first module (breadth first), for the failure message."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    trail = [node]
                    while trail[-1] != start:
                        trail.append(came_from[trail[-1]])
                    return [*reversed(trail), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    return component


def test_the_graph_sees_deferred_imports() -> None:
    graph = import_graph()
    # Backend.generate's default path imports the sequence helpers; a graph without it misses cycles.
    assert len(graph) > 40
    assert any(graph.values())


def test_core_has_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles in core:\n" + "\n".join(" -> ".join(_path(graph, component)) for component in found)


def test_the_cycle_check_fails_on_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert _path({"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c"]) == ["a", "c", "a"]


def _contract_modules(graph: dict[str, set[str]]) -> list[str]:
    return [name for name in graph if name == CONTRACT or name.startswith(CONTRACT + ".")]


def test_the_contract_runs_on_errors_and_the_standard_library_alone() -> None:
    graph = import_graph()
    modules = _contract_modules(graph)
    assert CONTRACT in modules and len(modules) > 1
    outside = {
        (module, target)
        for module in modules
        for target in graph[module]
        if target not in modules and target not in CONTRACT_MAY_IMPORT and target != PACKAGE
    }
    assert not outside, f"the contract imports beyond abstractllm.errors: {sorted(outside)}"


def test_the_contract_names_nothing_private_even_for_type_checkers() -> None:
    # For type checkers the contract names public modules only: ``abstractllm.config`` (``load``
    # takes a ``ConfigManager``) and ``abstractllm.blocks`` (the building blocks' former names,
    # kept typed); never ``abstractllm._private``.
    graph = import_graph(type_checking=True, follow_reexports=False)
    contract = _contract_modules(graph)
    private = sorted((m, t) for m in contract for t in graph[m] if t.startswith(f"{PACKAGE}._private"))
    assert not private, private
    assert any(f"{PACKAGE}._private" in target for targets in graph.values() for target in targets)
