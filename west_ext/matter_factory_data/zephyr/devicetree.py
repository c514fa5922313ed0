"""The factory data partition of a devicetree, read with Zephyr's python-devicetree.

Sources, in this order of preference:

* a build's ``zephyr/edt.pickle`` (a pickled :class:`devicetree.edtlib.EDT`), unpickled with
  the ``devicetree`` package of the build's ``ZEPHYR_BASE``
  (``scripts/dts/python-devicetree/src``) so that the classes match the pickle;
* a ``zephyr.dts`` file, parsed with ``devicetree.dtlib`` (no bindings needed), from
  ``ZEPHYR_BASE`` when known, else the installed ``devicetree`` package (PyPI).

The partition is the node labelled ``factory_data_partition`` (nRF Connect SDK 3.4 and later,
the Matter add-on, plain Zephyr), else the node of the alias ``factory-data`` (nRF Connect SDK
up to 3.3 without Partition Manager). Addresses are absolute: ``reg`` is translated through
every parent ``ranges`` (edtlib's own translation), then offset by the flash node
(``soc-nv-flash`` or the node holding the ``fixed-partitions``) where the translation stopped
below it. Every partition under the same flash node is returned too, so that the layout
checks see the siblings (``storage_partition``, ``slot1_partition``, ...).

Nothing here prints or exits; problems raise :class:`~matter_factory_data.errors.InputError`
or :class:`~matter_factory_data.errors.PartitionError` with one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple, Optional

from ..errors import OPT, InputError, PartitionError

NODE_LABEL = "factory_data_partition"
ALIAS = "factory-data"
SETTINGS_LABEL = "storage_partition"
PYTHON_DEVICETREE = ("scripts", "dts", "python-devicetree", "src")
FLASH_COMPATS = ("soc-nv-flash",)


class DtPartition(NamedTuple):
    name: str  # first label, else the node name
    path: str
    address: int  # absolute
    size: int
    children: tuple[str, ...] = ()  # names of nested partitions (a container)


class DtLayout(NamedTuple):
    """What the checks need: the partition, its siblings, the flash it lives in."""

    source: str  # the file read
    node: DtPartition  # the factory data partition
    found_by: str  # "node label factory_data_partition" or "alias factory-data"
    partitions: tuple[DtPartition, ...]  # every partition of the same flash, node included
    flash_path: str
    flash_base: int
    flash_size: Optional[int]

    @property
    def label(self) -> str:
        """How messages name this source."""
        return f"devicetree {self.found_by} ({self.node.path} in {self.source})"


def _use_zephyr_base(zephyr_base: Optional[str]) -> None:
    """Put ZEPHYR_BASE's python-devicetree first on sys.path (before any import of it)."""
    if not zephyr_base:
        return
    src = Path(zephyr_base, *PYTHON_DEVICETREE)
    if not src.is_dir():
        raise InputError(f"ZEPHYR_BASE {zephyr_base}: no {Path(*PYTHON_DEVICETREE)} there; give "
                         "the zephyr directory of the workspace the build used")
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    loaded = sys.modules.get("devicetree")
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(str(src)):
        for name in [m for m in sys.modules if m == "devicetree" or m.startswith("devicetree.")]:
            del sys.modules[name]


def _import(what: str, zephyr_base: Optional[str], source: str):
    _use_zephyr_base(zephyr_base)
    try:
        if what == "edtlib":
            from devicetree import edtlib as module
        else:
            from devicetree import dtlib as module
    except ImportError:
        raise InputError(f"{source}: Zephyr's python-devicetree is needed to read it; set "
                         f"ZEPHYR_BASE (or {OPT['zephyr-base']}) to the zephyr directory, or pip "
                         "install devicetree") from None
    return module


# --- nodes: one view over edtlib and dtlib nodes ------------------------------------------

