"""``flash``: program only the factory data hex, erasing only the pages it covers.

The hex comes from ``--hex FILE`` or a build directory; the SoC family from ``--family`` or
the build's ``zephyr/.config``. The commands are plain argv lists run through
:class:`~matter_factory_data.runner.Runner` (``--dry-run`` prints them and runs nothing).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple, Optional

from . import build_dir
from .core import hexfile
from .credentials import read_file
from .errors import InputError
from .runner import Runner

#: Erase unit of the internal flash/RRAM on every supported family (nrf-connect.md §14).
PAGE_SIZE = 0x1000
TOOLS = ("nrfjprog", "nrfutil")
#: Families nrfjprog can program (it predates nRF54L).
NRFJPROG_FAMILIES = ("NRF52", "NRF53", "NRF91")


class Target(NamedTuple):
    hex_file: Path
    family: Optional[str]


def nrfjprog_commands(hex_file: Path, family: str, snr: Optional[str],
                      reset: bool) -> list[list[str]]:
    """Program with a page (sector) erase and read-back verify, then a soft reset."""
    select = ["-f", family] + (["--snr", snr] if snr else [])
    commands = [["nrfjprog", "--program", str(hex_file), "--sectorerase", "--verify", *select]]
    if reset:
        commands.append(["nrfjprog", "--reset", *select])
    return commands


def nrfutil_commands(hex_file: Path, snr: Optional[str], reset: bool) -> list[list[str]]:
    """Program erasing only the touched ranges, verify by reading back, then reset."""
    select = ["--serial-number", snr] if snr else []
    commands = [["nrfutil", "device", "program", "--firmware", str(hex_file), "--options",
                 "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE,verify=VERIFY_READ", *select]]
    if reset:
        commands.append(["nrfutil", "device", "reset", *select])
    return commands


def erase_ranges(segments: list[tuple[int, bytes]],
                 page_size: int = PAGE_SIZE) -> list[tuple[int, int]]:
    """The page-aligned ``[start, end)`` ranges the segments touch, merged."""
    ranges: list[tuple[int, int]] = []
    for start, data in segments:
        first = start - start % page_size
        end = -(-(start + len(data)) // page_size) * page_size
        if ranges and first <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(end, ranges[-1][1]))
        else:
            ranges.append((first, end))
    return ranges


def check_segments(segments: list[tuple[int, bytes]], source: str) -> None:
    """Refuse an empty hex, or one whose data starts inside a page (its head would be lost)."""
    segments = [(start, data) for start, data in segments if data]
    if not segments:
        raise InputError(f"{source}: the hex file holds no data; nothing to flash")
    start = segments[0][0]
    if start % PAGE_SIZE:
        page = start - start % PAGE_SIZE
        raise InputError(f"{source}: data starts at 0x{start:x}, not on a {PAGE_SIZE // 1024} KiB "
                         f"page boundary; the page erase would also wipe 0x{page:x}..0x{start:x} "
                         "(the factory_data partition must be page-aligned)")


def describe_ranges(ranges: list[tuple[int, int]]) -> str:
    pages = sum((end - start) // PAGE_SIZE for start, end in ranges)
    where = ", ".join(f"0x{start:x}..0x{end - 1:x}" for start, end in ranges)
    return f"pages to erase: {where} ({pages} page{'s' if pages != 1 else ''} of " \
           f"{PAGE_SIZE // 1024} KiB)"


def locate(args: argparse.Namespace) -> Target:
    """The hex to flash and the family (None when neither given nor in a build dir)."""
    family = args.family.upper() if args.family else None
    if args.hex:
        return Target(Path(args.hex), family)
    app = build_dir.app_build_dir(build_dir.find_build_dir(args.build_dir))
    hex_file = build_dir.factory_data_hex(app)
    return Target(hex_file, family or build_dir.build_family(app))


def choose_tool(args: argparse.Namespace, runner: Runner) -> str:
    if args.tool:
        return args.tool
    return "nrfjprog" if runner.find("nrfjprog") else "nrfutil"


def commands_for(tool: str, target: Target, args: argparse.Namespace) -> list[list[str]]:
    reset = not args.no_reset
    if tool == "nrfutil":
        return nrfutil_commands(target.hex_file, args.snr, reset)
    if target.family is None:
        raise InputError("nrfjprog needs the SoC family: give --family "
                         f"({', '.join(NRFJPROG_FAMILIES)}) or -d BUILD_DIR")
    if target.family not in NRFJPROG_FAMILIES:
        raise InputError(f"nrfjprog cannot program {target.family} devices; use --tool nrfutil")
    return nrfjprog_commands(target.hex_file, target.family, args.snr, reset)


def flash_command(args: argparse.Namespace, ui) -> int:
    target = locate(args)
    source = str(target.hex_file)
    segments = hexfile.from_hex_text(read_file(target.hex_file, "hex file")
                                     .decode("ascii", "replace"), source)
    check_segments(segments, source)
    runner = Runner(args.dry_run, ui)
    tool = choose_tool(args, runner)
    commands = commands_for(tool, target, args)
    runner.require(tool)
    size = sum(len(data) for _, data in segments)
    ui.info(f"factory data: {source} ({size} bytes at 0x{segments[0][0]:x})")
    ui.info(describe_ranges(erase_ranges(segments)))
    for argv in commands:
        runner.run(argv)
    if not args.dry_run:
        ui.info("factory data flashed" + ("" if args.no_reset else "; device reset"))
    return 0
