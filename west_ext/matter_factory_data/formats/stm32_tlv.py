"""The STM32 (X-CUBE-MATTER) factory data image: ST's JSON <-> records <-> TLV bytes.

On flash (what ST's ``genFactoryData.py`` writes)::

    repeat, sorted by tag:  tag u32 LE | length u32 LE | value[length]
    end:                    AC AC AC AC

No header, CRC, alignment or padding; integers little-endian (u16 or u32 by tag), strings
raw UTF-8 without a NUL. The device reader scans from the start: the first record with a
tag wins, the end marker stops the scan, and a record of length 0 or of 603 bytes or more
makes every later lookup fail (PARAM_ERROR): such a record hides all records after it.

The *device map* of this format is a dict of ST tag names (``VENDOR_ID``) to the record's
raw value bytes, in record order. A decoded image is a :class:`Records` (a dict that also
keeps the layout: every record with its offset, duplicates, what follows the end marker)
so that :func:`lint` sees what the device sees.

ST's JSON form: upper-case tag names; integers as JSON strings (``"0xFFF1"`` with a
lower-case ``0x``, or decimal ``"65521"``); byte arrays as lists of hex strings
(``["0x30", "0x82"]``); text as JSON strings. We read it more strictly than
genFactoryData does: everything genFactoryData would crash on, silently misread (a plain
string given for a byte array is split into nibbles; ``null`` becomes ``"None"``) or write
as a record the device cannot read (an empty value) is refused with one line.
"""

from __future__ import annotations

import contextlib
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Optional

from ..core import validate
from ..core.model import FIELDS_BY_KEY
from ..errors import InputError
from .base import ERROR, WARNING, ImageFormat, Problem
from .stm32_boards import (
    COMMON_REQUIRED,
    PROVISIONING_APPENDED,
    PROVISIONING_LIMIT,
    UNSUPPORTED,
    Board,
    get_board,
)

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
                 image_length: Optional[int] = None) -> None:
        super().__init__()
        self.records = list(records)
        self.end = end  # offset of the end marker; None when there is none
        self.trailing = trailing  # the bytes after the end marker
        self.findings = list(findings)  # structural problems found while scanning
        self.image_length = image_length
        for record in self.records:
            self.setdefault(tag_name(record.tag), record.value)


class Stm32TlvFormat(ImageFormat):
    """``stm32-tlv``: ST's X-CUBE-MATTER format; ``board`` adds that board's rules."""

    name = "stm32-tlv"

    def __init__(self, board: Board | str | None = None) -> None:
        self.board = get_board(board) if isinstance(board, str) else board

    def from_json(self, obj, source):
        return json_to_device_map(obj, source)

    def to_json(self, device_map):
        return device_map_to_json(device_map)

    def encode(self, device_map):
        return encode_image(device_map)

    def decode(self, image, source):
        return decode_image(image, source)

    def lint(self, device_map, *, partition_size=None):
        return lint(device_map, partition_size=partition_size, board=self.board)

    def json_from_values(self, values):
        return values_to_json(values)

    def json_text(self, obj):
        return json_text(obj)

    def model_values(self, device_map):
        return model_values(device_map)


# --- ST's JSON form -> device map ------------------------------------------------------

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)")
_HEX_INT = re.compile(r"0x[0-9A-Fa-f]+")
_BYTE = re.compile(r"(?:0[xX])?[0-9A-Fa-f]{1,2}")


def json_to_device_map(obj: Any, source: str = "JSON") -> Records:
    """ST's JSON (genFactoryData's input) as records, refusing what genFactoryData would
    crash on or silently misread, and values the device reader cannot read (empty)."""
    if not isinstance(obj, Mapping):
        raise InputError(f"{source}: the factory data must be a JSON object keyed by ST tag "
                         f"names (VENDOR_ID, ...), got {type(obj).__name__}")
    if not obj:
        raise InputError(f"{source}: the JSON object is empty (accepted: ST tag names such "
                         "as VENDOR_ID)")
    values = {}
    for key, value in obj.items():
        tag = BY_NAME.get(key)
        if tag is None:
            raise InputError(f"{source}: key {key!r}: {_unknown_key(key)}")
        values[tag.number] = _json_value(tag, value, f"{source}: key {key!r}")
    return _records_in_order(sorted(values.items()))


