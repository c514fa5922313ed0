"""Flash layout checks of the ``factory_data`` partition (Partition Manager layouts).

Pure functions over data the caller has already read: ``parse_layout`` turns the mapping
of a ``pm_static.yml`` or a build's ``partitions.yml`` into :class:`Partition` rows,
``check_layout`` returns :class:`Finding` rows, and ``draw_report`` renders the layout the
way ``west build -t partition_manager_report`` does. Nothing here prints, exits or reads
files; malformed input raises :class:`~matter_factory_data.errors.InputError`.

Ranges are written ``0xSTART..0xEND`` with END exclusive (Partition Manager's
``end_address``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Optional, Union

from ..errors import OPT, InputError

FACTORY_DATA = "factory_data"
SETTINGS = "settings_storage"
DT_SETTINGS = "storage_partition"  # the settings partition of a devicetree layout
DEFAULT_REGION = "flash_primary"
EXTERNAL_REGION = "external_flash"
EXTERNAL_SECTOR = 0x1000  # erase sector of the usual external NOR flashes (MX25R64, ...)
PARSER_SIZE_LIMIT = 0x10000  # ParseFactoryData() takes the size as uint16_t
# Partitions the firmware writes at run time: an fprotect block over them breaks the writer.
WRITABLE = ("mcuboot_secondary", "nvs_storage", "littlefs_storage", "zboss_nvram",
            "zboss_product_config", "tfm_its", "tfm_ps", "tfm_otp_nv_counters")
ERROR = "error"
WARNING = "warning"


# --- data types ----------------------------------------------------------------

class Partition(NamedTuple):
    """One Partition Manager entry; ``span`` lists the members of a container."""

    name: str
    address: int
    size: int
    region: str = DEFAULT_REGION
    span: tuple[str, ...] = ()
    device: str = ""

    @property
    def end(self) -> int:
        return self.address + self.size

    @property
    def is_container(self) -> bool:
        return bool(self.span)

    def where(self) -> str:
        """``name (0xSTART..0xEND)``, the form every message uses."""
        return f"{self.name} ({_range(self.address, self.end)})"


class SocInfo(NamedTuple):
    """Non-volatile memory facts of one SoC (nrf-connect.md section 14)."""

    name: str
    family: str
    page_size: int  # erase unit of the internal flash; RRAM/MRAM: see SOCS
    fprotect_block: Optional[int]  # CONFIG_FPROTECT_BLOCK_SIZE, None without fprotect
    write_protect: bool  # CHIP_FACTORY_DATA_WRITE_PROTECT available
    flash_base: int
    flash_size: int
    memory: str = "flash"  # "flash", "RRAM" (nRF54L) or "MRAM" (nRF54H)

    @property
    def flash_end(self) -> int:
        return self.flash_base + self.flash_size


class LoadSection(NamedTuple):
    """A firmware section that occupies flash: its load address (LMA) and size."""

    name: str
    address: int
    size: int

    @property
    def end(self) -> int:
        return self.address + self.size


class Finding(NamedTuple):
    """One problem: what is wrong (naming partitions and addresses) and how to fix it."""

    severity: str  # ERROR or WARNING
    message: str
    fix: str

    @property
    def line(self) -> str:
        return f"{self.message}; {self.fix}"


def _soc(name: str, family: str, page: int, block: Optional[int], flash_size: int,
         base: int = 0, memory: str = "flash") -> SocInfo:
    return SocInfo(name, family, page, block, block is not None and family != "nrf54l", base,
                   flash_size, memory)


_KIB = 1024
# Every nRF SoC nRF Connect SDK 3.4 supports for Matter (nRF52840, nRF5340 application and
# network cores, nRF54L15/L10/L05, nRF54LM20, nRF54H20), and the other nRF52/nRF91 parts the
# module's layout check knows. Sources: nrf-connect.md section 14 (flash, fprotect) and
# ncs-build-2026.md sections 1-2 (RRAM, default layouts), and Zephyr's devicetree:
# * nRF54L05/L10/L15 RRAM: 500/1012/1524 KiB at 0 (dts/vendor/nordic/nrf54l05.dtsi,
#   nrf54l10.dtsi, nrf54l15.dtsi: cpuapp_rram; erase-block-size 4096, write-block-size 16).
# * nRF54LM20A RRAM: 2036 KiB at 0 (zephyr dts/vendor/nordic/nrf54lm20a.dtsi, commit
#   006195b0: cpuapp_rram <0x0 DT_SIZE_K(2036)> in the non-secure map; 1940 KiB + the FLPR's
#   96 KiB at 0x1e5000 otherwise; erase-block-size 4096, write-block-size 16). NCS 3.4's Matter
#   layout puts factory_data at 0x1F0000 and settings at 0x1F1000..0x1FD000, the end of the
#   2036 KiB.
# * nRF54H20 MRAM: mram1x at 0x0E000000, 2048 KiB (zephyr dts/vendor/nordic/nrf54h20.dtsi,
#   commit 01dea092: "nordic,mram", erase-block-size 4096, write-block-size 16). Partition
#   reg values are relative to it; the devicetree reader adds the base.
# The erase unit of RRAM and MRAM: neither needs an erase (RRAM is written in 16-byte blocks;
# "erase" is writing 0xFF), but we use 4 KiB, the erase-block-size their devicetree declares:
# Zephyr's flash API, flash_area and the partition tooling page them in 4 KiB, programmers
# erase ranges in those pages, and every in-tree layout aligns partitions to 4 KiB -- so a
# layout that passes our check never shares a page with a neighbour whatever tool erases it.
# Write protection (fprotect, CHIP_FACTORY_DATA_WRITE_PROTECT) exists on nRF52 (BPROT/ACL),
# nRF5340 app (SPU, 16 KiB blocks) and nRF91 (SPU, 32 KiB); not on the nRF5340 network core,
# nor on nRF54L (the Kconfig depends on !SOC_SERIES_NRF54L: the one free RRAMC region is the
# bootloader's), nor on nRF54H (memory permissions come from the UICR's owned partitions).
SOCS: dict[str, SocInfo] = {s.name: s for s in (
    _soc("nrf52805", "nrf52", 4 * _KIB, 4 * _KIB, 192 * _KIB),
    _soc("nrf52810", "nrf52", 4 * _KIB, 4 * _KIB, 192 * _KIB),
    _soc("nrf52811", "nrf52", 4 * _KIB, 4 * _KIB, 192 * _KIB),
    _soc("nrf52820", "nrf52", 4 * _KIB, 4 * _KIB, 256 * _KIB),
    _soc("nrf52832", "nrf52", 4 * _KIB, 4 * _KIB, 512 * _KIB),
    _soc("nrf52833", "nrf52", 4 * _KIB, 4 * _KIB, 512 * _KIB),
    _soc("nrf52840", "nrf52", 4 * _KIB, 4 * _KIB, 1024 * _KIB),
    _soc("nrf5340_cpuapp", "nrf53", 4 * _KIB, 16 * _KIB, 1024 * _KIB),
    _soc("nrf5340_cpunet", "nrf53", 2 * _KIB, None, 256 * _KIB, base=0x01000000),
    _soc("nrf9131", "nrf91", 4 * _KIB, 32 * _KIB, 1024 * _KIB),
    _soc("nrf9151", "nrf91", 4 * _KIB, 32 * _KIB, 1024 * _KIB),
    _soc("nrf9160", "nrf91", 4 * _KIB, 32 * _KIB, 1024 * _KIB),
    _soc("nrf9161", "nrf91", 4 * _KIB, 32 * _KIB, 1024 * _KIB),
    _soc("nrf54l05", "nrf54l", 4 * _KIB, 4 * _KIB, 500 * _KIB, memory="RRAM"),
    _soc("nrf54l10", "nrf54l", 4 * _KIB, 4 * _KIB, 1012 * _KIB, memory="RRAM"),
    _soc("nrf54l15", "nrf54l", 4 * _KIB, 4 * _KIB, 1524 * _KIB, memory="RRAM"),
    _soc("nrf54lm20a", "nrf54l", 4 * _KIB, 4 * _KIB, 2036 * _KIB, memory="RRAM"),
    _soc("nrf54h20", "nrf54h", 4 * _KIB, None, 2048 * _KIB, base=0x0E000000, memory="MRAM"),
)}
_SOC_ALIASES = {"nrf5340": "nrf5340_cpuapp", "nrf54lm20": "nrf54lm20a"}


def soc_info(text: Union[str, SocInfo], *, source: str = "SoC") -> SocInfo:
    """Look up a SoC by name: ``nrf52840``, ``nRF52840_QIAA``, ``nrf5340/cpunet``, ..."""
    if isinstance(text, SocInfo):
        return text
    key = text.strip().lower().replace("/", "_").replace("-", "_")
    names = sorted([*SOCS, *_SOC_ALIASES], key=len, reverse=True)
    for name in names:
        if key == name or key.startswith(name + "_"):
            if name == "nrf5340" and "cpunet" in key:
                return SOCS["nrf5340_cpunet"]
            return SOCS[_SOC_ALIASES.get(name, name)]
    raise InputError(f"{source} {text!r}: unknown SoC (accepted: {', '.join(SOCS)}; "
                     "nrf5340 means the application core, nrf54lm20 the nrf54lm20a)")


# --- parsing -------------------------------------------------------------------

def parse_layout(data: object, *, source: str) -> list[Partition]:
    """Partitions of a loaded ``pm_static.yml`` or ``partitions.yml`` mapping.

    Static entries need ``address`` and ``size`` (ints or ``0x..`` strings); ``end_address``
    is optional and must agree. A container given only as ``span`` gets its extent from its
    members. ``region`` defaults to flash_primary.
    """
    if data is None:
        raise InputError(f"{source}: the file is empty; it must map partition names to "
                         "entries such as 'factory_data: {address: 0xfb000, size: 0x1000}'")
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of partition names to entries, got "
                         f"a YAML {type(data).__name__}; write 'name: {{address: ..., size: "
                         "...}' at the top level")
    entries = {_name(key, source): _entry(key, value, source) for key, value in data.items()}
    return _resolve_spans(entries, source)


def _name(key: object, source: str) -> str:
    if not isinstance(key, str) or not key:
        raise InputError(f"{source}: partition name {key!r} is not a name; use a word such "
                         "as factory_data")
    return key


def _entry(name: object, value: object, source: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{source}: {name}: expected a mapping with address and size, got "
                         f"{value!r}; write '{name}: {{address: 0x..., size: 0x...}}'")
    entry = {"address": _int(value, "address", name, source),
             "size": _int(value, "size", name, source),
             "end_address": _int(value, "end_address", name, source),
             "region": _text(value, "region", name, source) or DEFAULT_REGION,
             "device": _text(value, "device", name, source) or "",
             "span": _span(value.get("span"), name, source)}
    _check_entry(name, entry, source)
    return entry


def _int(entry: dict, key: str, name: object, source: str) -> Optional[int]:
    value = entry.get(key)
    if value is None:
        return None
    from ..core.validate import int_problem, shown

    if isinstance(value, str) and int_problem(value.strip()) is None:
        value = int(value.strip(), 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{source}: {name}.{key}: {shown(entry[key])} is not an integer; "
                         f"write it in hex, e.g. '{key}: 0xfb000'")
    if value < 0:
        raise InputError(f"{source}: {name}.{key}: {value} is negative; give the absolute "
                         "flash address and the size in bytes")
    if value > 0xFFFFFFFF:
        raise InputError(f"{source}: {name}.{key}: {shown(str(value), 20)} is past the 32-bit "
                         "address space (accepted: 0..0xffffffff)")
    return value


def _text(entry: dict, key: str, name: object, source: str) -> Optional[str]:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{source}: {name}.{key}: {value!r} is not a name; e.g. "
                         f"'{key}: {DEFAULT_REGION if key == 'region' else 'MX25R64'}'")
    return value


def _span(value: object, name: object, source: str) -> tuple[str, ...]:
    if isinstance(value, dict) and "one_of" in value:
        value = value["one_of"]
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InputError(f"{source}: {name}.span: {value!r} is not a list of partition names; "
                     "write e.g. 'span: [mcuboot_pad, app]'")


def _check_entry(name: object, entry: dict, source: str) -> None:
    address, size, end = entry["address"], entry["size"], entry["end_address"]
    if not entry["span"] or (address is None) != (size is None):
        for key in ("address", "size"):
            if entry[key] is None:
                raise InputError(f"{source}: {name}: missing {key}; a static partition needs "
                                 "both address and size (e.g. 'address: 0xfb000, size: "
                                 "0x1000')")
    if end is not None and address is not None and size is not None and end != address + size:
        raise InputError(f"{source}: {name}.end_address: 0x{end:x} is not address 0x{address:x}"
                         f" + size 0x{size:x} = 0x{address + size:x}; fix end_address or size "
                         "(or drop end_address)")


def _resolve_spans(entries: dict[str, dict], source: str) -> list[Partition]:
    """Give span-only containers the extent of their members (nested containers too)."""
    pending = [n for n, e in entries.items() if e["address"] is None or e["size"] is None]
    while pending:
        resolved = [n for n in pending if _fill_from_members(entries, n)]
        if not resolved:
            name = pending[0]
            members = ", ".join(entries[name]["span"])
            raise InputError(f"{source}: {name}: a container without address and size whose "
                             f"members ({members}) are not all listed; give {name} an address "
                             "and a size (copy them from build/partitions.yml)")
        pending = [n for n in pending if n not in resolved]
    return [Partition(n, e["address"], e["size"], e["region"], e["span"], e["device"])
            for n, e in entries.items()]


def _fill_from_members(entries: dict[str, dict], name: str) -> bool:
    members = [entries.get(m) for m in entries[name]["span"]]
    if any(m is None or m["address"] is None or m["size"] is None for m in members):
        return False
    start = min(m["address"] for m in members)  # type: ignore[index]
    entries[name]["size"] = max(m["address"] + m["size"] for m in members) - start  # type: ignore
    entries[name]["address"] = start
    return True


# --- checks --------------------------------------------------------------------

def check_layout(partitions: Sequence[Partition], *, soc: Union[str, SocInfo],
                 image_size: Optional[int] = None, image_address: Optional[int] = None,
                 write_protect: bool = False,
                 elf_segments: Iterable[LoadSection] = ()) -> list[Finding]:
    """Every problem of the factory_data partition in ``partitions``, errors first.

    ``image_size`` is the generated image in bytes *including* its terminating 0x00;
    ``image_address`` where a .hex image starts; ``elf_segments`` the firmware's sections
    that occupy flash, at their load addresses.
    """
    info = soc_info(soc)
    by_name = {p.name: p for p in partitions}
    fd = by_name.get(FACTORY_DATA)
    if fd is None:
        return [_missing(partitions, info)]
    findings = _placement(fd, info)
    findings += _overlaps(fd, partitions)
    findings += _image(fd, info, image_size, image_address)
    if write_protect:
        findings += _fprotect(fd, partitions, info)
    findings += _firmware(fd, elf_segments)
    return sorted(findings, key=lambda f: f.severity != ERROR)


def _range(start: int, end: int) -> str:
    return f"0x{start:x}..0x{end:x}"


def _kib(size: int) -> str:
    return f"{size // _KIB} KiB" if size % _KIB == 0 else f"{size} bytes"


def _round_down(value: int, unit: int) -> int:
    return value - value % unit


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _missing(partitions: Sequence[Partition], info: SocInfo) -> Finding:
    page = info.page_size
    settings = next((p for p in partitions if p.name == SETTINGS), None)
    example = f"{{address: 0x..., size: 0x{page:x}}}"
    if settings is not None and _free_for_factory_data(partitions, settings.address - page, page):
        example = f"{{address: 0x{settings.address - page:x}, size: 0x{page:x}}}"
    return Finding(ERROR, "no factory_data partition in the layout",
                   f"add 'factory_data: {example}' to pm_static.yml (one {_kib(page)} page, "
                   "usually right after app and before settings_storage)")


def _free_for_factory_data(partitions: Sequence[Partition], address: int, size: int) -> bool:
    """True when only the dynamic app (or a container/gap) holds ``address..+size``."""
    if address < 0:
        return False
    return not any(_intersects(p.address, p.end, address, address + size)
                   for p in partitions if p.region == DEFAULT_REGION and not p.is_container
                   and p.name != "app" and not p.name.startswith("EMPTY_"))


def _placement(fd: Partition, info: SocInfo) -> list[Finding]:
    if fd.region == DEFAULT_REGION:
        page, what = info.page_size, f"the {info.name} {info.memory} page"
        if info.memory != "flash":  # no erase needed: the devicetree's erase-block-size
            what += " (its devicetree erase-block-size)"
    elif fd.region == EXTERNAL_REGION:
        page, what = EXTERNAL_SECTOR, "the external flash erase sector"
    else:
        return [Finding(ERROR, f"{fd.where()} is in region {fd.region}",
                        f"put it in {DEFAULT_REGION} (internal flash) or {EXTERNAL_REGION}")]
    findings = _alignment(fd, page, what)
    if fd.region == DEFAULT_REGION:
        findings += _bounds(fd, info)
    return findings


def _alignment(fd: Partition, page: int, what: str) -> list[Finding]:
    findings = []
    unit = f"{what} (0x{page:x} = {_kib(page)})"
    if fd.address % page:
        below, above = _round_down(fd.address, page), _round_up(fd.address, page)
        findings.append(Finding(ERROR, f"factory_data address 0x{fd.address:x} is not a "
                                f"multiple of {unit}",
                                f"move it to 0x{below:x} or 0x{above:x}"))
    if fd.size == 0:
        findings.append(Finding(ERROR, f"factory_data at 0x{fd.address:x} has size 0",
                                f"give it at least one page (size: 0x{page:x})"))
    elif fd.size % page:
        findings.append(Finding(ERROR, f"factory_data size 0x{fd.size:x} (at 0x{fd.address:x}) "
                                f"is not a multiple of {unit}",
                                f"use size 0x{_round_up(fd.size, page):x}"))
    return findings


def _bounds(fd: Partition, info: SocInfo) -> list[Finding]:
    if info.flash_base <= fd.address and fd.end <= info.flash_end:
        return []
    flash = _range(info.flash_base, info.flash_end)
    return [Finding(ERROR, f"{fd.where()} is outside flash_primary of {info.name} ({flash}, "
                           f"{_kib(info.flash_size)})",
                    f"place it inside {flash}, e.g. just below settings_storage")]


def _intersects(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def _members(container: Partition, by_name: dict[str, Partition]) -> set[str]:
    """Names inside ``container``, following nested spans."""
    seen: set[str] = set()
    todo = list(container.span)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            member = by_name.get(name)
            todo.extend(member.span if member else ())
    return seen


def _overlaps(fd: Partition, partitions: Sequence[Partition]) -> list[Finding]:
    by_name = {p.name: p for p in partitions}
    same = [p for p in partitions if p.name != fd.name and p.region == fd.region
            and p.device == fd.device and p.size and _intersects(fd.address, fd.end, p.address,
                                                                  p.end)]
    leaves = [p for p in same if not p.is_container]
    findings = [_overlap(fd, p) for p in leaves]
    for box in (p for p in same if p.is_container):
        members = _members(box, by_name)
        if fd.name not in members and not any(p.name in members for p in leaves):
            findings.append(_overlap(fd, box, container=True))
    return findings


def _overlap(fd: Partition, other: Partition, container: bool = False) -> Finding:
    what = f"container {other.where()} (span: {', '.join(other.span)})" if container \
        else other.where()
    fix = (f"move one of them: factory_data must end at or before 0x{other.address:x} or "
           f"start at or after 0x{other.end:x}")
    if container:
        fix += f", or list factory_data in the span of {other.name}"
    return Finding(ERROR, f"{fd.where()} overlaps {what}", fix)


def _image(fd: Partition, info: SocInfo, image_size: Optional[int],
           image_address: Optional[int]) -> list[Finding]:
    findings = []
    if image_size is not None and image_size > fd.size:
        need = _round_up(image_size, info.page_size)
        findings.append(Finding(
            ERROR, f"the factory data image (0x{image_size:x} = {image_size} bytes with its "
                   f"terminating 0x00) does not fit {fd.where()}, 0x{fd.size:x} = {fd.size} "
                   "bytes",
            f"make factory_data at least 0x{need:x} bytes or leave out optional keys"))
    if image_address is not None and image_address != fd.address:
        findings.append(Finding(
            ERROR, f"the factory data image starts at 0x{image_address:x} but {fd.where()} "
                   f"starts at 0x{fd.address:x}",
            f"regenerate it with {OPT.offset} 0x{fd.address:x} {OPT.size} 0x{fd.size:x}"))
    if fd.size >= PARSER_SIZE_LIMIT:
        limit = _round_down(PARSER_SIZE_LIMIT - 1, info.page_size)
        findings.append(Finding(
            ERROR, f"{fd.where()} is 0x{fd.size:x} bytes ({_kib(fd.size)}); the device parser "
                   "holds the partition size in 16 bits, so it must be below 64 KiB",
            f"use size 0x{limit:x} or less (0x{info.page_size:x} is plenty)"))
    return findings


def _fprotect(fd: Partition, partitions: Sequence[Partition], info: SocInfo) -> list[Finding]:
    if not info.write_protect or info.fprotect_block is None:
        why = (" (CHIP_FACTORY_DATA_WRITE_PROTECT depends on !SOC_SERIES_NRF54L: the one free "
               "RRAMC protection region is the bootloader's)" if info.family == "nrf54l" else
               " (nRF54H memory permissions come from the UICR's owned partitions, not "
               "fprotect)" if info.family == "nrf54h" else "")
        return [Finding(WARNING, f"write protection is not available on {info.name}{why}",
                        "turn off CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT (ignored here)")]
    block = info.fprotect_block
    lo, hi = _round_down(fd.address, block), _round_up(fd.end, block)
    findings = []
    for p in partitions:
        writable = p.name in (SETTINGS, DT_SETTINGS) or p.name in WRITABLE
        if (not writable or p.region != fd.region or p.is_container or not p.size
                or _intersects(fd.address, fd.end, p.address, p.end)
                or not _intersects(lo, hi, p.address, p.end)):
            continue
        findings.append(_fprotect_finding(fd, p, info, lo, hi))
    return findings


def _fprotect_finding(fd: Partition, other: Partition, info: SocInfo, lo: int,
                      hi: int) -> Finding:
    block = info.fprotect_block or 0
    message = (f"with write protection the {_kib(block)} fprotect block {_range(lo, hi)} "
               f"around {fd.where()} overlaps {other.where()}")
    if other.name in (SETTINGS, DT_SETTINGS):
        fix = (f"start {other.name} at a 0x{block:x} boundary at or after 0x{hi:x} (or end "
               f"it at or before 0x{lo:x}), keeping its size a multiple of {_kib(block)}, or "
               "turn off CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT")
        return Finding(ERROR, message, fix)
    return Finding(WARNING, message + f" (the firmware writes {other.name})",
                   f"keep {other.name} outside {_range(lo, hi)}")


def _firmware(fd: Partition, sections: Iterable[LoadSection]) -> list[Finding]:
    return [Finding(ERROR, f"firmware section {s.name} ({_range(s.address, s.end)}) lies inside "
                           f"{fd.where()}; flashing the factory data would overwrite it",
                    "shrink the firmware or move factory_data, then rebuild so that app ends at "
                    f"or before 0x{fd.address:x}")
            for s in sections
            if s.size and _intersects(fd.address, fd.end, s.address, s.end)]


# --- partition_manager_report ----------------------------------------------------

_BLUE, _YELLOW, _END = "\033[94m", "\033[93m", "\033[0m"


def size_text(size: int) -> str:
    """``48kB`` or ``512B``, as partition_manager_report writes sizes."""
    return f"{size // 1024}kB" if size >= 1024 else f"{size}B"


def draw_report(partitions: Sequence[Partition], domain: str = "", *,
                colour: bool = False) -> str:
    """The text of ``partition_manager_report`` for one domain: a box per region, sorted
    by region name, each followed by a blank line."""
    regions = sorted({p.region for p in partitions})
    return "".join(_draw_region([p for p in partitions if p.region == r], domain, r, colour)
                   for r in regions)


def _draw_region(parts: list[Partition], domain: str, region: str, colour: bool) -> str:
    blue, yellow, end = (_BLUE, _YELLOW, _END) if colour else ("", "", "")
    extent = max(p.end for p in parts) - min(p.address for p in parts)
    header = f"{blue} {domain} {region} ({hex(extent)} - {size_text(extent)}): {end}"
    frame = f"+{blue}{end}"
    rows = [frame, *_rows(parts, blue, yellow, end, frame), frame]
    width = max(len(r) for r in rows) + 1
    body = [r.ljust(width, "-") + "+" if r.startswith("+") else r.ljust(width) + "|"
            for r in rows]
    return "\n".join([header, *body, ""]) + "\n"


def _rows(parts: list[Partition], blue: str, yellow: str, end: str, frame: str) -> list[str]:
    ordered = sorted(parts, key=lambda p: (p.address, -p.size, not p.is_container))
    rows: list[str] = []
    span_end: Optional[int] = None
    for index, p in enumerate(ordered):
        lead = f"+---{blue}" if p.is_container else f"| {yellow}"
        rows.append(f"{lead}{hex(p.address)}: {p.name} ({hex(p.size)} - {size_text(p.size)})"
                    f"{end}")
        if index == len(ordered) - 1:
            break
        if p.is_container:
            span_end = p.end
        elif p.end == span_end and not ordered[index + 1].is_container:
            rows.append(frame)  # closes the container above
    return rows
