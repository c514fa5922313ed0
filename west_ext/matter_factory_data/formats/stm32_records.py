"""STM32 (X-CUBE-MATTER) factory data: the wire layout, the tag table, and records <-> bytes.

On flash (what ST's ``genFactoryData.py`` writes)::

    repeat, sorted by tag:  tag u32 LE | length u32 LE | value[length]
    end:                    AC AC AC AC

No header, CRC, alignment or padding; integers little-endian (u16 or u32 by tag), strings
raw UTF-8 without a NUL. The device reader scans from the start: the first record with a
tag wins, the end marker stops the scan, and a record of length 0 or of 603 bytes or more
makes every later lookup fail (PARAM_ERROR): such a record hides all records after it.

A decoded image is a :class:`Records` (a dict of ST tag names to the first record's value,
which also keeps the layout: every record with its offset, duplicates, what follows the end
marker) so that the lint (:mod:`.stm32_lint`) sees what the device sees.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping
from typing import NamedTuple, Optional

from ..errors import InputError
from .base import ERROR, WARNING, Problem

# --- the wire layout -------------------------------------------------------------------

HEADER = struct.Struct(
    "<I"  # tag
    "I"  # length of the value in bytes
)
assert HEADER.size == 8
MAGIC = 0xACACACAC
END_MARKER = struct.pack("<I", MAGIC)
#: The device reader accepts a record when 0 < length < 603 (Get_TagLocation).
MAX_RECORD = 602

INT16, INT32, ARRAY8, STRING = "INT16", "INT32", "ARRAY8", "STRING"
_INT_WIDTH = {INT16: 2, INT32: 4}


class Tag(NamedTuple):
    number: int
    name: str  # genFactoryData's JSON key
    kind: str  # genFactoryData's dataType
    field: Optional[str]  # our model key (core/model.py), when there is one


TAGS: tuple[Tag, ...] = (
    Tag(1, "CERTIFICATION_DECLARATION", ARRAY8, None),
    Tag(2, "FIRMWARE_INFORMATION", ARRAY8, None),
    Tag(3, "DEVICE_ATTESTATION_CERTIFICATE", ARRAY8, "dac_cert"),
    Tag(4, "PAI_CERTIFICATE", ARRAY8, "pai_cert"),
    Tag(5, "DEVICE_ATTESTATION_PRIV_KEY", ARRAY8, "dac_key"),
    Tag(6, "DEVICE_ATTESTATION_PUB_KEY", ARRAY8, None),
    Tag(11, "SETUP_DISCRIMINATOR", INT16, "discriminator"),
    Tag(12, "SPAKE2_ITERATION_COUNT", INT32, "spake2_it"),
    Tag(13, "SPAKE2_SALT", ARRAY8, "spake2_salt"),
    Tag(14, "SPAKE2_VERIFIER", ARRAY8, "spake2_verifier"),
    Tag(15, "SPAKE2_SETUP_PASSCODE", INT32, "passcode"),
    Tag(21, "VENDOR_NAME", STRING, "vendor_name"),
    Tag(22, "VENDOR_ID", INT16, "vendor_id"),
    Tag(23, "PRODUCT_NAME", STRING, "product_name"),
    Tag(24, "PRODUCT_ID", INT16, "product_id"),
    Tag(25, "SERIAL_NUMBER", STRING, "sn"),
    Tag(26, "MANUFACTURING_DATE", STRING, "date"),
    Tag(27, "HARDWARE_VERSION", INT16, "hw_ver"),
    Tag(28, "HARDWARE_VERSION_STRING", STRING, "hw_ver_str"),
    Tag(29, "ROTATING_DEVICE_ID", STRING, None),  # ST stores the hex *text*
    Tag(41, "TAG_ID_ENABLE_KEY", STRING, None),  # ST stores the hex *text*
)
BY_NAME = {t.name: t for t in TAGS}
BY_NUMBER = {t.number: t for t in TAGS}
#: Integers ST's own example writes in hex; the others in decimal.
_HEX_INTS = frozenset({"VENDOR_ID", "PRODUCT_ID", "SETUP_DISCRIMINATOR"})
#: The tags the WB provisioning firmware appends (and refuses to find before the end).
PROVISIONED_TAGS = frozenset({3, 4, 5, 6})


def tag_name(number: int) -> str:
    tag = BY_NUMBER.get(number)
    return tag.name if tag else f"TAG_{number}"


def tag_number(name: str) -> Optional[int]:
    tag = BY_NAME.get(name)
    if tag is not None:
        return tag.number
    match = re.fullmatch(r"TAG_(\d+)", name)
    return int(match.group(1)) if match else None


class Record(NamedTuple):
    offset: int
    tag: int
    value: bytes
    declared: int  # the length field (differs from len(value) when truncated)


class Records(dict):
    """A decoded image: tag name -> value of the first record with that tag (what the
    device reads), plus the layout as scanned."""

    def __init__(self, records: Iterable[Record] = (), *, end: Optional[int] = None,
                 trailing: bytes = b"", findings: Iterable[Problem] = (),
                 image_length: Optional[int] = None, cut: Optional[str] = None) -> None:
        super().__init__()
        self.cut = cut  # why the scan ended inside a readable record (the data is cut off)
        self.records = list(records)
        self.end = end  # offset of the end marker; None when there is none
        self.trailing = trailing  # the bytes after the end marker
        self.findings = list(findings)  # structural problems found while scanning
        self.image_length = image_length
        for record in self.records:
            self.setdefault(tag_name(record.tag), record.value)



def _records_in_order(items: Iterable[tuple[int, bytes]]) -> Records:
    records, offset = [], 0
    for number, value in items:
        records.append(Record(offset, number, value, len(value)))
        offset += HEADER.size + len(value)
    return Records(records, end=offset, image_length=offset + len(END_MARKER))



# --- records <-> bytes -----------------------------------------------------------------

def encode_image(device_map: Mapping[str, bytes]) -> bytes:
    """genFactoryData's ``writeBinary``: records sorted by tag, then the end marker."""
    items = []
    for name, value in device_map.items():
        tag = BY_NAME.get(name)
        if tag is None:
            raise InputError(f"{name}: not a tag genFactoryData writes; it cannot be encoded "
                             f"(accepted: {', '.join(BY_NAME)})")
        items.append((tag.number, bytes(value)))
    out = bytearray()
    for number, value in sorted(items, key=lambda item: item[0]):
        out += HEADER.pack(number, len(value)) + value
    return bytes(out + END_MARKER)


