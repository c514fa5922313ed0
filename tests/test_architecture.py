"""The package's shape, kept by a test: layers import only downward, the module graph has no
cycle, and only the front ends know argparse. See ARCHITECTURE.md.

Every import counts, also those inside functions (the package imports lazily for start-up
time), so the graph is walked with ``ast`` over the source, not from ``sys.modules``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "west_ext" / "matter_factory_data"
NAME = "matter_factory_data"

#: Layer of each top-level part of the package; a module may import its own layer and below.
LAYERS = {
    "errors": 0, "typed": 0, "ui": 0, "events": 0, "__init__": 0, "core": 0,
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
        dynamic = dynamic_import(node)
        if dynamic is not None:
            target, relative = dynamic
            if target is None:
                found.append((DYNAMIC, node.lineno))
            elif relative:
                level = len(target) - len(target.lstrip("."))
                base = package[: len(package) - (level - 1)] + \
                    [p for p in target.lstrip(".").split(".") if p]
                found.append((".".join(base) or "__init__", node.lineno))
            elif target == NAME or target.startswith(NAME + "."):
                found.append((target[len(NAME) + 1:] or "__init__", node.lineno))
        elif isinstance(node, ast.Import):
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


#: What :func:`imports_of` reports for an importlib/__import__ call it cannot resolve.
DYNAMIC = "<dynamic import>"


def dynamic_import(node: ast.AST):
    """``importlib.import_module(NAME[, package])`` or ``__import__(NAME)``: (the name, whether
    it is relative -- to the module's package, ``__package__``), (None, False) when the name
    is not a literal, or None when ``node`` is no such call."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else \
        func.id if isinstance(func, ast.Name) else None
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None, False
    return first.value, called == "import_module" and first.value.startswith(".")


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> int:
    return LAYERS[name.split(".")[0]]


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _ in imports_of(path):
            if target != name and target != DYNAMIC:
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


def test_every_import_is_one_the_layer_check_can_follow():
    """importlib.import_module / __import__ with a name computed at run time would hide an
    edge from the layer and cycle checks: the name must be a literal."""
    dynamic = [f"{name}:{line}" for name, path in all_modules().items()
               for target, line in imports_of(path) if target == DYNAMIC]
    assert not dynamic, "imports by a computed name (use a literal):\n" + "\n".join(dynamic)


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
    ("import importlib\nm = importlib.import_module('matter_factory_data.cli.app')\n", "cli.app"),
    ("from importlib import import_module\nm = import_module('..zephyr.layout', __package__)\n",
     "zephyr.layout"),
    ("m = __import__('matter_factory_data.station.flash')\n", "station.flash"),
    ("import importlib\nm = importlib.import_module(f'matter_factory_data.{x}')\n", DYNAMIC),
])
def test_imports_are_resolved(tmp_path, monkeypatch, source, expected):
    """Relative, nested-function and absolute imports all count (in a module at jobs/x.py)."""
    module = PACKAGE / "jobs" / "_probe_for_test.py"
    monkeypatch.setattr(module.__class__, "read_text", lambda self, encoding=None: source)
    if expected == "cli.app":  # a function-level import from a deeper module
        module = PACKAGE / "station" / "batch" / "_probe_for_test.py"
    assert expected in [t for t, _ in imports_of(module)]


# --- no command-line spelling below the front ends ---------------------------------------

#: ``--option`` spellings allowed below cli/: only another program's command line, literally.
OTHER_PROGRAMS_ARGV = {
    # nrfjprog's and nrfutil's argv, built by the flash command (station/flash.py)
    "station.flash": {"--coprocessor", "--core", "--snr", "--program", "--sectorerase",
                      "--verify", "--reset", "--serial-number", "--family", "--firmware",
                      "--options", "--json", "--ids"},
    # the nrfjprog command line generate prints for flashing only the factory data
    "jobs.commands": {"To flash only the factory data: nrfjprog --program ",
                      ".hex --sectorerase --verify"},
    # nrfjprog's own hints about its options
    "station.runner": {
        "the device is protected (APPROTECT); 'nrfjprog --recover' unlocks it but erases the "
        "whole chip, firmware included",
        "no debugger with that serial number; list them with 'nrfjprog --ids'"},
    # ST's genFactoryData.py, whose behaviour a finding compares
    "formats.stm32_lint": {
        " is a second record with this tag: the device reads the first, genFactoryData "
        "--binary keeps the last",
        ": the device skips it and genFactoryData --binary drops it"},
    # west's reconfigure command
    "zephyr.build_dir": {
        "); reconfigure the build (west build --cmake-only)",
        ": not a factory data step file (no 'argv' list of strings); reconfigure the build "
        "(west build --cmake-only)"},
    "zephyr.step_request": {"); reconfigure the build (west build --cmake-only)"},
}
#: The build step's option table: the argv the module's CMake (cmake/matter_factory_data.cmake)
#: writes and records, kept below cli/ and import-free for the lean build-step entry.
ARGV_TABLES = {"zephyr.step_options"}
SPELLING = re.compile(r"--[a-z]")
#: An f-string part that ends where an option name is put in: ``f"--{name}"`` (not ``+---``).
BUILT = re.compile(r"(?:^|[^-\w])--$")


def _docstrings(tree: ast.AST) -> set:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def option_spellings(name: str, source: str) -> list[str]:
    """``module:line: text`` for every string constant (f-string parts included; docstrings,
    which document the command line, excepted) that spells an option, and every f-string
    that builds one (``f"--{name}"``)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    allowed = OTHER_PROGRAMS_ARGV.get(name, set())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings and SPELLING.search(node.value) \
                and node.value not in allowed:
            found.append(f"{name}:{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.JoinedStr):
            for part, following in zip(node.values, node.values[1:]):
                if isinstance(part, ast.Constant) and BUILT.search(str(part.value)) \
                        and isinstance(following, ast.FormattedValue):
                    found.append(f"{name}:{node.lineno}: builds an option spelling")
    return found


def test_no_command_line_spelling_below_the_front_ends():
    """Below cli/ an option is named by a Subject (``errors.OPT.vendor_id``) and rendered by
    the vocabulary of whoever reports it, never spelt ``--vendor_id``; errors.option_name is
    the command line's vocabulary itself."""
    found = []
    for name, path in all_modules().items():
        if name.split(".")[0] in ("cli", "__main__") or name in ARGV_TABLES or name == "errors":
            continue
        found += option_spellings(name, path.read_text(encoding="utf-8"))
    assert not found, "name the option with errors.OPT / Subject:\n" + "\n".join(found)


def test_the_allowlist_of_other_programs_argv_is_used():
    """Every allowed literal still exists (a stale entry would let a spelling back in)."""
    modules = all_modules()
    for name, literals in OTHER_PROGRAMS_ARGV.items():
        tree = ast.parse(modules[name].read_text(encoding="utf-8"))
        constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        assert literals <= constants, (name, literals - constants)


@pytest.mark.parametrize("source, expected", [
    ('raise InputError("--vendor_id: out of range")\n', 1),
    ('raise InputError(f"{where} (pass --overwrite)")\n', 1),
    ('raise InputError(f"--{name}: bad")\n', 1),
    ('def f():\n    """Docs may say --vendor_id."""\n', 0),
    ('raise InputError(f"{OPT.vendor_id}: out of range")\n', 0),
    ('x = "a -- b"\n', 0),
    ('x = f"+---{blue}"\n', 0),
    ('x = f"give --{name}"\n', 1),
])
def test_a_spelling_below_cli_is_found(source, expected):
    assert len(option_spellings("core.model", source)) == expected
