"""The console script ``matter-factory-data``: the command table, the parser built from it, and
the one place where errors become messages and exit codes (:func:`run`, through
:func:`.boundary.guarded`): 0 success, 1 a check or an operation failed (verification, layout,
``--strict`` findings, partition too small, I/O, a programmer's failure), 2 bad input or usage
(also an output that exists without ``--overwrite`` and a missing programmer); the README's
table gives them per command.

Each command's options and its hand-off to the typed command body live in
``cli/commands/<command>.py``; options shared by several commands in :mod:`.options`; the
parser class in :mod:`.parser`. Heavy modules are imported only by the command that needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Callable, Optional

from ..ui import UI  # re-exported for the front ends
from .commands.attest import add_attest_arguments, run_attest
from .commands.batch import add_batch_arguments, run_batch
from .commands.build_step import add_build_step_arguments, run_build_step
from .commands.check import add_check_arguments, run_check
from .commands.codes import add_codes_arguments, run_codes
from .commands.flash import add_flash_arguments, run_flash
from .commands.generate import add_generate_arguments, run_generate
from .commands.labels import add_labels_arguments, run_labels
from .commands.ledger import add_ledger_command_arguments, run_ledger
from .commands.menuconfig import add_menuconfig_arguments, run_menuconfig
from .commands.merge import add_merge_arguments, run_merge
from .commands.partition import add_partition_arguments, run_partition
from .commands.provision import add_provision_arguments, run_provision
from .commands.show import add_show_arguments, run_show
from .commands.stm32_program import add_stm32_program_arguments, run_stm32_program
from .commands.verify import add_verify_arguments, run_verify
from .options import (  # re-exported: tests and station scripts use them from here
    _PLUMBING,
    BOARD_CHOICES,
    COLOR_CHOICES,
    FIND_BUILD_DIR,
    FINISH_CHOICES,
    FORMAT_CHOICES,
    add_build_dir_argument,
    add_field_arguments,
    add_format_arguments,
    any_int,
    base64_bytes,
    decimal_int,
    refuse_options_besides,
    request_from,
)
from .parser import Parser, abbreviable_from

PROG = "matter-factory-data"

__all__ = [
    "BOARD_CHOICES", "COLOR_CHOICES", "COMMANDS", "FIND_BUILD_DIR", "FINISH_CHOICES",
    "FORMAT_CHOICES", "PROG", "UI", "Parser", "abbreviable_from", "add_batch_arguments",
    "add_build_dir_argument", "add_build_step_arguments", "add_check_arguments",
    "add_codes_arguments", "add_commands", "add_field_arguments", "add_flash_arguments",
    "add_format_arguments", "add_generate_arguments", "add_menuconfig_arguments",
    "add_merge_arguments", "add_partition_arguments", "add_provision_arguments",
    "add_show_arguments", "add_stm32_program_arguments", "add_verify_arguments", "any_int",
    "base64_bytes", "build_parser", "command_namespace", "decimal_int", "main",
    "refuse_options_besides", "request_from", "run", "run_batch", "run_build_step",
    "run_check", "run_codes", "run_flash", "run_generate", "run_menuconfig", "run_merge",
    "run_partition", "run_provision", "run_show", "run_stm32_program", "run_verify",
]


def command_namespace(args: argparse.Namespace) -> argparse.Namespace:
    """Only the chosen command's own options (west adds its global ones, such as
    ``zephyr_base``, to the same namespace)."""
    _, add_arguments, _ = COMMANDS[args.command]
    parser = Parser(prog=args.command)
    add_arguments(parser)
    keep = {action.dest for action in parser._actions} | _PLUMBING
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if k in keep})


# --- the command table, shared with the west command --------------------------

COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "generate": ("generate nRF Connect factory data (JSON, and HEX/BIN, codes, certificates)",
                 add_generate_arguments, run_generate),
    "partition": ("convert a factory data JSON file into the .hex/.bin partition image",
                  add_partition_arguments, run_partition),
    "show": ("summarise a .hex/.bin/.json (or print its JSON form) and lint it as the device "
             "parser would",
             add_show_arguments, run_show),
    "verify": ("check an image against its certificates, verifier and onboarding codes",
               add_verify_arguments, run_verify),
    "attest": ("check an image or a lot as a commissioner does: DAC -> PAI -> a PAA of "
               "--paa-store, the CD against --cd-store, the VID/PID rules",
               add_attest_arguments, run_attest),
    "codes": ("print the QR payload and manual pairing code", add_codes_arguments, run_codes),
    "batch": ("factory data for N devices, each with its own identity (DAC, passcode, "
              "discriminator, ...), in parallel, resumable, with a manifest",
              add_batch_arguments, run_batch),
    "labels": ("print labels of a batch lot: per device the QR code as PNG and/or SVG at a "
               "size in mm and a printer DPI, and labels.csv (serial, manual code, QR payload)",
               add_labels_arguments, run_labels),
    "check": ("check the factory_data partition of a pm_static.yml, partitions.yml or build "
              "directory", add_check_arguments, run_check),
    "build-step": ("the factory data step of a Zephyr build (run by the module's CMake)",
                   add_build_step_arguments, run_build_step),
    "flash": ("program only the factory data hex into a connected nRF device "
              "(nrfjprog or nrfutil)", add_flash_arguments, run_flash),
    "stm32-program": ("write an STM32 factory data image with STM32CubeProgrammer over "
                      "ST-LINK, on one or several probes; --list lists them",
                      add_stm32_program_arguments, run_stm32_program),
    "provision": ("provisioning station: serve several STM32 boards at once over their "
                  "UARTs (our CSR protocol, or ST's finish:NNN demo), outcomes to a manifest",
                  add_provision_arguments, run_provision),
    "ledger": ("the identity ledger of a factory line: stats, export (DAC serials per PAI, "
               "CSV/JSON), import of a batch lot, report of a device", add_ledger_command_arguments,
               run_ledger),
    "merge": ("merge the firmware hex and the factory data hex into one hex",
              add_merge_arguments, run_merge),
    "menuconfig": ("edit the factory data Kconfig symbols of a build's .config or of a .conf "
                   "fragment (kconfiglib menuconfig, or --set)", add_menuconfig_arguments,
                   run_menuconfig),
}


def add_commands(subparsers, only: Optional[str] = None, names_only: bool = False) -> None:
    """Register the commands on an argparse sub-parser action (just ``only`` when given;
    without their options when ``names_only``: enough for the top-level help and errors)."""
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        if only is None or name == only:
            sub = subparsers.add_parser(name, help=help_text, description=help_text)
            if not names_only:
                add_arguments(sub)
            sub.set_defaults(run=run, command=name)


def build_parser(argv: Optional[Sequence[str]] = None) -> Parser:
    """The console script's parser. When ``argv`` names a command, only that command's
    sub-parser is built (building all of them costs ~15 ms of every run); when it names none
    (``--help``, ``--version``, a mistyped command), only the command names are needed."""
    parser = Parser(prog=PROG, description="Matter factory data for nRF Connect SDK / Zephyr.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(metavar="COMMAND", parser_class=Parser)
    subparsers.required = True
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    add_commands(subparsers, only=chosen, names_only=argv is not None and chosen is None)
    return parser


#: The commands whose ``--json`` prints NDJSON events for line software (docs/events.md).
EVENT_COMMANDS = ("batch", "verify", "flash", "stm32-program", "provision")


def run(args: argparse.Namespace, ui: UI) -> int:
    """Run a parsed command; turn every expected error into one line and an exit code.
    With ``--json`` on a command of :data:`EVENT_COMMANDS`, stdout carries only the NDJSON
    events (``run_started`` ... ``run_finished``); the human text goes to stderr."""
    from .boundary import guarded

    if not (getattr(args, "json", False) and getattr(args, "command", None) in EVENT_COMMANDS):
        return guarded(lambda: args.run(args, ui), ui)
    from ..events import Events

    events = Events(ui.out, station=getattr(args, "station", None), command=args.command)
    ui.events = events
    ui.out = ui.err  # stdout is the line software's: one event per line, nothing else
    try:
        events.emit("run_started", command=args.command, argv=_shown_argv(args))
        code = guarded(lambda: args.run(args, ui), ui)
        with contextlib.suppress(OSError):  # the reader went away: the exit code tells
            events.finished(code)
        return code
    finally:
        ui.out, ui.events = events.stream, None


def _shown_argv(args: argparse.Namespace) -> dict:
    """The options of a run as run_started shows them (those given a value): plain values
    only; an option named for a secret (passcode, key, PIN, salt, verifier, onboarding code)
    is left out, a text with a PKCS#11 ``pin-value`` is shown as ``(given)``, and a URL's
    password (``user:password@``, ``password=``) as ``***``."""
    import re

    secret_words = ("passcode", "key", "pin", "salt", "verifier", "qr", "manual")
    shown: dict = {}
    for name, value in sorted(vars(args).items()):
        if name in ("run", "command", "json") or value is None or callable(value) or any(
                word in name.lower() for word in secret_words):
            continue
        if isinstance(value, str):
            value = re.sub(r"(://)[^/@]*@", r"\1***@", value)
            value = re.sub(r"(?i)(password=)[^&\s]*", r"\1***", value)
            shown[name] = "(given)" if "pin-value" in value.lower() else value
        elif isinstance(value, (bool, int, float)):
            shown[name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
            shown[name] = [str(v) for v in value]
        else:
            shown[name] = "(given)"
    return shown


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:  # a usage error: with --json also as events on stdout
        if exc.code == 2 and argv and argv[0] in EVENT_COMMANDS and "--json" in argv:
            _usage_events(argv[0], Parser.last_error)
        raise
    return run(args, UI())  # the boundary also ends a closed pipe quietly


def _usage_events(command: str, message: str) -> None:
    """run_started, an INPUT_INVALID error and run_finished for a command line argparse
    refused (its one line is already on stderr)."""
    from ..errors import InputError
    from ..events import Events
    from .boundary import one_line

    events = Events(sys.stdout, command=command)
    events.emit("run_started", command=command, argv={})
    events.error(InputError(message), one_line(message))
    events.finished(2)


if __name__ == "__main__":
    sys.exit(main())