class _Node:
    """The little the checks use of a node; ``regs`` translated through parent ``ranges``."""

    def __init__(self, raw, edt: bool) -> None:
        self.raw, self.edt = raw, edt
        self.dt = raw._node if edt else raw  # the dtlib node

    @property
    def path(self) -> str:
        return self.dt.path

    @property
    def name(self) -> str:
        return self.dt.labels[0] if self.dt.labels else self.dt.name

    @property
    def parent(self) -> Optional[_Node]:
        parent = self.raw.parent
        return None if parent is None else _Node(parent, self.edt)

    @property
    def children(self) -> list[_Node]:
        kids = self.raw.children if self.edt else self.raw.nodes
        return [_Node(c, self.edt) for c in kids.values()]

    @property
    def compats(self) -> list[str]:
        prop = self.dt.props.get("compatible")
        return prop.to_strings() if prop is not None else []

    @property
    def okay(self) -> bool:
        prop = self.dt.props.get("status")
        return prop is None or prop.to_string() in ("okay", "ok")

    @property
    def has_ranges(self) -> bool:
        return "ranges" in self.dt.props

    def regs(self, edtlib) -> list[tuple[int, int]]:
        if self.edt:
            return [(r.addr or 0, r.size or 0) for r in self.raw.regs]
        prop = self.dt.props.get("reg")
        if prop is None or self.dt.parent is None:
            return []
        acells = edtlib._address_cells(self.dt)
        scells = edtlib._size_cells(self.dt)
        nums, step, regs = prop.to_nums(), acells + scells, []
        for i in range(0, len(nums) - step + 1, step):
            addr = _cells(nums[i:i + acells])
            size = _cells(nums[i + acells:i + step])
            regs.append((edtlib._translate(addr, self.dt), size))
        return regs

    def same(self, other: Optional[_Node]) -> bool:
        return other is not None and self.path == other.path


def _cells(values: list[int]) -> int:
    result = 0
    for value in values:
        result = (result << 32) | value
    return result


# --- loading ------------------------------------------------------------------------------

