"""The nRF Connect factory data image: JSON form <-> CBOR map, and the device's view of it.

On flash the partition holds ``CBOR(map) || 0x00`` at byte 0 and nothing else: no
header, no tag, no CRC (shared/reference/nrf-connect.md §9). The JSON form is the
reference generator's: keys in reference order, byte values as ``"hex:<hex>"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from ..core import validate
from ..core.model import (
    BYTES,
    DEVICE_MATCH_ORDER,
    DEVICE_MAX_PARTITION_SIZE,
    DEVICE_RD_UID_MAX_LEN,
    FACTORY_DATA_VERSION,
    FIELDS_BY_KEY,
    HEX_PREFIX,
    KEY_ORDER,
    REQUIRED_KEYS,
    TEXT,
    UINT,
    USER,
)
from ..errors import InputError
from . import cbor_items
from .base import ERROR, WARNING, ImageFormat, Problem  # noqa: F401  (part of this API)

TERMINATOR = b"\x00"


class NrfCborFormat(ImageFormat):
    """``nrf-cbor``: the nRF Connect SDK format, through this module's functions."""

    name = "nrf-cbor"

    def from_json(self, obj, source):
        return json_to_device_map(obj, source)

    def to_json(self, device_map):
        return device_map_to_json(device_map)

    def encode(self, device_map):
        return encode_image(device_map)

    def decode(self, image, source):
        return decode_image(image, source)

    def lint(self, device_map, *, partition_size=None):
        return lint(device_map, partition_size=partition_size)

    def json_from_values(self, values):
        return factory_data_json(values)

    def json_text(self, obj):
        return json_text(obj)

    def model_values(self, device_map):
        return dict(device_map)


# ---------------------------------------------------------------------------
# JSON form <-> device map
# ---------------------------------------------------------------------------

def factory_data_json(values: Mapping[str, Any]) -> dict:
    """The JSON form of typed values, in the reference key order, as the reference writes it:
    bytes as ``"hex:.."``, empty values (None, "", False) left out, 0 kept."""
    data = {}
    for key in KEY_ORDER:
        value = values.get(key)
        if isinstance(value, (bytes, bytearray)):
            value = HEX_PREFIX + bytes(value).hex()
        if value or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
            data[key] = value
    return data


def json_to_device_map(obj: Mapping[str, Any], source: str = "JSON") -> dict:
    """Convert the JSON form as the reference partition script does.

    Top level: ``"hex:.."`` -> bytes, other strings -> UTF-8 bytes, anything else as is.
    Nested (``user``): ``"hex:.."`` -> bytes (newer upstream), other values as is.
    """
    if not isinstance(obj, Mapping):
        raise InputError(f"{source}: the factory data must be a JSON object, "
                         f"got {type(obj).__name__}")
    if not obj:
        raise InputError(f"{source}: the JSON object is empty (accepted: the factory data keys)")
    result: dict = {}
    for key, value in obj.items():
        if isinstance(value, str):
            if value.startswith(HEX_PREFIX):
                data = validate.hex_bytes(value[len(HEX_PREFIX):])
                result[key] = (data if data is not None else
                               _hex_value(value, f"{source}: key {key!r}"))
            else:
                result[key] = value.encode("utf-8")
        elif isinstance(value, (int, float)) or value is None:  # bool is an int
            result[key] = value
        else:
            result[key] = _convert_nested(value, f"{source}: key {key!r}")
    return result


