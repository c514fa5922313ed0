"""Checks of single values against the device's limits, and value parsers.

Checkers return ``None`` when the value is fine, otherwise the problem as a
phrase ("5000 is out of range (accepted: 0..4095)"); the caller adds where the
value came from (an option name or a JSON key). Parsers raise InputError.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Optional

from ..errors import InputError, Subject, Where
from .model import BYTES, FIELDS_BY_KEY, HEX_PREFIX, TEXT, UINT, Field
from .onboarding import passcode_problem  # one list of forbidden passcodes for the project

# Every pattern is matched with fullmatch (``$`` also matches before a final newline) and
# spells its classes in ASCII (``\\d`` matches any Unicode digit, such as Arabic-Indic ones).
_DATE_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# ``int(x, 0)`` spellings, ASCII only: an optional sign, a base prefix, digits with single
# underscores between them (int() itself also takes spaces and non-ASCII digits).
_INT = re.compile(r"[+-]?(?:0[xX](?:_?[0-9A-Fa-f])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+"
                  r"|[1-9](?:_?[0-9])*|0(?:_?0)*)")
#: Longer numbers are refused before int() sees them (no field needs more; int() itself
#: refuses more than 4300 digits with an error of its own).
MAX_NUMBER_CHARS = 80


def problem_for(key: str, value: object) -> Optional[str]:
    """The problem with ``value`` for factory data ``key`` (already typed), or None."""
    field = FIELDS_BY_KEY[key]
    if field.kind == UINT:
        problem = uint_problem(field, value)
        if problem is None and key == "passcode":
            problem = passcode_problem(value)
        return problem
    if field.kind == TEXT:
        if not isinstance(value, str):
            return f"must be text, got {type(value).__name__}"
        if key == "date":
            return date_problem(value)
        return text_problem(value) or length_problem(field, len(value.encode("utf-8")))
    if field.kind == BYTES:
        if not isinstance(value, (bytes, bytearray)):
            return f"must be bytes, got {type(value).__name__}"
        return length_problem(field, len(value))
    if not isinstance(value, dict):
        return f"must be a JSON object, got {type(value).__name__}"
    return None


def uint_problem(field: Field, value: object) -> Optional[str]:
    """Range check of an unsigned integer field."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {value!r}"
    assert field.minimum is not None and field.maximum is not None
    if not field.minimum <= value <= field.maximum:
        return f"{_number(value, hexa=False)} is out of range (accepted: {field.range_text()})"
    return None


def length_problem(field: Field, length: int) -> Optional[str]:
    """Length check (in bytes) of a text or byte-string field."""
    assert field.minimum is not None and field.maximum is not None
    if not field.minimum <= length <= field.maximum:
        return f"is {length} bytes long (accepted: {field.range_text()})"
    return None


def date_problem(text: str) -> Optional[str]:
    """The device reads exactly ``YYYY-MM-DD``; we also require a real calendar date."""
    match = _DATE_ISO.fullmatch(text)
    if not match:
        return f"{shown(text)} is not a date in the form YYYY-MM-DD (ten ASCII characters)"
    if not is_calendar_date(*(int(g) for g in match.groups())):
        return f"{shown(text)} is not a real calendar date (accepted: YYYY-MM-DD)"
    return None


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_calendar_date(year: int, month: int, day: int) -> bool:
    """A proleptic Gregorian date, years 1..9999 (what ``datetime.date`` accepts, without
    importing datetime on every run)."""
    if not (1 <= year <= 9999 and 1 <= month <= 12):
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _DAYS[month - 1] + (1 if month == 2 and leap else 0)


def normalize_date(text: str, where: Where) -> str:
    """Accept ``YYYY-MM-DD`` or ``YYYYMMDD``; return ``YYYY-MM-DD`` (what the device parses)."""
    compact = _DATE_COMPACT.fullmatch(text)
    if compact:
        text = "-".join(compact.groups())
    problem = date_problem(text)
    if problem:
        raise InputError.at(where, f"{problem} (YYYYMMDD is also accepted)")
    return text


def shown(text: object, limit: int = 40) -> str:
    """``repr`` of a value for a message, cut to about ``limit`` characters."""
    if isinstance(text, str) and len(text) > limit:
        return f"{text[:limit]!r}... ({len(text)} characters)"
    return repr(text)


def int_problem(text: object) -> Optional[str]:
    """Why ``text`` is not an integer as ``int(x, 0)`` reads it (ASCII only, no spaces), or
    None. The one integer syntax of every front end: options, JSON strings, CSV cells."""
    if not isinstance(text, str):
        return f"{shown(text)} is not an integer"
    if len(text) > MAX_NUMBER_CHARS:
        return (f"{shown(text, 20)} is too long for a number (at most {MAX_NUMBER_CHARS} "
                "characters)")
    if not _INT.fullmatch(text):
        return (f"{shown(text)} is not an integer (accepted: decimal, 0x.., 0o.. or 0b.., "
                "ASCII digits)")
    return None


def parse_int(text: str, where: Where) -> int:
    """Parse like the reference, ``int(x, 0)``: 0x.., 0o.., 0b.., decimal, underscores."""
    problem = int_problem(text)
    if problem:
        raise InputError.at(where, problem)
    return int(text, 0)


def parse_decimal(text: str, where: Where) -> int:
    """Decimal digits only (leading zeros allowed, as spreadsheets keep them)."""
    if isinstance(text, str) and len(text) <= MAX_NUMBER_CHARS and \
            re.fullmatch(r"[0-9]+", text):
        return int(text, 10)
    return parse_int(text, where)