def decode_image(data: bytes, source: str = "image") -> Records:
    """Scan ``data`` as the device reader does, keeping every record up to the end marker.

    Structural problems (a truncated header or value, no end marker, bytes after it that
    are not erased flash) are kept as findings for :func:`lint`; only data that holds no
    records at all is refused here."""
    if not data:
        raise InputError(f"{source}: the image is empty")
    if data.count(0xFF) == len(data):
        raise InputError(f"{source}: the image is erased flash (all 0xFF), not factory data")
    records: list[Record] = []
    findings: list[Problem] = []
    offset = 0
    while True:
        if offset + 4 <= len(data) and data[offset:offset + 4] == END_MARKER:
            trailing = bytes(data[offset + 4:])
            if trailing.count(0xFF) != len(trailing):
                findings.append(Problem(WARNING, "", _after_end(offset, trailing)))
            return Records(records, end=offset, trailing=trailing, findings=findings,
                           image_length=offset + 4)
        if offset >= len(data) or data[offset:].count(0xFF) == len(data) - offset:
            findings.append(Problem(ERROR, "", f"no end marker (AC AC AC AC) after the last "
                                    f"record (offset {offset}): the device reports PARAM_ERROR "
                                    "for every tag it does not find before it"))
            return Records(records, findings=findings, image_length=offset)
        if offset + HEADER.size > len(data):
            why = f"truncated record header at offset {offset} ({len(data) - offset} of 8 bytes)"
            findings.append(Problem(ERROR, "", why))
            return Records(records, findings=findings, image_length=len(data), cut=why)
        number, length = HEADER.unpack_from(data, offset)
        value = bytes(data[offset + 8:offset + 8 + length])
        records.append(Record(offset, number, value, length))
        if len(value) < length:
            why = (f"at offset {offset}: the length {length} runs past the end of the image "
                   f"({len(value)} bytes left)")
            findings.append(Problem(ERROR, tag_name(number), why))
            cut = f"record {tag_name(number)} {why}" if 0 < length <= MAX_RECORD else None
            return Records(records, findings=findings, image_length=len(data), cut=cut)
        offset += HEADER.size + length


def _after_end(offset: int, trailing: bytes) -> str:
    inner = trailing.rstrip(b"\xff")
    hint = ""
    if len(inner) >= 8:
        number, length = HEADER.unpack_from(inner, 0)
        if number in BY_NUMBER:
            hint = f" (it starts like a {tag_name(number)} record)"
    return (f"the {len(trailing)} bytes after the end marker at offset {offset} are not all "
            f"erased flash (0xFF){hint}: the device never reads past the marker, so they are "
            "ignored (records there are lost)")


def not_readable(records: Records) -> Optional[str]:
    """Why ``records`` (a scanned image) is not readable STM32 factory data at all, or None:
    the scan was cut off inside a record, or the device reader reaches no record with an ST
    tag (random bytes, text, another format). Bad records are findings, not this."""
    if records.cut is not None:
        return f"the image is cut off: {records.cut}"
    for record in records.records:  # an ST tag, even on a bad record, makes it TLV
        if record.tag in BY_NUMBER:
            return None
        if not 0 < record.declared <= MAX_RECORD:
            break
    if not records.records:
        return "the image holds no records (only the end marker)"
    first = records.records[0]
    return (f"not an STM32 TLV image: the device reader reaches no record with an ST tag (the "
            f"first record at offset 0 has tag {first.tag} (0x{first.tag:08x}) and length "
            f"{first.declared})")
