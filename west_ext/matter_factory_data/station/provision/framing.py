"""Frames of our production protocol (MFD1), one ASCII line each, on a UART shared with logs.

::

    frame   = "@MFD1" SP kind SP payload SP crc LF        (CR before LF is allowed)
    kind    = "HELLO" / "CSR" / "DAC" / "PAI" / "STATUS" / "ERROR"
    payload = base64 (RFC 4648, with padding) of the payload bytes, or "-" when empty
    crc     = 8 upper-case hex digits: CRC-32 (IEEE 802.3, zlib.crc32) of the ASCII text
              kind SP payload

At most :data:`MAX_LINE` bytes per line. Lines that do not start with ``@MFD1`` are the
firmware's debug output and are skipped; a line that does but is malformed (bad CRC,
bad base64, unknown kind, too long) is reported as a bad frame.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import NamedTuple, Union

MAGIC = b"@MFD1"
KINDS = ("HELLO", "CSR", "DAC", "PAI", "STATUS", "ERROR")
MAX_LINE = 8192


class Frame(NamedTuple):
    kind: str
    payload: bytes


class BadFrame(NamedTuple):
    reason: str


def encode_frame(kind: str, payload: bytes = b"") -> bytes:
    if kind not in KINDS:
        raise ValueError(f"unknown frame kind {kind!r}")
    body = f"{kind} {base64.b64encode(payload).decode('ascii') if payload else '-'}"
    return b"%s %s %08X\n" % (MAGIC, body.encode("ascii"), zlib.crc32(body.encode("ascii")))


def decode_line(line: bytes) -> Union[Frame, BadFrame]:
    """One ``@MFD1`` line (without its LF) as a frame, or why it is not one."""
    parts = line.rstrip(b"\r").split(b" ")
    if len(parts) != 4 or parts[0] != MAGIC:
        return BadFrame("not four space-separated fields")
    kind, payload, crc = (p.decode("ascii", "replace") for p in parts[1:])
    body = f"{kind} {payload}"
    if crc != f"{zlib.crc32(body.encode('ascii', 'replace')):08X}":
        return BadFrame(f"CRC mismatch on a {kind[:8]!r} frame")
    if kind not in KINDS:
        return BadFrame(f"unknown kind {kind[:16]!r}")
    if payload == "-":
        return Frame(kind, b"")
    try:
        return Frame(kind, base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        return BadFrame(f"bad base64 in a {kind} frame")


class FrameReader:
    """Splits incoming bytes into lines; yields frames and bad frames, counts other bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.other_bytes = 0  # log text and noise, outside frames

    def feed(self, data: bytes) -> list:
        self._buffer += data
        out: list = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    out += self._overflow()
                return out
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            start = line.find(MAGIC)
            if start < 0:
                self.other_bytes += len(line) + 1
                continue
            self.other_bytes += start
            out.append(decode_line(line[start:]) if end <= MAX_LINE else
                       BadFrame("frame longer than 8192 bytes"))

    def _overflow(self) -> list:
        start = self._buffer.find(MAGIC)
        if start < 0:  # log text without a newline: keep only a possible start of MAGIC
            self.other_bytes += len(self._buffer) - len(MAGIC)
            del self._buffer[:-len(MAGIC)]
            return []
        if start > 0:
            self.other_bytes += start
            del self._buffer[:start]
            if len(self._buffer) <= MAX_LINE:
                return []
        self._buffer.clear()
        return [BadFrame("frame longer than 8192 bytes")]