def _convert_nested(value: Any, where: str) -> Any:
    if isinstance(value, str) and value.startswith(HEX_PREFIX):
        return _hex_value(value, where)
    if isinstance(value, dict):
        return {k: _convert_nested(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_convert_nested(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _hex_value(text: str, where: str) -> bytes:
    return validate.parse_hex(text, where)


def device_map_to_json(data: Mapping[Any, Any]) -> dict:
    """The inverse of :func:`json_to_device_map`, for ``show``.

    Byte strings of text keys become text when they are valid UTF-8; all other byte
    strings become ``"hex:.."``.
    """
    result = {}
    for key, value in data.items():
        field = FIELDS_BY_KEY.get(key) if isinstance(key, str) else None
        if isinstance(value, bytes) and field is not None and field.kind == TEXT:
            try:
                result[key] = value.decode("utf-8")
                continue
            except UnicodeDecodeError:
                pass
        result[_json_key(key)] = _bytes_to_hex(value)
    return result


def _json_key(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def _bytes_to_hex(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return HEX_PREFIX + bytes(value).hex()
    if isinstance(value, dict):
        return {_json_key(k): _bytes_to_hex(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bytes_to_hex(v) for v in value]
    return value


def json_text(obj: Mapping[str, Any]) -> str:
    """The reference JSON file: one line, ``", "``/``": "`` separators, no final newline."""
    return json.dumps(obj)


# ---------------------------------------------------------------------------
# CBOR image
# ---------------------------------------------------------------------------

def encode_image(device_map: Mapping[Any, Any]) -> bytes:
    """``CBOR(map) || 0x00``: definite-length map in the given key order, minimal ints."""
    import cbor2

    return cbor2.dumps(dict(device_map)) + TERMINATOR


def decode_image(data: bytes, source: str = "image") -> dict:
    """The device map of the one CBOR map at byte 0 of a partition (what follows it is
    ignored); InputError when the image is not a complete, well-formed map."""
    return map_of_reading(read_image(data, source), source)


def map_of_reading(reading: ImageReading, source: str = "image") -> dict:
    """decode_image of an image already read with :func:`read_image`."""
    if not reading.is_map:
        raise InputError(f"{source}: {reading.not_a_map}")
    if reading.cut is not None:
        raise InputError(f"{source}: the CBOR map is malformed or truncated ({reading.cut})")
    return reading.device_map


class Entry:
    """One key/value pair of the top-level map, with how both are encoded."""

    __slots__ = ("key", "value", "key_scan", "value_scan")

    def __init__(self, key: Any, value: Any, key_scan: cbor_items.Scan,
                 value_scan: cbor_items.Scan) -> None:
        self.key, self.value, self.key_scan, self.value_scan = key, value, key_scan, value_scan

    @property
    def offset(self) -> int:
        return self.key_scan.node.offset


class ImageReading:
    """An image read item by item: the entries of its map, how far the map goes, and the
    structural findings (ERROR) on the way. Not a map: ``top`` holds what is there."""

    __slots__ = ("source", "entries", "problems", "map_head", "end", "cut", "top",
                 "not_a_map", "terminated")

    def __init__(self, source: str) -> None:
        self.source = source
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []
        self.map_head: Optional[cbor_items.Head] = None
        self.end = 0  # offset after the map (or the item at byte 0)
        self.cut: Optional[str] = None  # why the map could not be read to its end
        self.top: Any = None  # the item at byte 0 when it is not a map
        self.not_a_map = ""
        self.terminated = False  # a 0x00 follows the map

    @property
    def is_map(self) -> bool:
        return self.map_head is not None

    @property
    def device_map(self) -> dict:
        return {entry.key: entry.value for entry in self.entries}


def read_image(data: bytes, source: str = "image") -> ImageReading:
    """Read the map at byte 0 entry by entry with the item walker (cbor2 only for values).
    InputError only when there is no CBOR item at byte 0 at all; a map cut short keeps the
    entries read so far (``cut`` says where it stopped)."""
    from .cbor_items import MAP, TAG, CborError, read_head, scan, to_python

    if not data:
        raise InputError(f"{source}: the image is empty")
    if data[0] == 0xFF and data.count(0xFF) == len(data):
        raise InputError(f"{source}: the image is erased flash (all 0xFF), not factory data")
    reading = ImageReading(source)
    try:
        head = read_head(data, 0, len(data))
    except CborError as exc:
        raise InputError(f"{source}: not CBOR at byte 0 ({exc.reason}); the device accepts "
                         "only a map at byte 0") from None
    if head.major != MAP:
        what = ("starts with a CBOR tag" if head.major == TAG else
                f"does not start with a CBOR map (first byte 0x{data[0]:02x}, "
                f"{cbor_items.with_article(head.describe())})")
        reading.not_a_map = f"the image {what}; the device accepts only a bare map at byte 0"
        try:
            top = scan(data, 0)
        except CborError as exc:
            raise InputError(f"{source}: {reading.not_a_map} (and the item there is not "
                             f"well-formed: {exc})") from None
        reading.top, reading.end = to_python(data, top.node), top.end
        reading.problems.append(Problem(ERROR, "", reading.not_a_map))
        return reading
    reading.map_head = head
    pos, count, index = head.end, head.argument, 0
    while count is None or index < count:
        if count is None and pos < len(data) and data[pos] == 0xFF:
            pos += 1
            break
        try:
            key_scan = scan(data, pos)
            value_scan = scan(data, key_scan.end)
        except CborError as exc:
            reading.cut = str(exc)
            what = "entries" if count is None else f"of its {count} entries"
            reading.problems.append(Problem(
                ERROR, "", f"the map is cut off or malformed after {index} {what} ({exc}); "
                "the device reads the entries before it at most, or rejects the image"))
            break
        key = to_python(data, key_scan.node)
        reading.entries.append(Entry(cbor_items.hashable(key), to_python(data, value_scan.node),
                                     key_scan, value_scan))
        pos, index = value_scan.end, index + 1
    reading.end = pos
    if reading.cut is None and pos < len(data):
        following = data[pos]
        reading.terminated = following == 0
        if following not in (0x00, 0xFF):
            reading.problems.append(Problem(
                ERROR, "", f"byte {pos} after the map's {index} entries is 0x{following:02x}, "
                "not the terminating 0x00: is the map's entry count smaller than its "
                "entries? The device ignores whatever follows the count"))
    return reading


def lint_canonical(data: bytes) -> Optional[tuple[dict, list[Problem]]]:
    """(device map, :func:`lint_image` problems) of an image that is exactly the canonical
    encoding of a plain map followed by the 0x00 terminator -- text keys, each read by the
    device as a different known key or as none, values that are 32-bit integers, byte
    strings or text strings -- without walking it item by item; None for any other image
    (read it with :func:`read_image`). Such an image has no structural or encoding finding
    (definite lengths, shortest heads, 4-byte arguments at most, text keys, no key twice),
    so its problems are :func:`lint` of its values, as the item-level reading finds."""
    import cbor2

    try:
        decoded = cbor2.loads(data)
    except Exception:  # noqa: BLE001  (anything cbor2 cannot take: the item-level reader's)
        return None
    if type(decoded) is not dict:
        return None
    known = set()
    for key, value in decoded.items():
        if type(key) is not str or not (
                type(value) in (bytes, str) or
                (type(value) is int and -0x1_0000_0000 <= value < 0x1_0000_0000)):
            return None
        device_key = device_key_for(key)
        if device_key is not None:
            if device_key in known:
                return None
            known.add(device_key)
    try:
        encoded = cbor2.dumps(decoded)
    except Exception:  # noqa: BLE001
        return None
    if data[len(encoded):len(encoded) + 1] != TERMINATOR or data[:len(encoded)] != encoded:
        return None
    return decoded, _unique(lint(decoded))


def lint_image(reading: ImageReading, *, partition_size: Optional[int] = None,
               rd_uid_max_len: int = DEVICE_RD_UID_MAX_LEN) -> list[Problem]:
    """Everything the device (also built with CONFIG_ZCBOR_CANONICAL) would reject or
    misread in an image, from how each item is encoded (ERROR), plus :func:`lint` of the
    values."""
    problems = list(reading.problems)
    if not reading.is_map:
        return problems
    problems += _encoding_problems(reading)
    problems += lint(device_visible(reading), partition_size=partition_size,
                     rd_uid_max_len=rd_uid_max_len)
    return _unique(problems)


def _plain_key(entry: Entry) -> bool:
    node = entry.key_scan.node
    return not node.tags and node.major == cbor_items.TSTR and not node.head.indefinite


def device_visible(reading: ImageReading) -> dict:
    """The entries the device reads: it stops at the first key that is not a plain
    (definite-length, untagged) text string."""
    visible = {}
    for entry in reading.entries:
        if not _plain_key(entry):
            break
        visible[entry.key] = entry.value
    return visible


def _unique(problems: list) -> list:
    seen: set = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique


_CANONICAL = "firmware built with CONFIG_ZCBOR_CANONICAL (NCS 2.9 with OTA) rejects the image"


def _head_problems(head, what: str) -> list[str]:
    """What zcbor refuses in one head it decodes (the top map, a key, a known value)."""
    if head.indefinite and head.major in (cbor_items.BSTR, cbor_items.TSTR):
        return [f"{what} is a chunked (indefinite-length) {head.describe()}; the device "
                "rejects it"]
    if head.indefinite:
        return [f"{what} is an indefinite-length {head.describe()}; {_CANONICAL}"]
    if head.width == 8 and not head.is_float:
        return [f"{what} has an 8-byte argument (0x{head.argument:x}); the device reads at "
                "most 4 bytes (32-bit) and rejects it or stops reading there, even when the "
                "value fits"]
    if not head.minimal:
        return [f"{what} is not in its shortest encoding ({head.width + 1}-byte head for "
                f"{head.argument}); {_CANONICAL}"]
    return []


def _skip_problems(scan_result, what: str) -> list[str]:
    """What zcbor_any_skip refuses inside a value it skips (user data, unknown keys)."""
    for head in scan_result.heads:
        at = f"{what}: byte {head.offset}"
        if head.role == cbor_items.ITEM and head.indefinite and \
                head.major in (cbor_items.BSTR, cbor_items.TSTR):
            return [f"{at} holds a chunked (indefinite-length) {head.describe()}; the device "
                    "cannot skip it and rejects the whole image"]
        if head.role == cbor_items.TAG_HEAD and head.width == 8:
            return [f"{at} holds a tag with an 8-byte number; the device rejects the whole "
                    "image"]
    for head in scan_result.heads:
        at = f"{what}: byte {head.offset}"
        if head.role == cbor_items.ITEM and head.indefinite:
            return [f"{at} holds an indefinite-length {head.describe()}; {_CANONICAL}"]
        if head.role != cbor_items.BREAK_HEAD and not head.minimal:
            return [f"{at} holds a {head.describe()} not in its shortest encoding; {_CANONICAL}"]
    return []


def _encoding_problems(reading: ImageReading) -> list[Problem]:
    problems = [Problem(ERROR, "", m) for m in _head_problems(reading.map_head, "the map")]
    seen: dict[str, int] = {}
    for index, entry in enumerate(reading.entries):
        key_node = entry.key_scan.node
        label = entry.key if isinstance(entry.key, str) else str(entry.key)
        if not _plain_key(entry):
            later = len(reading.entries) - index - 1
            kind = ("a tagged item" if key_node.tags else
                    "a chunked text string" if key_node.head.indefinite else
                    cbor_items.with_article(key_node.head.describe()))
            problems.append(Problem(ERROR, label, f"the key at byte {entry.offset} is {kind}, "
                                    "not a text string: the device stops reading the map there "
                                    f"and ignores this entry and the {later} after it"))
            break
        problems += [Problem(ERROR, label, m) for m in _head_problems(key_node.head, "the key")]
        known = device_key_for(entry.key)
        value_scan = entry.value_scan
        if known is None or FIELDS_BY_KEY[known].kind == USER:
            problems += [Problem(ERROR, label, m) for m in _skip_problems(value_scan, "the value")]
        else:
            node = value_scan.node
            if not node.tags:
                problems += [Problem(ERROR, label, m)
                             for m in _head_problems(node.head, "the value")]
        if known is not None:
            if known in seen:
                problems.append(Problem(ERROR, label, f"{known!r} appears twice (bytes "
                                        f"{seen[known]} and {entry.offset}); the device keeps "
                                        "the last one"))
            seen[known] = entry.offset
    return problems


# ---------------------------------------------------------------------------
# The device parser's view (FactoryDataParser.c) plus our stricter limits
# ---------------------------------------------------------------------------

_DEVICE_KEYS: dict = {}  # device_key_for of the last text keys seen (at most 256)


def device_key_for(key: Any) -> Optional[str]:
    """The known key the device parser assigns ``key`` to. It calls
    ``strncmp(known, key, len(key))``: a prefix of a known name matches it (also the empty
    key), and so does a known name followed by a NUL and anything."""
    if type(key) is str:
        try:
            return _DEVICE_KEYS[key]
        except KeyError:
            if len(_DEVICE_KEYS) >= 256:
                _DEVICE_KEYS.clear()
            known = _DEVICE_KEYS[key] = _device_key_for(key)
            return known
    return _device_key_for(key)


def _device_key_for(key: Any) -> Optional[str]:
    if isinstance(key, str):
        key = key.encode("utf-8", "surrogateescape")
    if not isinstance(key, bytes):
        return None
    for known in DEVICE_MATCH_ORDER:
        name = known.encode("ascii")
        if len(key) <= len(name):
            if name.startswith(key):
                return known
        elif key.startswith(name) and key[len(name)] == 0:
            return known
    return None


def lint(data: Mapping[Any, Any], *, partition_size: Optional[int] = None,
         rd_uid_max_len: int = DEVICE_RD_UID_MAX_LEN) -> list[Problem]:
    """Everything the device would reject or misread (ERROR), and unwise content (WARNING).

    ``data`` is the device map: CBOR types as decoded (bytes for bstr, str for tstr).
    """
    problems: list[Problem] = []
    seen = set()
    for key, value in data.items():
        if not isinstance(key, str):
            problems.append(Problem(ERROR, str(key), "the key is not a text string: the device "
                                    "stops reading the map here and ignores all later keys"))
            break
        known = device_key_for(key)
        if known is None:
            problems.append(Problem(WARNING, key, "unknown key, the device ignores it"))
            continue
        if known != key:
            problems.append(Problem(ERROR, key, f"the device reads this key as {known!r} "
                                    "(it matches key prefixes); rename or remove it"))
        seen.add(known)
        problems.extend(_value_problems(known, key, value, rd_uid_max_len))
    for key in REQUIRED_KEYS:
        if key not in seen:
            problems.append(Problem(ERROR, key, "mandatory key is missing; the device reports "
                                    "CHIP_ERROR_PERSISTED_STORAGE_VALUE_NOT_FOUND for it"))
    if "passcode" in seen and "spake2_verifier" in seen:
        problems.append(Problem(WARNING, "passcode", "the passcode is stored next to the "
                                "verifier; the Matter specification (5.1.7) forbids this in "
                                "production devices"))
    if partition_size is not None and partition_size > DEVICE_MAX_PARTITION_SIZE:
        problems.append(Problem(ERROR, "", f"the partition is {partition_size} bytes; the "
                                "device holds its size in 16 bits, so it must be < 64 KiB"))
    return problems


def _value_problems(known: str, key: str, value: Any, rd_uid_max_len: int) -> list[Problem]:
    field = FIELDS_BY_KEY[known]
    if field.kind == UINT and known == "passcode":  # a secret: never quoted in a message
        shown = repr(value) if not isinstance(value, int) or isinstance(value, bool) else \
            str(value)
        return [Problem(p.severity, p.key, p.message.replace(shown, "(the passcode)"))
                for p in _uint_problems(field, key, value)]
    if field.kind == UINT:
        return _uint_problems(field, key, value)
    if field.kind in (TEXT, BYTES):
        return _bstr_problems(field, key, value, rd_uid_max_len)
    if field.kind == USER:
        return _user_problems(key, value)
    return []


def _uint_problems(field, key: str, value: Any) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [Problem(ERROR, key, f"must be an unsigned integer, got {value!r}; the device "
                        "rejects the whole image")]
    assert field.device_bits is not None
    if value >= 1 << field.device_bits:
        return [Problem(ERROR, key, f"{value} does not fit the device's {field.device_bits}-bit "
                        "field and would be truncated to "
                        f"{value & ((1 << field.device_bits) - 1)}")]
    if field.key == "version" and value != FACTORY_DATA_VERSION:
        return [Problem(ERROR, key, f"version {value}: the device accepts only version "
                        f"{FACTORY_DATA_VERSION} (CONFIG_CHIP_FACTORY_DATA_VERSION)")]
    problem = validate.problem_for(field.key, value)
    return [Problem(ERROR, key, problem)] if problem else []


def _bstr_problems(field, key: str, value: Any, rd_uid_max_len: int) -> list[Problem]:
    if isinstance(value, str):
        return [Problem(ERROR, key, "is a text string (tstr); the device accepts only a byte "
                        "string here and rejects the whole image")]
    if not isinstance(value, bytes):
        return [Problem(ERROR, key, f"must be a byte string, got {type(value).__name__}; the "
                        "device rejects the whole image")]
    if field.kind == TEXT:
        return _text_problems(field, key, value)
    problem = validate.length_problem(field, len(value))
    if problem:
        return [Problem(ERROR, key, f"{field.description} {problem}")]
    if field.key == "rd_uid" and len(value) > rd_uid_max_len:
        return [Problem(WARNING, key, f"is {len(value)} bytes; firmware built with "
                        f"CHIP_FACTORY_DATA_ROTATING_DEVICE_UID_MAX_LEN={rd_uid_max_len} "
                        "cannot read it (BUFFER_TOO_SMALL)")]
    if field.key == "spake2_verifier":
        from ..core.spake2p import verifier_problem

        problem = verifier_problem(value)
        return [Problem(ERROR, key, f"the verifier {problem}")] if problem else []
    return []


def _text_problems(field, key: str, value: bytes) -> list[Problem]:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return [Problem(ERROR, key, f"{field.description} is not valid UTF-8")]
    problem = validate.problem_for(field.key, text)
    return [Problem(ERROR, key, f"{field.description} {problem}")] if problem else []


def _user_problems(key: str, value: Any) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(WARNING, key, "is not a map; the device's user-data lookup expects a "
                        "map with text keys")]
    problems = []
    for user_key, user_value in value.items():
        if not isinstance(user_key, str):
            problems.append(Problem(ERROR, key, f"user key {user_key!r} is not a text string"))
        elif isinstance(user_value, bytes):
            problems.append(Problem(WARNING, key, f"user value {user_key!r} is a byte string; "
                                    "only firmware with connectedhomeip #71426 can read it"))
        elif isinstance(user_value, int) and not isinstance(user_value, bool) and \
                not -(1 << 31) <= user_value < (1 << 31):
            problems.append(Problem(ERROR, key, f"user value {user_key!r} = {user_value} does "
                                    "not fit the device's int32"))
        elif not isinstance(user_value, (str, int)) or isinstance(user_value, bool):
            problems.append(Problem(WARNING, key, f"user value {user_key!r} is a "
                                    f"{type(user_value).__name__}; the device reads only text "
                                    "and int32 values"))
    return problems
