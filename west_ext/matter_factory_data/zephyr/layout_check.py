"""``check``: the flash layout checks of the factory_data partition, on files or a build dir.

Reads a ``pm_static.yml`` / ``partitions.yml`` (or finds one in a build directory with the
SoC, firmware ELF, factory data image and write-protect setting next to it), runs
:func:`~matter_factory_data.core.layout.check_layout`, prints the Partition Manager report
and every finding, and raises :class:`~matter_factory_data.errors.PartitionError` when
any finding is an error.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any, NamedTuple, Optional

from ..errors import OPT, InputError, PartitionError
from ..files.inputs import read_file
from ..typed import Request
from .build_dir import app_build_dir, read_kconfig
from .layout import (
    ERROR,
    FACTORY_DATA,
    Finding,
    LoadSection,
    Partition,
    check_layout,
    draw_report,
    parse_layout,
    soc_info,
)


class CheckInputs(NamedTuple):
    """What to check, after the build directory (if any) was searched."""

    layout: Path
    soc: str
    data: Optional[Path] = None
    elf: Optional[Path] = None
    write_protect: bool = False
    also_draw: tuple[Path, ...] = ()  # other domains' partitions_<DOMAIN>.yml
    devicetree: Any = None  # a devicetree.DtLayout
    write_protect_note: str = ""  # why the fprotect check is off, for the report


class CheckResult(NamedTuple):
    partitions: list[Partition]
    findings: list[Finding]
    image_size: Optional[int]


# --- reading inputs ------------------------------------------------------------

def load_layout(path: Path) -> list[Partition]:
    """The partitions of a pm_static.yml / partitions.yml file (YAML anchors resolved)."""
    from ..files.inputs import parse_yaml

    data = parse_yaml(read_file(path, "layout file"), str(path))
    return parse_layout(data, source=str(path))


def load_image(path: Path, address: int) -> tuple[int, Optional[int]]:
    """Size (terminator included) and, for a .hex, start address of a factory data image."""
    from ..formats import hexfile

    raw = read_file(path, OPT.data)
    suffix = path.suffix.lower()
    if suffix == ".json":
        raise InputError(f"{OPT.data} {path}: give the .bin or .hex image, not the JSON (make it "
                         "with the partition command)")
    if suffix not in (".hex", ".ihex"):
        return len(raw), None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{OPT.data} {path}: not an Intel HEX file (non-ASCII content)") from None
    segments = hexfile.from_hex_text(text, f"{OPT.data} {path}")
    if len(segments) == 1:
        return len(segments[0][1]), segments[0][0]
    start, data = hexfile.segment_at(segments, address, f"{OPT.data} {path}")
    return len(data), start


def load_elf_sections(path: Path) -> list[LoadSection]:
    """Sections of ``path`` that occupy flash (allocated, with contents), at their LMA."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    raw = read_file(path, OPT.elf)
    try:
        elf = ELFFile(io.BytesIO(raw))
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        return [LoadSection(sec.name, _load_address(sec, loads), sec["sh_size"])
                for sec in elf.iter_sections()
                if sec["sh_flags"] & SH_FLAGS.SHF_ALLOC and sec["sh_type"] != "SHT_NOBITS"
                and sec["sh_size"]]
    except (ELFError, ValueError, OSError, KeyError, IndexError, AssertionError) as exc:
        raise InputError(f"{OPT.elf} {path}: not a readable ELF file ({exc}); give the firmware's "
                         "zephyr.elf") from None


def _load_address(section, loads) -> int:
    """Where ``section`` is stored in flash: its segment's physical address (LMA)."""
    for segment in loads:
        if segment.section_in_segment(section):
            return section["sh_addr"] - segment["p_vaddr"] + segment["p_paddr"]
    return section["sh_addr"]


def soc_from_kconfig(config: dict[str, str]) -> Optional[str]:
    """CONFIG_SOC, with the core of an nRF5340 from CONFIG_SOC_NRF5340_CPU*."""
    soc = config.get("CONFIG_SOC")
    if not soc:
        return None
    if soc.lower().startswith("nrf5340") and "cpu" not in soc.lower():
        net = any(k.startswith("CONFIG_SOC_NRF5340_CPUNET") and v == "y"
                  for k, v in config.items())
        return "nrf5340_cpunet" if net else "nrf5340_cpuapp"
    return soc


