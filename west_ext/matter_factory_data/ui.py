"""Where command bodies report: a small output object the front ends provide.

The console script uses this one (stdout/stderr); ``west factory-data`` swaps in west's
output helpers; a factory station can capture everything by passing its own.
"""

from __future__ import annotations

import sys
from typing import Any


class UI:
    """Where commands report; the west command swaps in its own output helpers."""

    def __init__(self, out=None, err=None, verbose: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.verbose = verbose
        #: The NDJSON sink of ``--json`` (an :class:`~.events.Events`), or None.
        self.events: Any = None

    def event(self, name: str, device: dict | None = None, **data) -> None:
        """An event for line software (see :func:`event`)."""
        event(self, name, device, **data)

    def info(self, message: str) -> None:
        print(message, file=self.out)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.err)

    def error(self, message: str) -> None:
        print(f"error: {message}", file=self.err)

    def note(self, message: str) -> None:
        """A remark about how the command understood its input (stderr, never stdout)."""
        print(f"note: {message}", file=self.err)

    def is_terminal(self) -> bool:
        """Whether a live progress line can be drawn (stderr is a terminal)."""
        isatty = getattr(self.err, "isatty", None)
        return bool(isatty and isatty())

    def progress(self, text: str) -> None:
        """Part of a live progress line: no newline added."""
        self.err.write(text)
        self.err.flush()



def event(ui, name: str, device: dict | None = None, **data) -> None:
    """An event for line software (``device_programmed``, ``device_readback``, ...; see
    events.py): written when ``--json`` gave ``ui`` a sink (its ``events``), else nothing.
    A function, so that command bodies can report through any UI-like object a station
    script passes (one without ``events`` has no sink)."""
    sink = getattr(ui, "events", None)
    if sink is not None:
        sink.emit(name, device, **data)


def failed(ui, exc: BaseException, message: str, device: dict | None = None) -> None:
    """A step failed but the command goes on (one probe of several): the error line, and
    with ``--json`` an ``error`` event with the stable code of ``exc``."""
    ui.error(message)
    sink = getattr(ui, "events", None)
    if sink is not None:
        sink.error(exc, message, device)