def load_tree(path: Path, zephyr_base: Optional[str] = None):
    """(edtlib or dtlib module, root-lookup tables) for an ``edt.pickle`` or a ``.dts``."""
    source = str(path)
    if not path.is_file():
        raise InputError(f"{source}: no such devicetree file (give a build's zephyr/edt.pickle "
                         "or zephyr.dts)")
    if path.suffix == ".pickle":
        import pickle

        edtlib = _import("edtlib", zephyr_base, source)
        try:
            with path.open("rb") as f:
                edt = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, OSError,
                ValueError, TypeError) as exc:
            raise InputError(f"{source}: cannot read the pickled devicetree ({exc}); it must be "
                             "a build's zephyr/edt.pickle, read with the python-devicetree of "
                             "the same ZEPHYR_BASE") from None
        if not hasattr(edt, "label2node") or not hasattr(edt, "_dt"):
            raise InputError(f"{source}: not a pickled edtlib.EDT")
        labels = {k: _Node(v, True) for k, v in edt.label2node.items()}
        enodes = {n.path: n for n in edt.nodes}
        aliases = {k: _Node(enodes[v.path], True) for k, v in edt._dt.alias2node.items()
                   if v.path in enodes}
        return edtlib, labels, aliases
    dtlib = _import("dtlib", zephyr_base, source)
    edtlib = _import("edtlib", zephyr_base, source)
    try:
        dt = dtlib.DT(source)
    except (dtlib.DTError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: not a devicetree source ({exc})") from None
    labels = {k: _Node(v, False) for k, v in dt.label2node.items()}
    aliases = {k: _Node(v, False) for k, v in dt.alias2node.items()}
    return edtlib, labels, aliases


def find_partition(path: Path, zephyr_base: Optional[str] = None) -> Optional[DtLayout]:
    """The factory data partition of a devicetree with its siblings, or None if it has none."""
    edtlib, labels, aliases = load_tree(path, zephyr_base)
    if NODE_LABEL in labels:
        node, found_by = labels[NODE_LABEL], f"node label {NODE_LABEL}"
    elif ALIAS in aliases:
        node, found_by = aliases[ALIAS], f"alias {ALIAS}"
    else:
        return None
    source = str(path)
    if not node.okay:
        raise PartitionError(f"{source}: {found_by} ({node.path}) has status disabled; enable "
                             "it or remove the label")
    flash, top = _flash_of(node)
    if flash is None:
        raise PartitionError(f"{source}: {found_by} ({node.path}) is not inside a flash node "
                             "with fixed-partitions; put it under &flash0 { partitions { ... } }")
    flash_regs = flash.regs(edtlib)
    flash_base = flash_regs[0][0] if flash_regs else 0
    flash_size = flash_regs[0][1] if flash_regs and flash_regs[0][1] else None
    assert top is not None  # a flash node is found through its partitions container
    parts = []
    for part in _walk(top):
        regs = part.regs(edtlib)
        if not regs:
            continue
        address = _absolute(part, regs[0][0], flash, flash_base, edtlib)
        children = tuple(c.name for c in part.children if c.regs(edtlib))
        parts.append(DtPartition(part.name, part.path, address, regs[0][1], children))
    mine = next((p for p in parts if p.path == node.path), None)
    if mine is None:
        raise PartitionError(f"{source}: {found_by} ({node.path}) has no reg; give it "
                             "'reg = <ADDRESS SIZE>;'")
    return DtLayout(source, mine, found_by, tuple(parts), flash.path, flash_base, flash_size)


def _flash_of(node: _Node) -> tuple[Optional[_Node], Optional[_Node]]:
    """The flash node above ``node`` (``soc-nv-flash``, else the parent of the outermost
    ``fixed-partitions``) and the partitions container under it on the way to ``node``."""
    child, parent, outermost = node, node.parent, None
    while parent is not None:
        if any(c in FLASH_COMPATS for c in parent.compats):
            return parent, child
        if "fixed-partitions" in parent.compats:
            outermost = parent
        child, parent = parent, parent.parent
    if outermost is not None and outermost.parent is not None:
        return outermost.parent, outermost
    return None, None


def _walk(top: _Node):
    for child in top.children:
        if child.okay:
            yield child
            yield from _walk(child)


def _absolute(node: _Node, addr: int, flash: _Node, flash_base: int, edtlib) -> int:
    """``addr`` (edtlib-translated ``reg``) as an absolute address: the translation stops at
    the first ancestor without ``ranges``; add the base of that ancestor's address space."""
    stop = node.parent
    while stop is not None and stop.has_ranges:
        stop = stop.parent
    if stop is None:
        return addr
    if stop.same(flash):
        return addr + flash_base
    if not _below(stop, flash):  # translated through the flash node: already absolute
        return addr
    return addr + _space_base(stop, flash, flash_base, edtlib)


def _space_base(node: _Node, flash: _Node, flash_base: int, edtlib) -> int:
    """Absolute address where the child address space of ``node`` starts."""
    if node.same(flash):
        return flash_base
    regs = node.regs(edtlib)
    if regs:
        return _absolute(node, regs[0][0], flash, flash_base, edtlib)
    parent = node.parent
    return 0 if parent is None else _space_base(parent, flash, flash_base, edtlib)


def _below(node: _Node, ancestor: _Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.same(ancestor):
            return True
        parent = parent.parent
    return False


def find_layout(path: Path, zephyr_base: Optional[str] = None, *,
                required: bool = False) -> Optional[DtLayout]:
    """:func:`find_partition`, refusing a devicetree without the partition when ``required``."""
    layout = find_partition(path, zephyr_base)
    if layout is None and required:
        raise PartitionError(f"{path}: no factory data partition: label a partition "
                             f"{NODE_LABEL} (or give it the alias {ALIAS})")
    return layout


def zephyr_base_of(build_dir: Path) -> Optional[str]:
    """ZEPHYR_BASE of a build (its CMakeCache.txt), else the environment."""
    cache = build_dir / "CMakeCache.txt"
    if cache.is_file():
        for line in cache.read_text("utf-8", "replace").splitlines():
            if line.startswith("ZEPHYR_BASE:"):
                return line.partition("=")[2] or None
    return os.environ.get("ZEPHYR_BASE") or None


def dt_partitions(layout) -> list:
    """The partitions of a :class:`~.devicetree.DtLayout` as layout rows (factory_data under
    its layout name, nested partitions as containers)."""
    from .layout import FACTORY_DATA, Partition

    fd = layout.node.name

    def name(text: str) -> str:
        return FACTORY_DATA if text == fd else text

    return [Partition(name(p.name), p.address, p.size, span=tuple(name(c) for c in p.children))
            for p in layout.partitions]
