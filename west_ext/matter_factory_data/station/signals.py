"""SIGTERM and SIGHUP end a station run like Ctrl-C: the main thread gets a KeyboardInterrupt
(the first time; a repeated signal is ignored while in-flight work is finished or recorded),
and the command's own Ctrl-C handling stops taking work, records what is in flight and exits
non-zero. A service manager's stop (SIGTERM) or a closed terminal (SIGHUP) thus never loses a
record."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class Received:
    """The stop signal received, if any (its name, e.g. ``SIGTERM``)."""

    def __init__(self) -> None:
        self.name = ""

    def describe(self, default: str = "interrupted") -> str:
        return f"stopped by {self.name}" if self.name else default


@contextmanager
def stop_on_signals() -> Iterator[Received]:
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may install handlers
        return

    def handler(signum, frame) -> None:
        if received.name:
            return  # already stopping: let the in-flight work be recorded
        received.name = signal.Signals(signum).name
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield received
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
