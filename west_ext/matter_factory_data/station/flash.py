"""``flash``: program only the factory data hex, erasing only the pages it covers.

The hex comes from ``--hex FILE`` or a build directory; the SoC family from ``--family`` or
the build's ``zephyr/.config``. The commands are plain argv lists run through
:class:`~matter_factory_data.runner.Runner` (``--dry-run`` prints them and runs nothing).

The tool is nrfutil (``device program`` erasing only the ranges the hex touches, read-back
verify, ``--family`` when known, then ``device reset``); nrfjprog only with ``--tool
nrfjprog`` or when nrfutil is not on PATH (nRF Command Line Tools are archived). The hex must
be factory data for the partition: one contiguous block that decodes as complete factory
data under the device-faithful lint of ``show``, below 64 KiB, page-aligned, in the code flash
(never UICR/FICR), and - from a build directory - at the build's factory_data partition. A
firmware or merged hex is refused (a Cortex-M vector table is named): programming it with a
page erase would wipe the application.

Nothing typed becomes an option of the tool: the hex reaches it as an absolute path, and the
probe's serial number (``--snr``/``--dev-id``/``--serial-number``) must be digits, checked
before any tool runs. ``--list`` lists the connected J-Link probes (``nrfutil --json device
list``, or ``nrfjprog --ids``).

nRF5340 network core: ``--core net`` (or a build whose ``.config`` has
``CONFIG_SOC_NRF5340_CPUNET=y``) programs the network coprocessor (nrfjprog ``--coprocessor
CP_NETWORK``, nrfutil ``--core Network``) with its 2 KiB pages; the hex must lie in the network
core flash (0x1000000..0x1040000). The reset after programming is the usual whole-device reset
(as ``west flash`` does), which restarts both cores.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple, Optional

from ..errors import OPT, InputError, Subject
from ..files.inputs import read_file
from ..formats import hexfile
from ..typed import Request
from ..ui import event
from ..zephyr import build_dir
from ..zephyr.layout import SOCS
from .runner import Runner, file_argument, printable

#: Erase unit of the internal flash/RRAM on every supported family (nrf-connect.md §14)...
PAGE_SIZE = 0x1000
#: ...except the nRF5340 network core: 2 KiB pages, its own flash at 0x1000000.
NET_CORE = SOCS["nrf5340_cpunet"]
NET_PAGE_SIZE = NET_CORE.page_size
TOOLS = ("nrfutil", "nrfjprog")
#: nrfutil ``--family`` (detection option: the expected device family) per family.
NRFUTIL_FAMILIES = {"NRF52": "nrf52", "NRF53": "nrf53", "NRF91": "nrf91", "NRF54L": "nrf54l"}
#: Where no factory data may go: UICR/FICR and everything that is not code flash
#: (nRF53/nRF91 UICR 0xff8000, nRF54L UICR 0xffd000, nRF52 FICR/UICR 0x10000000...).
NOT_FLASH = ((0x00FF8000, 0x01000000), (0x01040000, 0x100000000))
MAX_IMAGE = 0x10000  # the device parser holds the size in 16 bits
#: Families nrfjprog can program (it predates nRF54L).
NRFJPROG_FAMILIES = ("NRF52", "NRF53", "NRF91")
#: ``--core`` values (nrfutil's own spellings accepted too).
CORES = {"app": "app", "application": "app", "net": "net", "network": "net"}
#: How each tool addresses the network core.
NRFJPROG_NET_CORE = ["--coprocessor", "CP_NETWORK"]
NRFUTIL_NET_CORE = ["--core", "Network"]


class Target(NamedTuple):
    hex_file: Path
    family: Optional[str]
    core: str = "app"  # "app" or "net" (nRF5340 network core)
    core_from: str = ""  # where "net" came from, for messages

    @property
    def page_size(self) -> int:
        return NET_PAGE_SIZE if self.core == "net" else PAGE_SIZE


#: A J-Link serial number as nrfjprog (``--snr``, an unsigned 32-bit number) and nrfutil
#: (``--serial-number``, the same digits, often with leading zeros) take it.
SNR_PATTERN = re.compile(r"[0-9]{1,20}")
NRFJPROG_SNR_MAX = 0xFFFFFFFF


def check_snr(snr: Optional[str], tool: Optional[str] = None) -> Optional[str]:
    """The probe's serial number, checked before any tool runs: ASCII digits only (so it
    can never be read as an option, nor as nrfutil's comma-separated list of several
    probes); for nrfjprog at most 4294967295."""
    if snr is None:
        return None
    if not SNR_PATTERN.fullmatch(snr):
        shown = repr(snr[:24]) + ("..." if len(snr) > 24 else "")
        raise InputError.naming("{0}: " + _braces(shown) + " is not a J-Link serial number "
                                "(accepted: 1..20 ASCII digits, as {1} shows them)", "snr",
                                "list")
    if tool == "nrfjprog" and int(snr) > NRFJPROG_SNR_MAX:
        raise InputError.at(Subject("snr"), f"{snr} is larger than the serial numbers nrfjprog "
                                            f"takes (at most {NRFJPROG_SNR_MAX}); use the "
                                            "nrfutil tool")
    return snr


def _braces(text: str) -> str:
    """``text`` inside a :class:`Message` template (its braces are not placeholders)."""
    return text.replace("{", "{{").replace("}", "}}")


def nrfjprog_commands(hex_file: Path, family: str, snr: Optional[str],
                      reset: bool, core: str = "app") -> list[list[str]]:
    """Program with a page (sector) erase and read-back verify, then a soft reset."""
    select = ["-f", family] + (["--snr", snr] if snr else [])
    where = NRFJPROG_NET_CORE if core == "net" else []
    commands = [["nrfjprog", "--program", file_argument(hex_file), "--sectorerase", "--verify",
                 *select, *where]]
    if reset:
        commands.append(["nrfjprog", "--reset", *select])
    return commands


def nrfutil_commands(hex_file: Path, snr: Optional[str], reset: bool,
                     core: str = "app", family: Optional[str] = None) -> list[list[str]]:
    """Program erasing only the touched ranges, verify by reading back, then reset."""
    select = ["--serial-number", snr] if snr else []
    if family in NRFUTIL_FAMILIES:
        select += ["--family", NRFUTIL_FAMILIES[family]]
    where = NRFUTIL_NET_CORE if core == "net" else []
    commands = [["nrfutil", "device", "program", "--firmware", file_argument(hex_file), *where,
                 "--options", "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE,"
                 "verify=VERIFY_READ", *select]]
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


def check_segments(segments: list[tuple[int, bytes]], source: str,
                   page_size: int = PAGE_SIZE) -> None:
    """Refuse an empty hex, or one whose data starts inside a page (its head would be lost)."""
    segments = [(start, data) for start, data in segments if data]
    if not segments:
        raise InputError(f"{source}: the hex file holds no data; nothing to flash")
    start = segments[0][0]
    if start % page_size:
        page = start - start % page_size
        raise InputError(f"{source}: data starts at 0x{start:x}, not on a {page_size // 1024} KiB "
                         f"page boundary; the page erase would also wipe 0x{page:x}..0x{start:x} "
                         "(the factory_data partition must be page-aligned)")


def check_core(segments: list[tuple[int, bytes]], source: str, target: Target) -> None:
    """The data must lie in the flash of the core it is programmed into (nRF5340). That range
    is flash on no other supported family, so an unknown family gets the hint too."""
    low, high = NET_CORE.flash_base, NET_CORE.flash_end
    flash = f"the nRF5340 network core flash (0x{low:x}..0x{high:x})"
    for start, data in segments:
        if not data:
            continue
        end = start + len(data)
        if target.core == "net" and (start < low or end > high):
            outside = start if start < low else max(start, high)
            raise InputError(f"{source}: data at 0x{outside:x} is outside {flash}, but the "
                             f"network core was chosen ({target.core_from}); program it with "
                             f"{OPT.core} app")
        if target.core == "app" and target.family in (None, "NRF53") and start < high \
                and end > low:
            raise InputError(f"{source}: data at 0x{max(start, low):x} is in {flash}; program "
                             f"it with {OPT.core} net")


def describe_ranges(ranges: list[tuple[int, int]], page_size: int = PAGE_SIZE) -> str:
    pages = sum((end - start) // page_size for start, end in ranges)
    where = ", ".join(f"0x{start:x}..0x{end - 1:x}" for start, end in ranges)
    return f"pages to erase: {where} ({pages} page{'s' if pages != 1 else ''} of " \
           f"{page_size // 1024} KiB)"


class FlashRequest(Request):
    """``flash``: what to program (a build or a hex), with which tool, on which probe."""

    build_dir: Optional[str] = None
    hex: Optional[str] = None
    tool: Optional[str] = None
    snr: Optional[str] = None
    family: Optional[str] = None
    dry_run: bool = False
    no_reset: bool = False
    core: Optional[str] = None
    list: bool = False


def is_net_core_build(config: dict[str, str]) -> bool:
    """An nRF5340 network core image: CONFIG_SOC_NRF5340_CPUNET* (or a CONFIG_SOC naming it)."""
    if any(k.startswith("CONFIG_SOC_NRF5340_CPUNET") and v == "y" for k, v in config.items()):
        return True
    return "cpunet" in config.get("CONFIG_SOC", "").lower()


def _core_option(args: FlashRequest) -> Optional[str]:
    given = getattr(args, "core", None)
    if given is None:
        return None
    core = CORES.get(str(given).lower())
    if core is None:
        raise InputError(f"{OPT.core} {given}: unknown core; give {OPT.core} app (application "
                         f"core) or {OPT.core} net (nRF5340 network core)")
    return core


def locate(args: FlashRequest) -> Target:
    """The hex to flash, the family (None when neither given nor in a build dir), the core."""
    family = args.family.upper() if args.family else None
    core = _core_option(args)
    core_from = f"{OPT.core} {args.core}" if core else ""
    if args.hex:
        target = Target(Path(args.hex), family, core or "app", core_from)
    else:
        app = build_dir.app_build_dir(build_dir.find_build_dir(args.build_dir))
        hex_file = build_dir.factory_data_hex(app)
        family = family or build_dir.build_family(app)
        dotconfig = app / "zephyr" / ".config"
        if core is None and dotconfig.is_file() and \
                is_net_core_build(build_dir.read_kconfig(dotconfig)):
            core, core_from = "net", f"{dotconfig}: CONFIG_SOC_NRF5340_CPUNET=y"
        target = Target(hex_file, family, core or "app", core_from)
    if target.core == "net":
        if target.family is None:  # only the nRF5340 has a network core
            target = target._replace(family="NRF53")
        elif target.family != "NRF53":
            raise InputError(f"only the nRF5340 (NRF53) has a network core, but the family is "
                             f"{target.family} ({target.core_from}); drop {OPT.core} net or fix "
                             f"{OPT.family}")
    return target


def choose_tool(args: FlashRequest, runner: Runner) -> str:
    """nrfutil, unless nrfjprog is asked for or nrfutil is missing and nrfjprog is there."""
    if args.tool:
        return args.tool
    if not runner.find("nrfutil") and runner.find("nrfjprog"):
        return "nrfjprog"
    return "nrfutil"


def check_factory_data(segments: list[tuple[int, bytes]], source: str,
                       partition: Optional[tuple[int, int, str]] = None) -> None:
    """Refuse a hex that is not one factory data image (for ``partition``: address, size,
    where it was found)."""
    data = [(start, block) for start, block in segments if block]
    hint = ("flash only the factory data hex (factory_data.hex); a firmware or merged hex "
            "would erase the application pages")
    for start, block in data:
        for low, high in NOT_FLASH:
            if start < high and start + len(block) > low:
                raise InputError(f"{source}: data at 0x{max(start, low):x} is outside the code "
                                 "flash (UICR/FICR or no flash); factory data never goes there; "
                                 + hint)
    if len(data) > 1:
        where = ", ".join(f"0x{s:x}..0x{s + len(b):x}" for s, b in data[:4])
        more = ", ..." if len(data) > 4 else ""
        raise InputError(f"{source}: {len(data)} separate blocks ({where}{more}"
                         f"), not one factory data image; {hint}")
    start, block = data[0]
    if len(block) >= MAX_IMAGE:
        raise InputError(f"{source}: {len(block)} bytes at 0x{start:x}, more than a factory "
                         f"data partition holds (< 64 KiB); {hint}")
    _check_decodes(block, start, source, hint)
    if partition is not None:
        address, size, label = partition
        if start != address or start + len(block) > address + size:
            raise InputError(f"{source}: data at 0x{start:x}..0x{start + len(block):x} is not in "
                             f"the factory_data partition 0x{address:x}..0x{address + size:x} "
                             f"({label}); regenerate it for this build")


#: Cortex-M vector table: the initial stack pointer lies in SRAM (0x2000_0000..), the reset
#: handler in code flash with bit 0 set (Thumb).
SRAM = (0x20000000, 0x20100000)
CODE_FLASH_END = 0x01000000


def vector_table(block: bytes) -> Optional[tuple[int, int]]:
    """(initial SP, reset vector) when ``block`` starts like a Cortex-M firmware image."""
    if len(block) < 8:
        return None
    sp, reset = int.from_bytes(block[:4], "little"), int.from_bytes(block[4:8], "little")
    if SRAM[0] <= sp <= SRAM[1] and sp % 4 == 0 and reset & 1 and reset < CODE_FLASH_END:
        return sp, reset
    return None


def _check_decodes(block: bytes, start: int, source: str, hint: str) -> None:
    """The block must read as complete factory data under the device-faithful lint of
    ``show`` (not just start with a byte that looks like a CBOR map)."""
    from ..formats import nrf_cbor
    from ..formats.base import ERROR

    vectors = vector_table(block)
    try:
        reading = nrf_cbor.read_image(block, source)
        errors = [str(p) for p in nrf_cbor.lint_image(reading) if p.severity == ERROR]
    except InputError as exc:
        errors = [str(exc).removeprefix(f"{source}: ")]
    if not errors:
        return
    if vectors is not None:
        raise InputError(f"{source}: the data at 0x{start:x} looks like a firmware image "
                         f"(vector table: SP 0x{vectors[0]:08x}, reset 0x{vectors[1]:08x}), "
                         f"not factory data; {hint}")
    more = f" (and {len(errors) - 1} more; see `show`)" if len(errors) > 1 else ""
    raise InputError(f"{source}: the data at 0x{start:x} is not complete factory data as the "
                     f"device reads it: {errors[0]}{more}; {hint}")


def build_partition(app: Path) -> Optional[tuple[int, int, str]]:
    """The factory_data partition a build recorded (None when it cannot be told)."""
    from ..errors import FactoryDataError
    from ..zephyr.partition_sources import resolve_partition
    from ..zephyr.step_request import recorded

    try:
        source, _ = resolve_partition(recorded(app))
    except (FactoryDataError, OSError):
        return None
    return source.address, source.size, source.label


def commands_for(tool: str, target: Target, args: FlashRequest) -> list[list[str]]:
    reset = not args.no_reset
    check_snr(args.snr, tool)
    if tool == "nrfutil":
        return nrfutil_commands(target.hex_file, args.snr, reset, target.core, target.family)
    if target.family is None:
        raise InputError(f"nrfjprog needs the SoC family: give {OPT.family} "
                         f"({', '.join(NRFJPROG_FAMILIES)}) or -d BUILD_DIR")
    if target.family not in NRFJPROG_FAMILIES:
        raise InputError(f"nrfjprog cannot program {target.family} devices; use {OPT.tool} nrfutil")
    return nrfjprog_commands(target.hex_file, target.family, args.snr, reset, target.core)


def flash_command(args: FlashRequest, ui) -> int:
    check_snr(args.snr, args.tool)
    if args.list:
        return list_command(args, ui)
    target = locate(args)
    source = str(target.hex_file)
    segments = hexfile.from_hex_text(read_file(target.hex_file, "hex file")
                                     .decode("ascii", "replace"), source)
    check_core(segments, source, target)
    check_segments(segments, source, target.page_size)
    app = None if args.hex else build_dir.app_build_dir(build_dir.find_build_dir(args.build_dir))
    check_factory_data(segments, source, build_partition(app) if app is not None else None)
    runner = Runner(args.dry_run, ui)
    tool = choose_tool(args, runner)
    commands = commands_for(tool, target, args)
    runner.require(tool)
    size = sum(len(data) for _, data in segments)
    where = ", nRF5340 network core" if target.core == "net" else ""
    ui.info(f"factory data: {source} ({size} bytes at 0x{segments[0][0]:x}{where})")
    ui.info(describe_ranges(erase_ranges(segments, target.page_size), target.page_size))
    for argv in commands:
        runner.run(argv)
    if not args.dry_run:
        ui.info("factory data flashed" + ("" if args.no_reset else "; device reset"))
        event(ui, "device_programmed", {"probe": args.snr}, image=str(source), bytes=size,
                 address=segments[0][0], core=target.core, tool=tool,
                 reset=not args.no_reset)
    return 0


# --- flash --list ---------------------------------------------------------------------

class NrfProbe(NamedTuple):
    snr: str
    board: str  # devkit board version (PCA10056), or ""
    ports: tuple  # serial ports (COM5, /dev/ttyACM0)
    traits: tuple  # nrfutil traits that are set (jlink, devkit, ...)


def parse_nrfutil_list(output: str) -> list[NrfProbe]:
    """The devices of ``nrfutil --json device list`` (NDJSON: the ``task_end`` event holds
    ``data.data.devices``, each with ``serialNumber``, ``traits``, ``devkit`` and
    ``serialPorts``); every value the tool prints is checked before it is shown."""
    import json

    devices: list = []
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        data = event.get("data") if isinstance(event, dict) else None
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]
        if isinstance(data, dict) and isinstance(data.get("devices"), list):
            devices = data["devices"]
    probes = []
    for device in devices:
        if not isinstance(device, dict):
            continue
        snr = device.get("serialNumber")
        if not isinstance(snr, str) or not SNR_PATTERN.fullmatch(snr):
            continue  # not a J-Link (or a value no option could take)
        traits = device.get("traits")
        set_traits = tuple(sorted(k for k, v in traits.items() if v is True)) \
            if isinstance(traits, dict) else ()
        devkit = device.get("devkit")
        board = devkit.get("boardVersion", "") if isinstance(devkit, dict) else ""
        ports = device.get("serialPorts")
        names = tuple(str(p.get("comName") or p.get("path") or "") for p in ports
                      if isinstance(p, dict)) if isinstance(ports, list) else ()
        probes.append(NrfProbe(snr, board if isinstance(board, str) else "",
                               tuple(n for n in names if n), set_traits))
    return probes


def parse_nrfjprog_ids(output: str) -> list[NrfProbe]:
    """``nrfjprog --ids``: one serial number per line."""
    return [NrfProbe(line.strip(), "", (), ("jlink",)) for line in output.splitlines()
            if SNR_PATTERN.fullmatch(line.strip())]


def list_command(args: FlashRequest, ui) -> int:
    """``flash --list``: the connected probes (nrfutil device list, or nrfjprog --ids)."""
    runner = Runner(args.dry_run, ui)
    tool = choose_tool(args, runner)
    if tool == "nrfjprog":
        probes = parse_nrfjprog_ids(runner.output(["nrfjprog", "--ids"]))
    else:
        probes = parse_nrfutil_list(runner.output(["nrfutil", "--json", "device", "list"]))
    if args.dry_run:
        return 0
    for probe in probes:
        ui.info(printable(f"{probe.snr}  board {probe.board or '?'}  ports "
                          f"{', '.join(probe.ports) or '?'}  traits "
                          f"{', '.join(probe.traits) or '?'}"))
    if not probes:
        ui.info("no J-Link probe found (connect the board over USB)")
    return 0

