"""ST's JSON form of the STM32 factory data (genFactoryData's input) <-> records.

Upper-case tag names; integers as JSON strings (``"0xFFF1"`` with a lower-case ``0x``, or
decimal ``"65521"``); byte arrays as lists of hex strings (``["0x30", "0x82"]``); text as
JSON strings. We read it more strictly than genFactoryData does: everything genFactoryData
would crash on, silently misread (a plain string given for a byte array is split into
nibbles; ``null`` becomes ``"None"``) or write as a record the device cannot read (an empty
value) is refused with one line.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InputError
from .stm32_records import (
    _HEX_INTS,
    _INT_WIDTH,
    ARRAY8,
    BY_NAME,
    STRING,
    TAGS,
    Records,
    Tag,
    _records_in_order,
)

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


#: Records whose values are secrets: an error about them never quotes the value.
SECRET_TAGS = frozenset({"DEVICE_ATTESTATION_PRIV_KEY", "SPAKE2_SETUP_PASSCODE",
                         "TAG_ID_ENABLE_KEY"})


def _json_value(tag: Tag, value: Any, where: str) -> bytes:
    if tag.name in SECRET_TAGS:
        try:
            return _plain_json_value(tag, value, where)
        except InputError as exc:
            raise InputError(_without(str(exc), value)) from None
    return _plain_json_value(tag, value, where)


def _without(message: str, value: Any) -> str:
    """``message`` with every quoting of the secret ``value`` (or of its items) masked."""
    items = value if isinstance(value, list) else [value]
    texts = {t for item in items for t in (str(item), repr(item))}
    texts |= {t[2:] for t in list(texts) if t[:2].lower() == "0x" and len(t) > 2}
    for text in sorted(texts, key=len, reverse=True):
        if len(text) > 0 and text not in ("[]", "''"):
            message = message.replace(text, "(the secret value)")
    return message


def _plain_json_value(tag: Tag, value: Any, where: str) -> bytes:
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