# --- build directories -----------------------------------------------------------

class CheckRequest(Request):
    """``check``: a build directory, or a layout file with its SoC and optional files."""

    build_dir: Optional[str] = None
    pm_static: Optional[str] = None
    partitions: Optional[str] = None
    soc: Optional[str] = None
    data: Optional[str] = None
    elf: Optional[str] = None
    write_protect: Optional[bool] = None
    quiet: bool = False
    devicetree: Optional[str] = None
    zephyr_base: Optional[str] = None


def inputs_from_build_dir(build_dir: Path, args: CheckRequest) -> CheckInputs:
    from .devicetree import find_layout, zephyr_base_of

    if not build_dir.is_dir():
        raise InputError(f"-d/{OPT['build-dir']} {build_dir}: not a directory; give the "
                         "directory of 'west build -d'")
    app = app_build_dir(build_dir)
    layout = next((p for p in (build_dir / "partitions.yml", app / "partitions.yml")
                   if p.is_file()), None)
    pickle = app / "zephyr" / "edt.pickle"
    dt = None
    if pickle.is_file():
        dt = find_layout(pickle, args.zephyr_base or zephyr_base_of(app),
                         required=layout is None)
    if layout is None and dt is None:
        raise InputError(f"{build_dir}: no partitions.yml (looked in {build_dir} and {app}) and "
                         f"no devicetree ({pickle}); build it first, or check a layout file "
                         f"with {OPT['pm-static']} FILE {OPT.soc} SOC or {OPT.devicetree} "
                         f"zephyr.dts {OPT.soc} SOC")
    config_path = app / "zephyr" / ".config"
    config = read_kconfig(config_path) if config_path.is_file() else {}
    soc = args.soc or soc_from_kconfig(config)
    if not soc:
        raise InputError(f"{config_path}: no CONFIG_SOC to tell the SoC; give {OPT.soc} "
                         f"(e.g. {OPT.soc} nrf52840)")
    write_protect, note = args.write_protect, ""
    if write_protect is None:
        write_protect = config.get("CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT") == "y"
        if not write_protect:
            note = f"CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT is not set in {config_path}"
    elif not write_protect:
        note = str(OPT['no-write-protect'])
    return CheckInputs(layout or pickle, soc,
                       _existing(args.data, app / "zephyr" / "factory_data.bin"),
                       _existing(args.elf, app / "zephyr" / "zephyr.elf"), write_protect,
                       tuple(sorted(build_dir.glob("partitions_*.yml"))), dt, note)


def _existing(given: Optional[str], default: Path) -> Optional[Path]:
    if given:
        return Path(given)
    return default if default.is_file() else None


def inputs_from_args(args: CheckRequest) -> CheckInputs:
    from .devicetree import find_layout

    if args.build_dir is not None:  # a bare -d ("") finds the build as west build does
        from .build_dir import find_build_dir

        build = find_build_dir(args.build_dir or None, hint="give -d BUILD_DIR") \
            if args.build_dir == "" else Path(args.build_dir)
        return inputs_from_build_dir(build, args)
    layout: Optional[str]
    if args.devicetree is not None:
        option, layout = str(OPT.devicetree), args.devicetree
    elif args.pm_static is not None:
        option, layout = str(OPT['pm-static']), args.pm_static
    else:
        option, layout = str(OPT.partitions), args.partitions
    if not layout:
        raise InputError(f"{option}: an empty path is not a file (give the layout file)")
    if not args.soc:
        raise InputError(f"{option} {layout}: give {OPT.soc} too (e.g. {OPT.soc} nrf52840; the "
                         "page size and flash size depend on it)")
    dt = find_layout(Path(layout), args.zephyr_base, required=True) \
        if args.devicetree else None
    # The firmware's default is write protection on: check the fprotect rule where the SoC has
    # it, unless asked not to; say when it is skipped.
    info = soc_info(args.soc, source=str(OPT.soc))
    write_protect, note = args.write_protect, ""
    if write_protect is None:
        write_protect = info.write_protect
        if not write_protect:
            note = (f"{info.name} has no factory data write protection"
                    + (" (nRF54L: CHIP_FACTORY_DATA_WRITE_PROTECT depends on "
                       "!SOC_SERIES_NRF54L)" if info.family == "nrf54l" else ""))
    elif not write_protect:
        note = str(OPT['no-write-protect'])
    return CheckInputs(Path(layout), args.soc, Path(args.data) if args.data else None,
                       Path(args.elf) if args.elf else None, write_protect, (), dt, note)