def parse_hex(text: str, where: Where) -> bytes:
    """Decode a hex string (either case, even length); an optional ``hex:`` prefix is dropped."""
    body = text[4:] if text.startswith("hex:") else text
    value = hex_bytes(body)
    if value is None:
        raise InputError.at(where, f"{shown(text)} is not valid hex (accepted: an even number "
                                   "of hex digits 0-9, a-f)")
    return value


def hex_bytes(body: str) -> Optional[bytes]:
    """The bytes of an even number of hex digits (either case), or None: ``bytes.fromhex``
    raises on anything but ASCII hex digits and whitespace, and whitespace (which it skips)
    leaves fewer bytes than half the characters."""
    try:
        value = bytes.fromhex(body)
    except ValueError:
        return None
    return value if 2 * len(value) == len(body) else None


def base64_problem(text: object) -> Optional[str]:
    if not isinstance(text, str) or not _BASE64.fullmatch(text) or len(text) % 4:
        return (f"{shown(text)} is not valid base64 (accepted: the standard alphabet A-Z a-z "
                "0-9 + / with = padding)")
    return None


def parse_base64(text: str, where: Where) -> bytes:
    """Strict base64: the reference silently drops stray characters; we refuse them."""
    problem = base64_problem(text)
    if problem is None:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            problem = base64_problem(None)
    assert problem is not None  # base64_problem(None) always names the problem
    raise InputError.at(where, problem)


# --- text that reaches flash ----------------------------------------------------------

_CONTROL_NAMES = {0: "NUL", 8: "backspace", 9: "tab", 10: "newline", 11: "vertical tab",
                  12: "form feed", 13: "carriage return", 27: "ESC", 127: "DEL"}
#: Unicode categories refused in text: controls, format characters (bidi overrides,
#: zero-width), lone surrogates (bytes that were not UTF-8), line/paragraph separators.
_REFUSED_CATEGORIES = {"Cc": "control character", "Cf": "invisible format character",
                       "Cs": "byte that is not valid UTF-8", "Zl": "line separator",
                       "Zp": "paragraph separator"}


def text_problem(text: str) -> Optional[str]:
    """Why ``text`` may not be written to flash as a text field, or None: control and
    invisible characters, and a ``hex:`` start (the JSON form would read it as bytes)."""
    problem = control_problem(text)
    if problem is None and text.startswith(HEX_PREFIX):
        return (f"starts with {HEX_PREFIX!r}, which the factory data JSON reads as hex bytes "
                "(the JSON and the image would disagree); give the text itself")
    return problem


def control_problem(text: str) -> Optional[str]:
    """Where ``text`` holds a control or invisible character (say which), or None."""
    import unicodedata

    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            code = ord(char)
            if category == "Cs" and 0xDC80 <= code <= 0xDCFF:  # surrogateescape of argv
                return (f"contains the byte 0x{code - 0xDC00:02X}, which is not valid UTF-8, "
                        f"at character {position}")
            name = _CONTROL_NAMES.get(code) or unicodedata.name(char, "")
            label = f"U+{code:04X}, {name}" if name else f"U+{code:04X}"
            return (f"contains a {_REFUSED_CATEGORIES[category]} ({label}) at character "
                    f"{position} (accepted: printable text)")
    return None


# --- partitions ----------------------------------------------------------------------

FLASH_END = 1 << 32


def partition_problem(offset: int, size: int) -> Optional[tuple[str, str]]:
    """(parameter, problem) when ``offset``/``size`` cannot be a partition in the 32-bit
    address space, else None."""
    if isinstance(offset, bool) or not isinstance(offset, int):
        return "offset", f"{shown(offset)} is not an integer"
    if isinstance(size, bool) or not isinstance(size, int):
        return "size", f"{shown(size)} is not an integer"
    if not 0 <= offset < FLASH_END:
        return "offset", (f"{_number(offset)} is not a 32-bit flash address "
                          "(accepted: 0..0xffffffff)")
    if size <= 0:
        return "size", f"{_number(size, hexa=False)} must be a positive number of bytes"
    if offset + size > FLASH_END:
        return "size", (f"0x{size:x} bytes at 0x{offset:x} end past the 4 GiB address space "
                        "(offset + size must be at most 0x100000000)")
    return None


def _number(value: int, hexa: bool = True) -> str:
    text = (f"-0x{-value:x}" if value < 0 else f"0x{value:x}") if hexa else str(value)
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def require_partition(offset: int, size: int) -> tuple[int, int]:
    found = partition_problem(offset, size)
    if found:
        raise InputError.at(Subject(found[0]), found[1])
    return offset, size


def require(key: str, value: object, where: Where) -> None:
    """Raise InputError when ``value`` is not acceptable for ``key``."""
    problem = problem_for(key, value)
    if problem:
        field = FIELDS_BY_KEY[key]
        raise InputError.at(where, f"{field.description} {problem}")


# --- spreadsheet cells --------------------------------------------------------------

#: A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escaped(text: str) -> str:
    """``text`` on one line as a terminal may show it: control and invisible characters (ESC,
    newline, bidi marks) are written as Python escapes (``\\x1b``, ``\\n``), the rest as is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def safe_cell(text: str) -> str:
    """``text`` as a manifest cell: one line (see :func:`escaped`), and a value a spreadsheet
    would run as a formula gets a leading apostrophe (OWASP's CSV-injection advice)."""
    text = escaped(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def formula_problem(text: str) -> Optional[str]:
    """Why ``text`` cannot be a cell of a manifest a spreadsheet opens, or None."""
    if text.startswith(FORMULA_STARTS):
        return (f"{shown(text)} starts with {text[0]!r}, which a spreadsheet opening the "
                "manifest would run as a formula (accepted: a value that does not start with "
                "= + - @)")
    return None
