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
from .commands.generate import add_generate_arguments, run_generate
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

#: The other commands' add_<command>_arguments/run_<command> are re-exported lazily
#: (:func:`__getattr__`).
__all__ = [
    "BOARD_CHOICES", "COLOR_CHOICES", "COMMANDS", "FIND_BUILD_DIR", "FINISH_CHOICES",
    "FORMAT_CHOICES", "PROG", "UI", "Parser", "abbreviable_from", "add_build_dir_argument",
    "add_commands", "add_field_arguments", "add_format_arguments", "add_generate_arguments",
    "any_int", "base64_bytes", "build_parser", "command_namespace", "decimal_int", "main",
    "refuse_options_besides", "request_from", "run", "run_generate",
]


def _command_module(command: str):
    """The module of ``command`` in ``cli/commands/``, imported on first use: a run loads
    only its own command's module (``generate``'s is imported above)."""
    if command == "attest":
        from .commands import attest

        return attest
    if command == "batch":
        from .commands import batch

        return batch
    if command == "build-step":
        from .commands import build_step

        return build_step
    if command == "check":
        from .commands import check

        return check
    if command == "codes":
        from .commands import codes

        return codes
    if command == "flash":
        from .commands import flash

        return flash
    if command == "labels":
        from .commands import labels

        return labels
    if command == "ledger":
        from .commands import ledger

        return ledger
    if command == "menuconfig":
        from .commands import menuconfig

        return menuconfig
    if command == "merge":
        from .commands import merge

        return merge
    if command == "partition":
        from .commands import partition

        return partition
    if command == "provision":
        from .commands import provision

        return provision
    if command == "show":
        from .commands import show

        return show
    if command == "stm32-program":
        from .commands import stm32_program

        return stm32_program
    if command == "verify":
        from .commands import verify

        return verify
    raise KeyError(command)


class _Deferred:
    """A command's ``add_<command>_arguments`` or ``run_<command>``, imported on first call."""

    __slots__ = ("command", "name")

    def __init__(self, command: str, name: str) -> None:
        self.command, self.name = command, name

    def __call__(self, *args, **kwargs):
        return getattr(_command_module(self.command), self.name)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.name} of cli/commands, imported on first use>"


#: The re-exported functions of the other commands (``app.add_batch_arguments``, ...):
#: name -> command, resolved by :func:`__getattr__` on first access.
_REEXPORTED = {
    f"{prefix}{stem}{suffix}": command
    for command, stem in (
        ("attest", "attest"), ("batch", "batch"), ("build-step", "build_step"),
        ("check", "check"), ("codes", "codes"), ("flash", "flash"), ("labels", "labels"),
        ("menuconfig", "menuconfig"), ("merge", "merge"), ("partition", "partition"),
        ("provision", "provision"), ("show", "show"), ("stm32-program", "stm32_program"),
        ("verify", "verify"))
    for prefix, suffix in (("add_", "_arguments"), ("run_", ""))
}
_REEXPORTED.update(add_ledger_command_arguments="ledger", run_ledger="ledger")


def __getattr__(name: str):
    command = _REEXPORTED.get(name)
    if command is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_command_module(command), name)


def _deferred(command: str) -> tuple[Callable, Callable]:
    """``(add_<command>_arguments, run_<command>)`` of a command, imported on first call."""
    stem = command.replace("-", "_")
    add = "add_ledger_command_arguments" if command == "ledger" else f"add_{stem}_arguments"
    return _Deferred(command, add), _Deferred(command, f"run_{stem}")


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
                  *_deferred("partition")),
    "show": ("summarise a .hex/.bin/.json (or print its JSON form) and lint it as the device "
             "parser would",
             *_deferred("show")),
    "verify": ("check an image against its certificates, verifier and onboarding codes",
               *_deferred("verify")),
    "attest": ("check an image or a lot as a commissioner does: DAC -> PAI -> a PAA of "
               "--paa-store, the CD against --cd-store, the VID/PID rules",
               *_deferred("attest")),
    "codes": ("print the QR payload and manual pairing code", *_deferred("codes")),
    "batch": ("factory data for N devices, each with its own identity (DAC, passcode, "
              "discriminator, ...), in parallel, resumable, with a manifest",
              *_deferred("batch")),
    "labels": ("print labels of a batch lot: per device the QR code as PNG and/or SVG at a "
               "size in mm and a printer DPI, and labels.csv (serial, manual code, QR payload)",
               *_deferred("labels")),
    "check": ("check the factory_data partition of a pm_static.yml, partitions.yml or build "
              "directory", *_deferred("check")),
    "build-step": ("the factory data step of a Zephyr build (run by the module's CMake)",
                   *_deferred("build-step")),
    "flash": ("program only the factory data hex into a connected nRF device "
              "(nrfjprog or nrfutil)", *_deferred("flash")),
    "stm32-program": ("write an STM32 factory data image with STM32CubeProgrammer over "
                      "ST-LINK, on one or several probes; --list lists them",
                      *_deferred("stm32-program")),
    "provision": ("provisioning station: serve several STM32 boards at once over their "
                  "UARTs (our CSR protocol, or ST's finish:NNN demo), outcomes to a manifest",
                  *_deferred("provision")),
    "ledger": ("the identity ledger of a factory line: stats, export (DAC serials per PAI, "
               "CSV/JSON), import of a batch lot, report of a device", *_deferred("ledger")),
    "merge": ("merge the firmware hex and the factory data hex into one hex",
              *_deferred("merge")),
    "menuconfig": ("edit the factory data Kconfig symbols of a build's .config or of a .conf "
                   "fragment (kconfiglib menuconfig, or --set)", *_deferred("menuconfig")),
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


#: Commands that make or read one device's data and end: the console script leaves Python's
#: cyclic garbage collector off for them (see :func:`matter_factory_data.cli.main`).
ONE_SHOT_COMMANDS = ("generate",)


def run(args: argparse.Namespace, ui: UI) -> int:
    """Run a parsed command; turn every expected error into one line and an exit code.
    With ``--json`` on a command of :data:`EVENT_COMMANDS`, stdout carries only the NDJSON
    events (``run_started`` ... ``run_finished``); the human text goes to stderr."""
    from .boundary import guarded

    if getattr(args, "command", None) not in ONE_SHOT_COMMANDS:
        import gc

        gc.enable()  # batch, provision, verify DIR, ...: long runs, many objects

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
