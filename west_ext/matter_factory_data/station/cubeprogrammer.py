"""``stm32-program``: write an STM32 factory data image with STM32CubeProgrammer's CLI.

What ST's genFactoryData runs, as separate argv tokens (it passes ``"--verbosity 1"`` as one
token and the external loader even for internal flash)::

    STM32_Programmer_CLI -l
    STM32_Programmer_CLI -c port=SWD sn=<ST-LINK SN> mode=UR [-el <loader.stldr>] \\
        -d <image.bin> <board address> -v [-rst]

``-el`` only for a board whose region is external flash (WB5MM-DK: its QSPI NOR through
``ExternalLoader/S25FL128S_STM32WB5MM-DK.stldr`` of the CubeProgrammer installation). Every
command goes through :class:`~.runner.Runner` (``--dry-run`` prints them). Several probes:
each is programmed in turn; a failure is one line for that probe, the others go on.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from ..errors import OPT, CommandFailed, FactoryDataError, InputError, MissingProgram
from ..typed import Request
from ..ui import event
from ..ui import failed as step_failed
from .runner import Runner, file_argument, printable

CLI = "STM32_Programmer_CLI"

#: Where the STM32CubeProgrammer installer puts its bin directory, per platform.
INSTALL_DIRS = {
    "linux": ("~/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin",
              "/opt/st/stm32cubeprogrammer/bin",
              "/opt/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin",
              "/usr/local/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin"),
    "darwin": ("/Applications/STMicroelectronics/STM32Cube/STM32CubeProgrammer/"
               "STM32CubeProgrammer.app/Contents/MacOs/bin",
               "~/Applications/STMicroelectronics/STM32Cube/STM32CubeProgrammer/"
               "STM32CubeProgrammer.app/Contents/MacOs/bin"),
    "win32": (r"C:\Program Files\STMicroelectronics\STM32Cube\STM32CubeProgrammer\bin",
              r"C:\Program Files (x86)\STMicroelectronics\STM32Cube\STM32CubeProgrammer\bin"),
}


#: An ST-LINK serial number as STM32_Programmer_CLI -l prints it (24 hex digits on ST-LINK/V2-1
#: and V3) and ``sn=`` takes it.
PROBE_PATTERN = re.compile(r"[0-9A-Fa-f]{4,48}")


def check_probe(serial: str) -> str:
    """An ST-LINK serial number (hex digits), checked before any tool runs."""
    if not PROBE_PATTERN.fullmatch(serial):
        shown = repr(serial[:52]) + ("..." if len(serial) > 52 else "")
        raise InputError.naming("{0}: " + shown.replace("{", "{{").replace("}", "}}")
                                + " is not an ST-LINK serial number (accepted: 4..48 hex "
                                "digits, as {1} shows them)", "probe", "list")
    return serial


class Probe(NamedTuple):
    sn: str  # ST-LINK serial number
    board: str  # "Board Name" (may be "")
    port: str  # its virtual COM port (may be "")


def find_cli(option: Optional[str], runner: Runner, *, platform: str = sys.platform,
             exists: Callable[[str], bool] = os.path.isfile) -> str:
    """``--cli`` (the program or its directory), else PATH, else the usual install
    directories; in dry-run mode a CLI that is not found is named by its bare name."""
    exe = CLI + (".exe" if platform == "win32" else "")
    if option:
        candidate = os.path.join(option, exe) if not exists(option) else option
        if exists(candidate):
            return candidate
        raise MissingProgram(f"{OPT.cli} {option}: no {exe} there (give the program or the "
                             "bin directory of STM32CubeProgrammer)")
    found = runner.find(CLI)
    if found:
        return found
    key = "linux" if platform.startswith("linux") else platform
    for directory in INSTALL_DIRS.get(key, ()):
        candidate = os.path.join(os.path.expanduser(directory), exe)
        if exists(candidate):
            return candidate
    if runner.dry_run:
        return CLI
    tried = ", ".join(INSTALL_DIRS.get(key, ()))
    raise MissingProgram(f"{CLI} not found on PATH nor in {tried}; install STM32CubeProgrammer "
                         f"or give {OPT.cli} PATH")


_PROBE = re.compile(r"ST-Link Probe\s+\d+\s*:(.*?)(?=ST-Link Probe\s+\d+\s*:|=====|\Z)",
                    re.S | re.I)
_FIELD = r"^\s*{}\s*:\s*(\S+)\s*$"
_UART_BOARD = re.compile(r"Board Name\s*:\s*(\S+)\s*\n\s*ST-LINK SN\s*:\s*(\S+)\s*\n\s*"
                         r"Port\s*:\s*(\S+)", re.I)


def parse_probes(listing: str) -> list[Probe]:
    """The ST-LINK probes of ``STM32_Programmer_CLI -l``: the "ST-Link Probe N" blocks
    (serial number, board name) and, on CubeProgrammer 2.18 and later, the UART section's
    ``Board Name / ST-LINK SN / Port`` triples (the port of each probe)."""
    text = listing.replace("\r\n", "\n")
    probes: dict[str, Probe] = {}
    for block in _PROBE.findall(text):
        sn = re.search(_FIELD.format(r"ST-LINK SN"), block, re.M | re.I)
        if sn and PROBE_PATTERN.fullmatch(sn.group(1)):
            board = re.search(_FIELD.format(r"Board Name"), block, re.M | re.I)
            probes[sn.group(1)] = Probe(sn.group(1), board.group(1) if board else "", "")
    uart = text.split("UART Interface", 1)[1] if "UART Interface" in text else ""
    for board, sn, port in _UART_BOARD.findall(uart):
        if not PROBE_PATTERN.fullmatch(sn):
            continue
        known = probes.get(sn)
        probes[sn] = Probe(sn, (known.board if known else "") or board, port)
    return list(probes.values())


def program_argv(cli: str, board, image: str, sn: str, *, loader: Optional[str],
                 reset: bool) -> list[str]:
    """Write ``image`` at the board's address through probe ``sn``, verify, reset."""
    argv = [cli, "-c", "port=SWD", f"sn={check_probe(sn)}", "mode=UR"]
    if board.external:
        argv += ["-el", file_argument(loader or board.external_loader)]
    argv += ["-d", file_argument(image), f"0x{board.address:08X}", "-v"]
    if reset:
        argv.append("-rst")
    return argv


