"""The package's shape, kept by a test: layers import only downward, the module graph has no
cycle, and only the front ends know argparse. See ARCHITECTURE.md.

Every import counts, also those inside functions (the package imports lazily for start-up
time), so the graph is walked with ``ast`` over the source, not from ``sys.modules``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "west_ext" / "matter_factory_data"
NAME = "matter_factory_data"

#: Layer of each top-level part of the package; a module may import its own layer and below.
LAYERS = {
    "errors": 0, "typed": 0, "ui": 0, "__init__": 0, "core": 0,
    "files": 1,
    "formats": 2,
    "jobs": 3,
    "zephyr": 4,
    "station": 5,
    "cli": 6,
    "__main__": 7,
}
#: Only these parts may import argparse (or take an argparse.Namespace).
ARGPARSE_ALLOWED = {"cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def is_package(name: str) -> bool:
    return (PACKAGE / Path(*name.split(".")) / "__init__.py").is_file()


def exists(name: str) -> bool:
    base = PACKAGE / Path(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported module of this package, line) for every import statement in ``path``."""
    name = module_name(path)
    package = name.split(".") if is_package(name) or path.name == "__init__.py" else \
        name.split(".")[:-1]
    if name == "__init__":
        package = []
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == NAME or alias.name.startswith(NAME + "."):
                    found.append((alias.name[len(NAME) + 1:] or "__init__", node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                base = base + (node.module.split(".") if node.module else [])
            elif node.module and (node.module == NAME or node.module.startswith(NAME + ".")):
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                candidate = ".".join(base + [alias.name])
                target = candidate if exists(candidate) else ".".join(base) or "__init__"
                found.append((target, node.lineno))
    return found


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> int:
    return LAYERS[name.split(".")[0]]


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _ in imports_of(path):
            if target != name:
                edges[name].add(target)
    return edges


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    return [f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
            for source, targets in sorted(edges.items()) for target in sorted(targets)
            if layer(target) > layer(source)]


def find_cycle(edges: dict[str, set[str]]):
    """One cycle as a list of modules, or None (iterative DFS, white/grey/black)."""
    state: dict[str, int] = {}
    for start in sorted(edges):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(child) == 1:
                return path[path.index(child):] + [child]
            if not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(edges.get(child, ())))))
                path.append(child)
    return None


def test_every_part_of_the_package_has_a_layer():
    unknown = sorted({m.split(".")[0] for m in all_modules()} - set(LAYERS))
    assert not unknown, f"give these a layer in LAYERS and ARCHITECTURE.md: {unknown}"


def test_layers_import_only_downward():
    violations = layer_violations(graph())
    assert not violations, "back edge(s):\n" + "\n".join(violations)


def test_the_import_graph_is_acyclic():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_front_ends_know_argparse():
    offenders = []
    for name, path in all_modules().items():
        if name.split(".")[0] in ARGPARSE_ALLOWED:
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
                offenders.append(f"{name}:{node.lineno} imports argparse")
            elif isinstance(node, ast.ImportFrom) and node.module == "argparse":
                offenders.append(f"{name}:{node.lineno} imports from argparse")
        if "Namespace" in text:
            offenders.append(f"{name} mentions an argparse Namespace")
    assert not offenders, "\n".join(offenders)


# --- the checks themselves must be able to fail -----------------------------------------

def test_a_back_edge_is_reported_with_the_offending_edge():
    edges = graph()
    edges["core.model"] = set(edges["core.model"]) | {"cli.app"}
    assert "core.model (layer 0) imports cli.app (layer 6)" in layer_violations(edges)


def test_a_cycle_is_found():
    edges = graph()
    edges["core.der"] = set(edges["core.der"]) | {"core.certs"}  # certs -> certview -> der
    cycle = find_cycle(edges)
    assert cycle is not None and cycle[0] == cycle[-1] and "core.der" in cycle


@pytest.mark.parametrize("source, expected", [
    ("from ..core import certs\n", "core.certs"),
    ("from ..core.certs import DacIssuer\n", "core.certs"),
    ("from .. import errors\n", "errors"),
    ("def f():\n    from ...cli.app import main\n", "cli.app"),
    ("import matter_factory_data.zephyr.layout\n", "zephyr.layout"),
])
def test_imports_are_resolved(tmp_path, monkeypatch, source, expected):
    """Relative, nested-function and absolute imports all count (in a module at jobs/x.py)."""
    module = PACKAGE / "jobs" / "_probe_for_test.py"
    monkeypatch.setattr(module.__class__, "read_text", lambda self, encoding=None: source)
    if expected == "cli.app":  # a function-level import from a deeper module
        module = PACKAGE / "station" / "batch" / "_probe_for_test.py"
    assert expected in [t for t, _ in imports_of(module)]