def _unknown_key(key: str) -> str:
    if key.upper() in BY_NAME:
        return f"tag names are upper case: write {key.upper()!r} (genFactoryData skips it)"
    return ("unknown tag name; genFactoryData skips it (accepted: "
            + ", ".join(BY_NAME) + ")")


def _json_value(tag: Tag, value: Any, where: str) -> bytes:
    if tag.kind in _INT_WIDTH:
        return _json_int(tag, value, where)
    if tag.kind == ARRAY8:
        return _json_bytes(value, where)
    if not isinstance(value, str):
        raise InputError(f"{where}: must be a JSON string, got {_json_type(value)} "
                         "(genFactoryData would store its Python spelling, e.g. null as "
                         "'None')")
    if value == "":
        raise InputError(f"{where}: is empty; an empty record hides every later record from "
                         "the device reader (PARAM_ERROR)")
    return value.encode("utf-8")


def _json_int(tag: Tag, value: Any, where: str) -> bytes:
    width = _INT_WIDTH[tag.kind]
    if not isinstance(value, str):
        raise InputError(f"{where}: integers are JSON strings in ST's format, e.g. "
                         f"\"{_example(tag)}\"; got {_json_type(value)} (genFactoryData "
                         "fails on it)")
    if value[:2] == "0X":
        raise InputError(f"{where}: {value!r}: genFactoryData reads only a lower-case 0x "
                         f"prefix and fails on 0X; write \"0x{value[2:]}\"")
    if _HEX_INT.fullmatch(value):
        number = int(value[2:], 16)
    elif _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise InputError(f"{where}: {value!r} is not an integer (accepted: decimal digits "
                         "without a leading zero, or 0x followed by hex digits)")
    if number >= 1 << (8 * width):
        raise InputError(f"{where}: {value} does not fit the {8 * width}-bit record "
                         f"(accepted: 0..{(1 << (8 * width)) - 1})")
    return number.to_bytes(width, "little")


def _example(tag: Tag) -> str:
    return "0xFFF1" if tag.name in _HEX_INTS else "1000"


def _json_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, str):
        raise InputError(f"{where}: a byte array must be a list of hex strings such as "
                         "[\"0x53\", \"0x50\"], not a string (genFactoryData would split it "
                         "into one byte per character)")
    if not isinstance(value, list):
        raise InputError(f"{where}: must be a list of hex strings such as [\"0x53\", "
                         f"\"0x50\"], got {_json_type(value)}")
    if not value:
        raise InputError(f"{where}: is empty; an empty record hides every later record from "
                         "the device reader (PARAM_ERROR)")
    out = bytearray()
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _BYTE.fullmatch(item):
            raise InputError(f"{where}[{index}]: {item!r} is not a byte (accepted: a string "
                             "of one or two hex digits, optionally prefixed 0x)")
        out.append(int(item, 16))
    return bytes(out)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def _records_in_order(items: Iterable[tuple[int, bytes]]) -> Records:
    records, offset = [], 0
    for number, value in items:
        records.append(Record(offset, number, value, len(value)))
        offset += HEADER.size + len(value)
    return Records(records, end=offset, image_length=offset + len(END_MARKER))


def load_json_text(text: str | bytes, source: str) -> Records:
    """Parse ST's JSON text through the input limits of every JSON input (files.inputs):
    a key given twice (genFactoryData keeps the last silently), a lone surrogate, a number
    of more than 4300 digits, deep nesting and NaN are refused."""
    from ..files.inputs import parse_json

    obj = parse_json(text, source)
    return json_to_device_map(obj, source)


# --- device map -> ST's JSON form ------------------------------------------------------

