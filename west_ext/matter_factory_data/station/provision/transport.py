"""Bytes over a serial port, through pyserial."""

from __future__ import annotations

import contextlib
import time
from typing import Optional

BAUD = 115200  # ST's provisioning firmware: USART1 115200 8N1, no flow control


class PortGone(Exception):
    """The port vanished or failed (board unplugged, USB reset)."""


def _port_errors() -> tuple:
    """What pyserial raises when a port vanishes: SerialException, OSError, and on POSIX
    termios.error (from tcdrain/tcsetattr), which is not an OSError."""
    import serial

    errors: tuple = (serial.SerialException, OSError, ValueError)
    try:
        import termios

        errors += (termios.error,)
    except ImportError:  # Windows
        pass
    return errors


class SerialTransport:
    """A serial port opened with a short read timeout; ``read`` waits up to a deadline."""

    def __init__(self, port: str, baud: int = BAUD) -> None:
        import serial

        self.port = port
        try:
            self._serial = serial.Serial(port, baud, timeout=0.05, write_timeout=2)
        except _port_errors() as exc:
            raise PortGone(f"cannot open {port} ({_reason(exc)})") from None

    def read(self, deadline: float) -> bytes:
        """What arrives before ``deadline`` (time.monotonic()); b"" when nothing does."""
        while True:
            try:
                waiting = self._serial.in_waiting
                data = self._serial.read(max(1, waiting))
            except _port_errors() as exc:
                raise PortGone(f"{self.port} vanished ({_reason(exc)})") from None
            if data or time.monotonic() >= deadline:
                return data

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
            self._serial.flush()
        except _port_errors() as exc:
            raise PortGone(f"{self.port} vanished ({_reason(exc)})") from None

    def close(self) -> None:
        # closing a vanished port may fail; nothing to do about it
        with contextlib.suppress(Exception):
            self._serial.close()


def _reason(exc: Exception) -> str:
    text: Optional[str] = getattr(exc, "strerror", None) or \
        (exc.args[-1] if exc.args and isinstance(exc.args[-1], str) else str(exc))
    return (text or type(exc).__name__).strip().splitlines()[0]
