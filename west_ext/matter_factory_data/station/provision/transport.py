"""Bytes over a serial port, through pyserial."""

from __future__ import annotations

import time
from typing import Optional

BAUD = 115200  # ST's provisioning firmware: USART1 115200 8N1, no flow control


class PortGone(Exception):
    """The port vanished or failed (board unplugged, USB reset)."""


class SerialTransport:
    """A serial port opened with a short read timeout; ``read`` waits up to a deadline."""

    def __init__(self, port: str, baud: int = BAUD) -> None:
        import serial

        self.port = port
        try:
            self._serial = serial.Serial(port, baud, timeout=0.05, write_timeout=2)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortGone(f"cannot open {port} ({_reason(exc)})") from None

    def read(self, deadline: float) -> bytes:
        """What arrives before ``deadline`` (time.monotonic()); b"" when nothing does."""
        import serial

        while True:
            try:
                waiting = self._serial.in_waiting
                data = self._serial.read(max(1, waiting))
            except (serial.SerialException, OSError) as exc:
                raise PortGone(f"{self.port} vanished ({_reason(exc)})") from None
            if data or time.monotonic() >= deadline:
                return data

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortGone(f"{self.port} vanished ({_reason(exc)})") from None

    def close(self) -> None:
        try:
            self._serial.close()
        except Exception:  # closing a vanished port may fail; nothing to do about it
            pass


def _reason(exc: Exception) -> str:
    text: Optional[str] = getattr(exc, "strerror", None) or str(exc)
    return (text or type(exc).__name__).strip().splitlines()[0]