def device_map_to_json(device_map: Mapping[str, bytes]) -> dict:
    """ST's JSON of the records (first of duplicates). A value that does not fit its tag's
    type (wrong integer width, invalid UTF-8) and unknown tags are shown as byte lists."""
    result: dict[str, Any] = {}
    for name, value in device_map.items():
        tag = BY_NAME.get(name)
        kind = tag.kind if tag else ARRAY8
        if kind in _INT_WIDTH and len(value) == _INT_WIDTH[kind]:
            number = int.from_bytes(value, "little")
            result[name] = f"0x{number:X}" if name in _HEX_INTS else str(number)
            continue
        if kind == STRING:
            try:
                result[name] = value.decode("utf-8")
                continue
            except UnicodeDecodeError:
                pass
        result[name] = [f"0x{b:02x}" for b in value]
    return result


def json_text(obj: Mapping[str, Any]) -> str:
    """ST's JSON files are indented; so are ours (one key per line, lists on one line)."""
    import json

    lines = [f"    {json.dumps(key)}: {json.dumps(value)}" for key, value in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def values_to_json(values: Mapping[str, Any]) -> dict:
    """ST's JSON of typed model values (generate, batch): model keys plus ``cd`` (the
    Certification Declaration DER) and ``dac_pub_key`` (65 bytes). Keys without a tag and
    None values are left out; ``rd_uid``/``enable_key`` become hex text as ST stores them."""
    records = {}
    for tag in TAGS:
        key = tag.field or {1: "cd", 6: "dac_pub_key", 29: "rd_uid", 41: "enable_key"}.get(
            tag.number)
        value = values.get(key) if key else None
        if value is None:
            continue
        if tag.number in (29, 41) and isinstance(value, (bytes, bytearray)):
            value = bytes(value).hex()
        records[tag.name] = _typed_to_bytes(tag, value)
    return device_map_to_json(_records_in_order(
        (BY_NAME[name].number, value) for name, value in records.items()))


def _typed_to_bytes(tag: Tag, value: Any) -> bytes:
    if tag.kind in _INT_WIDTH:
        return int(value).to_bytes(_INT_WIDTH[tag.kind], "little")
    if tag.kind == STRING:
        return str(value).encode("utf-8")
    return bytes(value)


def model_values(device_map: Mapping[str, bytes]) -> dict:
    """The records as our model's values in the shape of the nRF device map (ints for
    integers, bytes for text and binary), for ``verify``; ``dac_pub_key`` for tag 6;
    ``rd_uid``/``enable_key`` decoded from the hex text ST stores in tags 29/41."""
    values: dict = {}
    for name, value in device_map.items():
        tag = BY_NAME.get(name)
        if tag is None:
            continue
        if tag.number in (29, 41):
            with contextlib.suppress(UnicodeDecodeError, ValueError):
                values["rd_uid" if tag.number == 29 else "enable_key"] = \
                    bytes.fromhex(value.decode("ascii"))
            continue
        key = tag.field or {6: "dac_pub_key", 1: "cd"}.get(tag.number)
        if key is None:
            continue
        if tag.kind in _INT_WIDTH:
            if len(value) != _INT_WIDTH[tag.kind]:
                continue
            values[key] = int.from_bytes(value, "little")
        else:
            values[key] = value
    return values


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
                findings.append(Problem(ERROR, "", _after_end(offset, trailing)))
            return Records(records, end=offset, trailing=trailing, findings=findings,
                           image_length=offset + 4)
        if offset >= len(data) or data[offset:].count(0xFF) == len(data) - offset:
            findings.append(Problem(ERROR, "", f"no end marker (AC AC AC AC) after the last "
                                    f"record (offset {offset}): the device reports PARAM_ERROR "
                                    "for every tag it does not find before it"))
            return Records(records, findings=findings, image_length=offset)
        if offset + HEADER.size > len(data):
            findings.append(Problem(ERROR, "", f"truncated record header at offset {offset} "
                                    f"({len(data) - offset} of 8 bytes)"))
            return Records(records, findings=findings, image_length=len(data))
        number, length = HEADER.unpack_from(data, offset)
        value = bytes(data[offset + 8:offset + 8 + length])
        records.append(Record(offset, number, value, length))
        if len(value) < length:
            findings.append(Problem(ERROR, tag_name(number), f"at offset {offset}: the length "
                                    f"{length} runs past the end of the image ({len(value)} "
                                    "bytes left)"))
            return Records(records, findings=findings, image_length=len(data))
        offset += HEADER.size + length


def _after_end(offset: int, trailing: bytes) -> str:
    inner = trailing.rstrip(b"\xff")
    hint = ""
    if len(inner) >= 8:
        number, length = HEADER.unpack_from(inner, 0)
        if number in BY_NUMBER:
            hint = f" (it starts like a {tag_name(number)} record)"
    return (f"{len(inner)} bytes after the end marker at offset {offset} are not erased "
            f"flash (0xFF){hint}: the device never reads past the marker, so records there "
            "are lost")


# --- lint: the device reader's view plus the board's rules ------------------------------

def lint(device_map: Mapping[str, bytes], *, partition_size: Optional[int] = None,
         board: Optional[Board] = None) -> list[Problem]:
    """ERROR where the device rejects or misreads the data, WARNING where it is unwise."""
    records = getattr(device_map, "records", None)
    if records is None:
        records = _records_in_order(sorted((tag_number(k) or 0, v)
                                           for k, v in device_map.items())).records
        findings, length = [], _encoded_length(device_map)
    else:
        read: Any = device_map  # the decoded image: records with findings and length
        findings, length = list(read.findings), read.image_length
    problems = findings + _record_problems(records, board)
    seen = {r.tag for r in _visible(records)}
    problems += _presence_problems(device_map, seen, board)
    problems += _size_problems(records, length, partition_size, board)
    return problems


def _encoded_length(device_map: Mapping[str, bytes]) -> int:
    return sum(HEADER.size + len(v) for v in device_map.values()) + len(END_MARKER)


def _visible(records: list[Record]) -> list[Record]:
    """The records the device reader can reach (it stops at the first unreadable one)."""
    out = []
    for record in records:
        if not 0 < record.declared <= MAX_RECORD:
            break
        out.append(record)
    return out


def _record_problems(records: list[Record], board: Optional[Board]) -> list[Problem]:
    problems, seen = [], set()
    for index, record in enumerate(records):
        name = tag_name(record.tag)
        if not 0 < record.declared <= MAX_RECORD:
            hidden = len(records) - index - 1
            what = "is empty (length 0)" if record.declared == 0 else \
                f"is {record.declared} bytes long (the device reader accepts 1..{MAX_RECORD})"
            problems.append(Problem(ERROR, name, f"at offset {record.offset} {what}: the device "
                                    "reports PARAM_ERROR for it and for every later lookup"
                                    + (f" ({hidden} later record(s) hidden)" if hidden else "")))
            break
        if record.tag in seen:
            problems.append(Problem(ERROR, name, f"at offset {record.offset} is a second "
                                    "record with this tag: the device reads the first, "
                                    "genFactoryData --binary keeps the last"))
            continue
        seen.add(record.tag)
        problems += _value_problems(record, board)
    return problems


def _value_problems(record: Record, board: Optional[Board]) -> list[Problem]:
    tag = BY_NUMBER.get(record.tag)
    name = tag_name(record.tag)
    if tag is None:
        return [Problem(WARNING, name, f"unknown tag {record.tag}: the device skips it and "
                        "genFactoryData --binary drops it")]
    unread = (board.unread if board else UNSUPPORTED).get(record.tag)
    if unread:
        return [Problem(WARNING, name, f"is not read on "
                        f"{board.title if board else 'STM32'}: {unread}")]
    value = record.value
    if tag.kind in _INT_WIDTH:
        width = _INT_WIDTH[tag.kind]
        if len(value) != width:
            return [Problem(ERROR, name, f"is {len(value)} bytes; the device reads a "
                            f"{8 * width}-bit integer from exactly {width} bytes")]
        typed: Any = int.from_bytes(value, "little")
    elif tag.kind == STRING:
        try:
            typed = value.decode("utf-8")
        except UnicodeDecodeError:
            return [Problem(ERROR, name, "is not valid UTF-8 text")]
    else:
        typed = value
    if tag.number == 6:
        return _public_key_problems(value)
    if tag.field is None:
        return []
    problem = validate.problem_for(tag.field, typed)
    if problem is None and tag.field == "spake2_verifier":
        from ..core.spake2p import verifier_problem

        problem = verifier_problem(value)
        problem = problem and f"the verifier {problem}"
    if problem:
        return [Problem(ERROR, name, f"{FIELDS_BY_KEY[tag.field].description} {problem}")]
    return []


def _public_key_problems(value: bytes) -> list[Problem]:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), value)
    except ValueError:
        return [Problem(ERROR, "DEVICE_ATTESTATION_PUB_KEY", f"is not an uncompressed P-256 "
                        f"point (65 bytes starting 04), got {len(value)} bytes")]
    if len(value) != 65:
        return [Problem(ERROR, "DEVICE_ATTESTATION_PUB_KEY", "must be the 65-byte "
                        "uncompressed point (04 || X || Y)")]
    return []