def default_loader(cli: str, board) -> Optional[str]:
    """``<CubeProgrammer bin>/ExternalLoader/<board loader>`` for external-flash boards."""
    if not board.external:
        return None
    base = os.path.dirname(cli)
    return os.path.join(base, "ExternalLoader", board.external_loader) if base else \
        os.path.join("ExternalLoader", board.external_loader)


class Stm32ProgramRequest(Request):
    image: Optional[str] = None
    board: Optional[str] = None
    probe: Optional[list] = None
    list: bool = False
    cli: Optional[str] = None
    external_loader: Optional[str] = None
    dry_run: bool = False
    no_reset: bool = False
    dac_key_in_secure_storage: bool = False  # the board signs with a key in CKS (no tag 5)


def list_probes(runner: Runner, cli: str) -> list[Probe]:
    return parse_probes(runner.output([cli, "-l"]))


def check_image(path: str, board, key_in_secure_storage: bool = False) -> bytes:
    """The image must be one the board's reader accepts: refused before any probe is
    touched."""
    from ..files.inputs import read_file
    from ..formats import get_format
    from ..formats.base import ERROR

    if Path(path).suffix.lower() != ".bin":
        raise InputError(f"{OPT.image} {path}: give the .bin image (it is written at the board's "
                         f"address 0x{board.address:08X})")
    fmt = get_format("stm32-tlv", board.name, key_in_secure_storage=key_in_secure_storage)
    data = read_file(path, OPT.image)
    errors = [p for p in fmt.lint(fmt.decode(data, path)) if p.severity == ERROR]
    if errors:
        more = f" (and {len(errors) - 1} more; see `show {OPT.format} stm32-tlv`)" \
            if len(errors) > 1 else ""
        raise InputError(f"{OPT.image} {path}: {errors[0]}{more}")
    return data


def stm32_program_command(args: Stm32ProgramRequest, ui) -> int:
    from ..formats.stm32_boards import get_board

    runner = Runner(args.dry_run, ui)
    for serial in args.probe or []:
        check_probe(serial)
    if args.list:
        cli = find_cli(args.cli, runner)
        for probe in list_probes(runner, cli):
            ui.info(printable(f"{probe.sn}  board {probe.board or '?'}  port "
                              f"{probe.port or '?'}"))
        return 0
    if not args.board:
        raise InputError(f"{OPT.board} is required: wb5mm-dk or wba65 (the board gives the address "
                         "and whether the external loader is needed)")
    if not args.image:
        raise InputError(f"{OPT.image} is required: the factory data .bin to write (or {OPT.list})")
    board = get_board(args.board)
    assert board is not None  # args.board is given (checked above)
    data = check_image(args.image, board, args.dac_key_in_secure_storage)
    cli = find_cli(args.cli, runner)
    sns = list(args.probe or [])
    if not sns:
        sns = [probe.sn for probe in list_probes(runner, cli)]
        if not sns:
            if args.dry_run:
                ui.info(f"dry run: give {OPT.probe} to see the programming commands")
                return 0
            raise FactoryDataError(f"{CLI} -l lists no ST-LINK probe; connect the boards or "
                                   f"give {OPT.probe}")
    loader = args.external_loader or default_loader(cli, board)
    ui.info(f"factory data: {args.image} ({len(data)} bytes) at 0x{board.address:08X} on "
            f"{board.title}, {len(sns)} probe(s)")
    return _program_each(runner, sns, cli, board, args, loader, ui, data)


def _program_each(runner: Runner, sns: list, cli: str, board, args, loader, ui,
                  data: bytes) -> int:
    failed = 0
    for done, sn in enumerate(sns, 1):
        argv = program_argv(cli, board, args.image, sn, loader=loader, reset=not args.no_reset)
        try:
            runner.run(argv)
        except (CommandFailed, FactoryDataError) as exc:
            failed += 1
            step_failed(ui, exc, f"ST-LINK {sn}: {exc}", {"probe": sn})
        else:
            _programmed(ui, sn, args, data, board)
        event(ui, "progress", done=done, total=len(sns))
    if failed:
        ui.error(f"{failed} of {len(sns)} device(s) failed; the others are programmed")
        return 1
    return 0


def _programmed(ui, sn: str, args, data: bytes, board) -> None:
    if not args.dry_run:
        ui.info(f"ST-LINK {sn}: programmed and verified" + ("" if args.no_reset else ", reset"))
        event(ui, "device_programmed", {"probe": sn}, image=str(args.image), bytes=len(data),
              address=board.address, board=board.title, reset=not args.no_reset)
