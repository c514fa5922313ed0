"""Where the factory_data partition of a build is: partitions.yml (Partition Manager's
output), the static pm_static.yml, the devicetree node. Every source that exists must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import OPT, InputError, PartitionError


class Source:
    """One place that says where factory_data is. ``partitions`` (devicetree sources) are
    the partitions of the same flash, factory_data included; ``flash`` its (base, size)."""

    def __init__(self, label: str, address: int, size: int, layout: Optional[Path],
                 partitions: Optional[list] = None,
                 flash: Optional[tuple[int, Optional[int]]] = None) -> None:
        self.label, self.address, self.size, self.layout = label, address, size, layout
        self.partitions, self.flash = partitions, flash


def _from_file(path: Path, option: str) -> Source:
    from .layout import FACTORY_DATA
    from .layout_check import load_layout

    if not path.is_file():
        raise InputError(f"{option} {path}: cannot read the file (it does not exist)")
    partitions = load_layout(path)
    fd = next((p for p in partitions if p.name == FACTORY_DATA), None)
    if fd is None:
        raise PartitionError(f"{path}: no factory_data partition; add 'factory_data: "
                             "{address: ..., size: 0x1000}' to it")
    return Source(str(path), fd.address, fd.size, path)


def from_devicetree(path: Path, zephyr_base: Optional[str], *, required: bool = False
                    ) -> Optional[Source]:
    """The devicetree source of a build's edt.pickle or a zephyr.dts (None: no such node)."""
    from .devicetree import ALIAS, NODE_LABEL, dt_partitions, find_partition

    layout = find_partition(path, zephyr_base)
    if layout is None:
        if required:
            raise PartitionError(f"{path}: no factory data partition: label a partition "
                                 f"{NODE_LABEL} (or give it the alias {ALIAS})")
        return None
    return Source(layout.label, layout.node.address, layout.node.size, None,
                  dt_partitions(layout), (layout.flash_base, layout.flash_size))


def resolve_partition(args) -> tuple[Source, list[Source]]:
    """The source that places factory_data, and every source (all must agree). With Partition
    Manager (``--partitions``): partitions.yml, pm_static.yml, devicetree. Without it the
    firmware reads the devicetree: devicetree, then pm_static.yml (compared with it)."""
    pm_output = []
    if args.partitions and (Path(args.partitions).is_file() or not args.check_only):
        pm_output.append(_from_file(Path(args.partitions), str(OPT.partitions)))
    pm_static = [_from_file(Path(args.pm_static), str(OPT['pm-static']))] if args.pm_static else []
    if (args.dt_address is None) != (args.dt_size is None):
        raise InputError(f"{OPT['dt-address']} and {OPT['dt-size']} go together")
    edt = getattr(args, "edt_pickle", None)
    dt = from_devicetree(Path(edt), getattr(args, "zephyr_base", None)) if edt else None
    if dt is None and args.dt_address is not None:
        dt = Source("devicetree node factory_data_partition", args.dt_address, args.dt_size,
                    None)
    devicetree = [dt] if dt is not None else []
    sources = pm_output + pm_static + devicetree if args.partitions else devicetree + pm_static
    if not sources:
        raise PartitionError("no factory_data partition: add it to pm_static.yml or label a "
                             "devicetree partition factory_data_partition")
    from ..core.validate import partition_problem

    for source in sources:
        found = partition_problem(source.address, source.size)
        if found:
            raise InputError(f"{source.label}: factory_data {found[0]}: {found[1]}")
    first = sources[0]
    for other in sources[1:]:
        if (other.address, other.size) != (first.address, first.size):
            raise PartitionError(
                f"{first.label} places factory_data at 0x{first.address:x} (size 0x{first.size:x}) "
                f"but {other.label} at 0x{other.address:x} (size 0x{other.size:x}); make them "
                "agree (a device programmed with one layout and updated with the other no "
                "longer finds its factory data)")
    return first, sources