# --- the command -------------------------------------------------------------------

def check_files(inputs: CheckInputs) -> CheckResult:
    """Read every input of ``inputs`` and run the layout checks (the build step calls this)."""
    soc = soc_info(inputs.soc, source=str(OPT.soc))
    dt = inputs.devicetree
    if dt is not None and inputs.layout.suffix not in (".yml", ".yaml"):
        from .devicetree import dt_partitions

        partitions = dt_partitions(dt)
        if dt.flash_size:
            soc = soc._replace(flash_base=dt.flash_base, flash_size=dt.flash_size)
    else:
        partitions = load_layout(inputs.layout)
    fd = next((p for p in partitions if p.name == FACTORY_DATA), None)
    image_size = image_address = None
    if inputs.data is not None and fd is not None:
        image_size, image_address = load_image(inputs.data, fd.address)
    sections = load_elf_sections(inputs.elf) if inputs.elf is not None else []
    findings = check_layout(partitions, soc=soc, image_size=image_size,
                            image_address=image_address, write_protect=inputs.write_protect,
                            elf_segments=sections)
    if dt is not None and fd is not None and inputs.layout.suffix in (".yml", ".yaml") and \
            (dt.node.address, dt.node.size) != (fd.address, fd.size):
        findings.insert(0, Finding(
            ERROR, f"{inputs.layout} places factory_data at 0x{fd.address:x} (size "
                   f"0x{fd.size:x}) but {dt.label} at 0x{dt.node.address:x} (size "
                   f"0x{dt.node.size:x})",
            "make them agree: a device programmed with one layout and updated with the other "
            "no longer finds its factory data (e.g. Partition Manager's 0xfb000 and the "
            "devicetree default 0xf7000 of nRF Connect SDK 3.4)"))
    return CheckResult(partitions, findings, image_size)


def domain_of(path: Path) -> str:
    """``CPUNET`` for ``partitions_CPUNET.yml``; empty for any other name."""
    match = re.fullmatch(r"partitions_(.+)\.ya?ml", path.name)
    return match.group(1) if match else ""


def _use_colour(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.name != "nt" and "NO_COLOR" not in os.environ


def _describe(inputs: CheckInputs, soc: str) -> str:
    extras = [f"image {inputs.data}" if inputs.data else "",
              f"firmware {inputs.elf}" if inputs.elf else "",
              "write protection on" if inputs.write_protect else ""]
    if inputs.devicetree is not None:
        extras.insert(0, inputs.devicetree.label)
    extra = ", ".join(e for e in extras if e)
    return f"checking {inputs.layout} for {soc}" + (f" ({extra})" if extra else "")


def _success(result: CheckResult, soc: str) -> str:
    fd = next(p for p in result.partitions if p.name == FACTORY_DATA)
    used = "" if result.image_size is None else f", image {result.image_size} of {fd.size} bytes"
    return f"layout OK: {fd.where()} on {soc}{used}"


def run_check(args: CheckRequest, ui) -> int:
    inputs = inputs_from_args(args)
    soc = soc_info(inputs.soc, source=str(OPT.soc)).name
    result = check_files(inputs)
    if not args.quiet:
        ui.info(_describe(inputs, soc))
        colour = _use_colour(ui.out)
        ui.info(draw_report(result.partitions, domain_of(inputs.layout), colour=colour)
                .rstrip("\n"))
        for other in inputs.also_draw:
            ui.info(draw_report(load_layout(other), domain_of(other), colour=colour).rstrip("\n"))
    for finding in result.findings:
        report = ui.error if finding.severity == ERROR else ui.warn
        report(f"{inputs.layout}: {finding.line}")
    errors = sum(f.severity == ERROR for f in result.findings)
    if errors:
        raise PartitionError(f"{inputs.layout}: layout check failed with {errors} "
                             f"error{'s' if errors > 1 else ''}")
    if not args.quiet:
        if inputs.write_protect_note:
            ui.info(f"write protection check skipped: {inputs.write_protect_note}")
        ui.info(_success(result, soc))
    return 0
