"""Intel HEX images: written by hand (a hot path of ``batch``), read with ``intelhex``.

Output is byte-identical to ``IntelHex.write_hex_file(..., write_start_addr=True)`` of the
reference (``tests/test_hexfile.py`` proves it over random offsets and sizes): 16-byte
records from the first address, none crossing a 64 KiB boundary, upper-case hex, an
extended linear address record first when the data ends above 0xFFFF and again at every
64 KiB boundary, no start address, ``:00000001FF`` last. Lines always end in LF so the
bytes do not depend on the platform. intelhex took ~0.8 ms for a 1 KiB image, more than a
device's DAC; this takes ~0.03 ms (the record layout is cached per offset and length).
"""

from __future__ import annotations

import functools
import io

from ..errors import OPT, InputError


def to_hex_text(offset: int, data: bytes) -> str:
    """Intel HEX text of ``data`` placed at absolute address ``offset``."""
    if offset < 0 or offset + len(data) > 0x1_0000_0000:
        raise InputError(f"data of {len(data)} bytes at 0x{offset:x} does not fit the 32-bit "
                         "address space of Intel HEX")
    text = data.hex().upper()
    digits = _DIGITS
    lines = [prefix + text[2 * start:2 * stop] + digits[(base - sum(data[start:stop])) & 0xFF]
             if stop else prefix for start, stop, prefix, base in _layout(offset, len(data))]
    lines.append(":00000001FF\n")
    return "\n".join(lines)


_DIGITS = tuple(f"{value:02X}" for value in range(256))


@functools.lru_cache(maxsize=64)
def _layout(offset: int, length: int) -> tuple:
    """The records of ``length`` bytes at ``offset``, the same for every image of that length
    (a batch's images differ in a few lengths only): ``(start, stop, prefix, base)`` of a data
    record (its bytes ``data[start:stop]``, the text before them, and minus the sum of its
    count and address bytes, from which the checksum follows), or ``(0, 0, line, 0)`` of an
    extended linear address record (a whole line)."""
    end = offset + length
    extended = end - 1 > 0xFFFF
    records: list = []
    address = offset
    while address < end:
        if extended and (address == offset or address & 0xFFFF == 0):
            upper = address >> 16
            checksum = -(6 + (upper >> 8) + (upper & 0xFF)) & 0xFF
            records.append((0, 0, f":02000004{upper:04X}{checksum:02X}", 0))
        stop = min(address + 16, end, (address | 0xFFFF) + 1)
        count = stop - address
        records.append((address - offset, stop - offset, f":{count:02X}{address & 0xFFFF:04X}00",
                        -(count + ((address >> 8) & 0xFF) + (address & 0xFF))))
        address = stop
    return tuple(records)


def from_hex_text(text: str, source: str = "hex file") -> list[tuple[int, bytes]]:
    """The contiguous segments of an Intel HEX file as ``(address, bytes)``, sorted."""
    from intelhex import IntelHex, IntelHexError

    image = IntelHex()
    try:
        image.loadhex(io.StringIO(text))
    except (IntelHexError, ValueError) as exc:
        raise InputError(f"{source}: not a valid Intel HEX file ({exc})") from None
    return [(start, image.tobinstr(start=start, end=end - 1)) for start, end in image.segments()]


def segment_at(segments: list[tuple[int, bytes]], address: int | None,
               source: str = "hex file") -> tuple[int, bytes]:
    """The segment starting at ``address`` (the lowest one when None)."""
    if not segments:
        raise InputError(f"{source}: the Intel HEX file holds no data")
    if address is None:
        if len(segments) > 1:
            where = ", ".join(f"0x{s:x}" for s, _ in segments)
            raise InputError(f"{source}: holds {len(segments)} segments (at {where}); give "
                             f"{OPT.offset} with the address of the factory data partition")
        return segments[0]
    for start, data in segments:
        if start <= address < start + len(data):
            return address, data[address - start:]
    where = ", ".join(f"0x{s:x}..0x{s + len(d):x}" for s, d in segments)
    raise InputError(f"{source}: no data at 0x{address:x} (the file covers {where})")
