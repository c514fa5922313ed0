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

from ..errors import InputError, Where
from .model import BYTES, FIELDS_BY_KEY, TEXT, UINT, Field
from .onboarding import passcode_problem  # one list of forbidden passcodes for the project

_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")


def problem_for(key: str, value: object) -> Optional[str]:
    """The problem with ``value`` for factory data ``key`` (already typed), or None."""
    field = FIELDS_BY_KEY[key]
    if field.kind == UINT:
        problem = uint_problem(field, value)
        if problem is None and key == "passcode":
            problem = passcode_problem(value)  # type: ignore[arg-type]
        return problem
    if field.kind == TEXT:
        if not isinstance(value, str):
            return f"must be text, got {type(value).__name__}"
        if key == "date":
            return date_problem(value)
        return length_problem(field, len(value.encode("utf-8")))
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
        return f"{value} is out of range (accepted: {field.range_text()})"
    return None


def length_problem(field: Field, length: int) -> Optional[str]:
    """Length check (in bytes) of a text or byte-string field."""
    assert field.minimum is not None and field.maximum is not None
    if not field.minimum <= length <= field.maximum:
        return f"is {length} bytes long (accepted: {field.range_text()})"
    return None


def date_problem(text: str) -> Optional[str]:
    """The device reads exactly ``YYYY-MM-DD``; we also require a real calendar date."""
    match = _DATE_ISO.match(text)
    if not match:
        return f"{text!r} is not a date in the form YYYY-MM-DD"
    if not is_calendar_date(*(int(g) for g in match.groups())):
        return f"{text!r} is not a real calendar date (accepted: YYYY-MM-DD)"
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
    compact = _DATE_COMPACT.match(text)
    if compact:
        text = "-".join(compact.groups())
    problem = date_problem(text)
    if problem:
        raise InputError.at(where, f"{problem} (YYYYMMDD is also accepted)")
    return text


def parse_int(text: str, where: Where) -> int:
    """Parse like the reference, ``int(x, 0)``: 0x.., 0o.., 0b.., decimal, underscores."""
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        raise InputError.at(
            where, f"{text!r} is not an integer (accepted: decimal, 0x.., 0o.. or 0b..)"
        ) from None


def parse_hex(text: str, where: Where) -> bytes:
    """Decode a hex string (either case, even length); an optional ``hex:`` prefix is dropped."""
    body = text[4:] if text.startswith("hex:") else text
    if not _HEX.match(body):
        raise InputError.at(where, f"{text!r} is not valid hex (accepted: an even number of "
                                   "hex digits 0-9, a-f)")
    return bytes.fromhex(body)


def parse_base64(text: str, where: Where) -> bytes:
    """Strict base64: the reference silently drops stray characters; we refuse them."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError.at(where, f"{text!r} is not valid base64 (accepted: the standard "
                                   "alphabet A-Z a-z 0-9 + / with = padding)") from None


def require(key: str, value: object, where: Where) -> None:
    """Raise InputError when ``value`` is not acceptable for ``key``."""
    problem = problem_for(key, value)
    if problem:
        field = FIELDS_BY_KEY[key]
        raise InputError.at(where, f"{field.description} {problem}")
