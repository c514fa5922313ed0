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
from typing import NamedTuple, Optional

from ..errors import OPT, InputError


def to_hex_text(offset: int, data: bytes) -> str:
    """Intel HEX text of ``data`` placed at absolute address ``offset``."""
    if offset < 0 or offset + len(data) > 0x1_0000_0000:
        raise InputError(f"data of {len(data)} bytes at 0x{offset:x} does not fit the 32-bit "
                         "address space of Intel HEX")
    text = data.hex().upper()
    sums = _sums(offset, data)
    if sums is not None:  # every checksum at once
        plan = sums[1]
        lines = [prefix + text[start:stop] + sums[0][at:at + 2] if at >= 0 else prefix
                 for prefix, start, stop, at in plan.pieces]
    else:
        digits = _DIGITS
        lines = [prefix + text[2 * start:2 * stop] +
                 digits[(base - sum(data[start:stop])) & 0xFF]
                 if stop else prefix for start, stop, prefix, base in _layout(offset, len(data))]
    lines.append(":00000001FF\n")
    return "\n".join(lines)


def _sums(offset: int, data: bytes):
    """(the checksums of all data records as upper-case hex, their plan) when the records
    are the data's consecutive 16-byte chunks (the last one shorter): the bytes of each chunk
    summed in 128-bit lanes of one integer (pairs, then quads, then 8 and 16 bytes: no lane
    overflows into the next), subtracted from each record's header sum plus 4096 (a multiple
    of 256 that keeps every lane positive); None for any other layout."""
    plan = _lane_plan(offset, len(data))
    if plan is None:
        return None
    records = plan.records
    value = int.from_bytes(data, "big") << (8 * (16 * records - len(data)))
    for mask, shift in plan.masks:
        value = (value & mask) + ((value >> shift) & mask)
    return (plan.bases - value).to_bytes(16 * records, "big")[15::16].hex().upper(), plan


class _LanePlan(NamedTuple):
    records: int  # data records
    masks: tuple  # (mask, shift) of the four folding steps
    bases: int  # per 128-bit lane: (minus the header sum) mod 256, plus 4096
    pieces: tuple  # per line: (prefix, hex start, hex stop, checksum at) or (line, 0, 0, -1)


@functools.lru_cache(maxsize=64)
def _lane_plan(offset: int, length: int) -> Optional[_LanePlan]:
    layout = _layout(offset, length)
    data_records = [record for record in layout if record[1]]
    for index, (start, stop, _, _) in enumerate(data_records):
        if start != 16 * index or stop != min(16 * index + 16, length):
            return None  # a record cut at a 64 KiB boundary off the 16-byte grid
    count = len(data_records)
    masks = tuple((int.from_bytes((bytes(width) + b"\xff" * width) * (8 * count // width),
                                  "big"), 8 * width) for width in (1, 2, 4, 8))
    bases = int.from_bytes(b"".join(((base & 0xFF) + 4096).to_bytes(16, "big")
                                    for _, _, _, base in data_records), "big")
    pieces, index = [], 0
    for start, stop, prefix, _ in layout:
        if stop:
            pieces.append((prefix, 2 * start, 2 * stop, 2 * index))
            index += 1
        else:
            pieces.append((prefix, 0, 0, -1))
    return _LanePlan(count, masks, bases, tuple(pieces))


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
