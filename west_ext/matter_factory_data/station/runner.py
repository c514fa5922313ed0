"""The one place where external programs (nrfjprog, nrfutil, STM32_Programmer_CLI) run.

Every command goes through :class:`Runner`: the argv list is logged shlex-quoted, printed
instead of run in dry-run mode, and otherwise executed without a shell. A missing program
raises :class:`~matter_factory_data.errors.MissingProgram`; a non-zero exit raises
:class:`CommandFailed` ("command exited with status N: <cmd>", plus guidance for the
well-known exit codes of the tool).
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from typing import Callable, Optional

from ..errors import OPT, CommandFailed, FactoryDataError, MissingProgram  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

#: How to get each program, for the "not found on PATH" message.
INSTALL_HINTS = {
    "nrfjprog": f"install nRF Command Line Tools or use {OPT.tool} nrfutil",
    "nrfutil": "install nRF Util and its device command ('nrfutil install device') "
               f"or use {OPT.tool} nrfjprog",
    "STM32_Programmer_CLI": "install STM32CubeProgrammer and add its bin directory to PATH, "
                            f"or give {OPT.cli} PATH",
}

#: nrfjprog exit codes (nRF Command Line Tools "nrfjprog return codes") worth explaining.
NRFJPROG_GUIDANCE = {
    16: "the device is protected (APPROTECT); 'nrfjprog --recover' unlocks it but erases "
        "the whole chip, firmware included",
    18: f"the {OPT.family} given does not match the connected device; check {OPT.family} or the "
        "build directory",
    30: "the SEGGER J-Link software is missing; install it (nRF Command Line Tools needs it)",
    33: "the J-Link library reported an error; reconnect the probe and retry",
    40: "no debugger with that serial number; list them with 'nrfjprog --ids'",
    41: "no debugger found; connect the board (USB) or check the J-Link drivers",
    42: "the debugger cannot connect to the device; check power and the debug cable",
    51: "the hex file was not found",
    52: "the hex file is not valid Intel HEX",
    55: "verification failed: the flash does not hold the hex contents after programming",
}

GUIDANCE: dict[str, dict[int, str]] = {"nrfjprog": NRFJPROG_GUIDANCE}


def file_argument(path: str | os.PathLike[str]) -> str:
    """A file as another program's argument: absolute, so that a file named ``--recover``
    or ``-e.bin`` can never be read as one of its options."""
    return os.path.abspath(os.fspath(path))


def printable(text: str) -> str:
    """What another program printed, with control characters escaped (as ``repr`` would)
    before it reaches a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def program_name(program: str) -> str:
    """``/opt/bin/nrfjprog.exe`` -> ``nrfjprog``."""
    name = os.path.basename(program)
    return name[:-4] if name.lower().endswith(".exe") else name


class Runner:
    """Runs argv lists, or only prints them when ``dry_run`` is set.

    ``ui`` needs an ``info(str)`` method; ``which`` is ``shutil.which`` (replaceable in tests).
    """

    def __init__(self, dry_run: bool, ui, *,
                 which: Callable[[str], Optional[str]] = shutil.which) -> None:
        self.dry_run = dry_run
        self.ui = ui
        self._which = which

    def find(self, program: str) -> Optional[str]:
        """Path of ``program`` on PATH, or None."""
        return self._which(program)

    def require(self, program: str) -> str:
        """Path of ``program``; in dry-run mode a missing program is returned by name."""
        path = self.find(program)
        if path:
            return path
        if self.dry_run:
            return program
        hint = INSTALL_HINTS.get(program_name(program), "install it or add it to PATH")
        raise MissingProgram(f"{program} not found on PATH; {hint}")

    def run(self, argv: Sequence[str]) -> None:
        """Run ``argv`` (no shell); raise :class:`CommandFailed` on a non-zero exit."""
        argv = [str(a) for a in argv]
        quoted = shlex.join(argv)
        if self.dry_run:
            log.debug("dry run: %s", quoted)
            self.ui.info(quoted)
            return
        executable = self.require(argv[0])
        log.info("running: %s", quoted)
        if getattr(self.ui, "verbose", False):
            self.ui.info(f"running: {quoted}")
        try:
            # with --json stdout is the events' alone: the program's output goes to stderr
            to_stderr = getattr(self.ui, "events", None) is not None
            returncode = subprocess.call([executable, *argv[1:]], stdout=2 if to_stderr else None)
        except OSError as exc:
            raise FactoryDataError(f"cannot run {argv[0]} ({exc.strerror or exc}): "
                                   f"{quoted}") from None
        if returncode != 0:
            hint = GUIDANCE.get(program_name(argv[0]), {}).get(returncode, "")
            raise CommandFailed(argv, returncode, hint)

    def output(self, argv: Sequence[str]) -> str:
        """Run ``argv`` and return its standard output (for listings such as
        ``STM32_Programmer_CLI -l``); dry run: print it and return ""."""
        argv = [str(a) for a in argv]
        quoted = shlex.join(argv)
        if self.dry_run:
            self.ui.info(quoted)
            return ""
        executable = self.require(argv[0])
        log.info("running: %s", quoted)
        try:
            done = subprocess.run([executable, *argv[1:]], capture_output=True)
        except OSError as exc:
            raise FactoryDataError(f"cannot run {argv[0]} ({exc.strerror or exc}): "
                                   f"{quoted}") from None
        if done.returncode != 0:
            hint = GUIDANCE.get(program_name(argv[0]), {}).get(done.returncode, "")
            raise CommandFailed(argv, done.returncode, hint)
        return done.stdout.decode("utf-8", "replace")
