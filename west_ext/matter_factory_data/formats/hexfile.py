"""Intel HEX images through the ``intelhex`` library.

Output matches ``IntelHex.write_hex_file(..., write_start_addr=True)`` of the reference:
16-byte records, upper-case hex, an extended linear address record when needed, no
start address, ``:00000001FF`` last. Lines always end in LF so the bytes do not
depend on the platform.
"""

from __future__ import annotations

import io

from ..errors import OPT, InputError


def to_hex_text(offset: int, data: bytes) -> str:
    """Intel HEX text of ``data`` placed at absolute address ``offset``."""
    from intelhex import IntelHex

    image = IntelHex()
    image.frombytes(data, offset=offset)
    out = io.StringIO()
    image.write_hex_file(out, write_start_addr=True)
    return out.getvalue()


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
