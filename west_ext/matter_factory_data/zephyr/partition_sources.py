"""Where the factory_data partition of a build is: partitions.yml (Partition Manager's
output), the static pm_static.yml, the devicetree node. Every source that exists must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import InputError, PartitionError


class Source:
    def __init__(self, label: str, address: int, size: int, layout: Optional[Path]) -> None:
        self.label, self.address, self.size, self.layout = label, address, size, layout


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


def resolve_partition(args) -> tuple[Source, list[Source]]:
    """The first existing source (partitions.yml, pm_static.yml, devicetree), and all of them."""
    sources = []
    if args.partitions and (Path(args.partitions).is_file() or not args.check_only):
        sources.append(_from_file(Path(args.partitions), "--partitions"))
    if args.pm_static:
        sources.append(_from_file(Path(args.pm_static), "--pm-static"))
    if (args.dt_address is None) != (args.dt_size is None):
        raise InputError("--dt-address and --dt-size go together")
    if args.dt_address is not None:
        sources.append(Source("devicetree node factory_data_partition", args.dt_address,
                              args.dt_size, None))
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
                "agree")
    return first, sources
