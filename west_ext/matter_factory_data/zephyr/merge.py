"""``merge``: the firmware hex plus the factory data hex, as one hex to program.

In a west build directory every input defaults to what the build uses: the firmware hex and
the output ``merged.hex`` recorded in the build's factory data step (else
``zephyr/zephyr.hex`` and ``zephyr/merged.hex`` of the app build), the build's
``factory_data.hex``, and the factory_data partition the step resolves. Outside a build, the
range the firmware must keep clear is the flash pages the factory data covers.

:func:`merge_images` is the merge itself, byte for byte what the build's merged.hex holds.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import NamedTuple, Optional

from ..errors import OPT, InputError, PartitionError
from ..typed import Request

#: Erase unit of the internal flash/RRAM of every supported nRF family; outside a build the
#: factory data partition is taken to be the pages its hex covers.
PAGE_SIZE = 0x1000


class MergeInputs(NamedTuple):
    firmware: Path
    factory_data: Path
    output: Path
    partition: Optional[tuple[int, int]]  # (address, size) from the build, else None
    overwrite: bool
    note: str = ""


def load_hex(text: str, label: str):
    """An IntelHex object of ``text``; refuses non-HEX text and files without data."""
    from intelhex import IntelHex, IntelHexError

    image = IntelHex()
    try:
        image.loadhex(io.StringIO(text))
    except (IntelHexError, ValueError) as exc:
        raise InputError(f"{label}: not a valid Intel HEX file ({exc})") from None
    if not image.segments():
        raise InputError(f"{label}: the Intel HEX file holds no data")
    return image


def page_range(segments: list[tuple[int, int]], page_size: int = PAGE_SIZE) -> tuple[int, int]:
    """``(address, size)`` of the pages ``[start, end)`` segments cover, from first to last."""
    start = min(s for s, _ in segments)
    end = max(e for _, e in segments)
    first = start - start % page_size
    return first, -(-end // page_size) * page_size - first


def merge_images(firmware_text: str, factory_text: str, address: int, size: int, *,
                 firmware_label: str, factory_label: str = "factory data hex",
                 region: str = "factory_data") -> bytes:
    """The firmware plus the factory data as Intel HEX text (16-byte records, LF, start
    address kept); refuses firmware data inside ``[address, address + size)``."""
    firmware = load_hex(firmware_text, firmware_label)
    end = address + size
    for start, stop in firmware.segments():
        if start < end and stop > address:
            raise PartitionError(f"{firmware_label}: the firmware has data at "
                                 f"0x{max(start, address):x}, inside {region} (0x{address:x}.."
                                 f"0x{end:x}); the firmware overlaps the partition")
    data = load_hex(factory_text, factory_label)
    for start, stop in data.segments():
        if start < address or stop > end:
            raise PartitionError(f"{factory_label}: data at 0x{start:x}..0x{stop:x} lies outside "
                                 f"{region} (0x{address:x}..0x{end:x}); regenerate it for this "
                                 "build")
    firmware.merge(data, overlap="error")
    out = io.StringIO()
    firmware.write_hex_file(out, write_start_addr=True)
    return out.getvalue().encode("ascii")


# --- the command -------------------------------------------------------------------

class MergeRequest(Request):
    """``merge``: firmware hex + factory data hex; a build directory fills what is not given."""

    build_dir: Optional[str] = None
    firmware: Optional[str] = None
    factory_data: Optional[str] = None
    output: Optional[str] = None
    overwrite: bool = False


def _read_text(path: Path, option: str) -> str:
    from ..files.inputs import read_file

    try:
        return read_file(path, option).decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{option} {path}: not an Intel HEX file (non-ASCII content)") from None


def _from_build(args: MergeRequest) -> MergeInputs:
    """Fill what was not given from the build directory (and its recorded step, if any)."""
    from . import build_dir
    from .partition_sources import resolve_partition
    from .step_request import recorded

    build = build_dir.find_build_dir(
        args.build_dir or None,
        hint=f"give -d BUILD_DIR, or {OPT.firmware}, {OPT['factory-data']} and -o/{OPT.output}")
    app = build_dir.app_build_dir(build)
    step = recorded(app) if (app / build_dir.STEP_FILE).is_file() else None
    partition = None
    if step is not None:
        source, _ = resolve_partition(step)
        partition = (source.address, source.size)
    recorded_firmware = step.firmware_hex if step is not None else None
    recorded_output = step.merged_hex if step is not None else None
    firmware = args.firmware or recorded_firmware or app / "zephyr" / "zephyr.hex"
    factory = args.factory_data or build_dir.factory_data_hex(
        app, hint=f"give {OPT['factory-data']} HEX")
    output = args.output or recorded_output or app / "zephyr" / "merged.hex"
    note = ""
    if step is not None and step.partitions and not step.merged_hex and not args.output:
        note = ("note: in this build Partition Manager merges the factory data into the "
                "merged.hex that west flash programs; the file written here holds only the "
                "application image and the factory data")
    # The build's own merged.hex is the build's to replace: that is what this command is for.
    return MergeInputs(Path(firmware), Path(factory), Path(output), partition,
                       args.overwrite or not args.output, note)


def locate(args: MergeRequest) -> MergeInputs:
    if args.build_dir is None and args.firmware and args.factory_data and args.output:
        return MergeInputs(Path(args.firmware), Path(args.factory_data), Path(args.output),
                           None, args.overwrite)
    return _from_build(args)


def merge_command(args: MergeRequest, ui) -> int:
    from ..files.outputs import OutputSet

    inputs = locate(args)
    firmware_label = f"{OPT.firmware} {inputs.firmware}"
    factory_label = f"{OPT['factory-data']} {inputs.factory_data}"
    firmware_text = _read_text(inputs.firmware, str(OPT.firmware))
    factory_text = _read_text(inputs.factory_data, str(OPT['factory-data']))
    if inputs.partition is not None:
        (address, size), region = inputs.partition, "factory_data"
    else:
        address, size = page_range(load_hex(factory_text, factory_label).segments())
        region = "the factory data pages"
    merged = merge_images(firmware_text, factory_text, address, size,
                          firmware_label=firmware_label, factory_label=factory_label,
                          region=region)
    outputs = OutputSet(overwrite=inputs.overwrite)
    outputs.add(inputs.output, merged, what="merged firmware and factory data")
    outputs.commit()
    ui.info(f"merged {inputs.firmware} and {inputs.factory_data} (factory data in "
            f"0x{address:x}..0x{address + size:x}) -> {inputs.output}")
    if inputs.note:
        ui.info(inputs.note)
    return 0