def _presence_problems(device_map: Mapping[str, bytes], seen: set,
                       board: Optional[Board]) -> list[Problem]:
    problems: list[Problem] = []
    required = set(COMMON_REQUIRED) | (set(board.required) if board else set())
    provisioning = board is not None and board.completes_provisioning and \
        not (seen & PROVISIONED_TAGS)
    if provisioning:
        required -= PROVISIONED_TAGS
    for number in sorted(required - seen):
        problems.append(Problem(ERROR, tag_name(number), "is missing: the device needs it"
                                + (f" on {board.title}" if board and number in board.required
                                   else "")))
    if 15 in seen and 14 in seen:
        problems.append(Problem(WARNING, "SPAKE2_SETUP_PASSCODE", "the passcode is stored "
                                "next to the verifier; the Matter specification (5.1.7) "
                                "forbids this in production devices"))
    if 5 in seen and 6 in seen:
        problems += _key_pair_problems(device_map)
    return problems


def _key_pair_problems(device_map: Mapping[str, bytes]) -> list[Problem]:
    from ..core import certs
    from ..errors import CredentialError

    try:
        key = certs.private_key_from_scalar(device_map["DEVICE_ATTESTATION_PRIV_KEY"],
                                            source="DEVICE_ATTESTATION_PRIV_KEY")
    except CredentialError as exc:
        return [Problem(ERROR, "DEVICE_ATTESTATION_PRIV_KEY", str(exc))]
    if certs.public_key_bytes(key) != device_map["DEVICE_ATTESTATION_PUB_KEY"]:
        return [Problem(ERROR, "DEVICE_ATTESTATION_PUB_KEY", "is not the public key of "
                        "DEVICE_ATTESTATION_PRIV_KEY")]
    return []


def _size_problems(records: list[Record], length: Optional[int], partition_size: Optional[int],
                   board: Optional[Board]) -> list[Problem]:
    problems: list[Problem] = []
    if length is None:
        return problems
    limits = []
    if partition_size is not None:
        limits.append((partition_size, "the partition"))
    if board is not None:
        limits.append((board.size, f"the {board.title} factory data region "
                                   f"(0x{board.address:08X}, {board.size} bytes)"))
    for size, what in limits:
        if length > size:
            problems.append(Problem(ERROR, "", f"the image is {length} bytes, more than "
                                    f"{what}"))
    tags = {r.tag for r in records}
    if board is not None and board.completes_provisioning and not (tags & PROVISIONED_TAGS):
        total = length + PROVISIONING_APPENDED - len(END_MARKER)
        if total > PROVISIONING_LIMIT:
            problems.append(Problem(ERROR, "", f"completed by the provisioning firmware the "
                                    f"image would be {total} bytes; the firmware edits only "
                                    f"the first {PROVISIONING_LIMIT} bytes in RAM"))
    return problems
