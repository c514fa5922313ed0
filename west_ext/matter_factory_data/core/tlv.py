"""Minimal Matter TLV (Matter specification, Appendix A) encoder and decoder.

Only what the Certification Declaration needs: anonymous and context-specific
(1-byte) tags; signed and unsigned integers (minimal width 1/2/4/8), booleans,
null, UTF-8 and byte strings (minimal length width), structures, arrays and
lists.  Floating point numbers and profile-specific / fully-qualified tags are
rejected.

Python shapes (the same for :func:`encode` and :func:`decode`):

* ``int`` >= 0 is an unsigned integer; a negative ``int`` or a :class:`SignedInt`
  is a signed integer (decoded signed integers are :class:`SignedInt`).
* ``bool``, ``None`` (null), ``str`` (UTF-8 string), ``bytes`` (byte string).
* ``dict`` ``{context_tag: value}`` or :class:`Struct` ``[(context_tag, value), ...]``
  is a structure (decoded as ``dict``, in wire order).
* ``list`` / ``tuple`` of values is an array of anonymous elements (decoded as ``list``).
* :class:`TLVList` ``[(context_tag or None, value), ...]`` is a TLV list.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

__all__ = ["SignedInt", "Struct", "TLVList", "encode", "decode"]

# Element types (low five bits of the control octet).
_SINT = 0x00
_UINT = 0x04
_FALSE = 0x08
_TRUE = 0x09
_UTF8 = 0x0C
_BYTES = 0x10
_NULL = 0x14
_STRUCT = 0x15
_ARRAY = 0x16
_LIST = 0x17
_END = 0x18

# Tag control (high three bits of the control octet).
_ANONYMOUS = 0x00
_CONTEXT = 0x20

_WIDTHS = (1, 2, 4, 8)
_MAX_DEPTH = 32


class SignedInt(int):
    """An integer that is encoded as a TLV signed integer even when it is not negative."""

    def __repr__(self) -> str:
        return f"SignedInt({int(self)})"


class Struct(list):
    """A TLV structure given as ordered ``(context_tag, value)`` pairs."""


class TLVList(list):
    """A TLV list given as ordered ``(context_tag or None, value)`` pairs."""


def encode(value: Any) -> bytes:
    """Encode ``value`` as one anonymous TLV element."""
    out = bytearray()
    _encode_element(out, None, value, 0)
    return bytes(out)


def decode(data: bytes, *, source: str = "the TLV data") -> Any:
    """Decode exactly one anonymous TLV element that spans all of ``data``."""
    data = bytes(data)
    tag, value, end = _decode_element(data, 0, 0, source)
    if value is _END_MARK:
        raise _bad(source, 0, "an end-of-container without a container")
    if tag is not None:
        raise _bad(source, 0, f"a top-level element with context tag {tag}")
    if end != len(data):
        raise _bad(source, end, f"{len(data) - end} trailing byte(s) after the element")
    return value


# --------------------------------------------------------------------------- encoder


def _encode_error(what: str) -> InputError:
    return InputError(f"Cannot encode Matter TLV: {what}.")


def _tag_bytes(tag: int | None) -> tuple[int, bytes]:
    """Tag control bits and tag octets for an anonymous (None) or context tag."""
    if tag is None:
        return _ANONYMOUS, b""
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= 0xFF:
        raise _encode_error(f"tag {tag!r} is not a context tag; expected an integer 0..255")
    return _CONTEXT, bytes([tag])


def _uint_width(value: int) -> int:
    for index, width in enumerate(_WIDTHS):
        if value < 1 << (8 * width):
            return index
    raise _encode_error(f"unsigned integer {value} is out of range; expected 0..2**64-1")


def _sint_width(value: int) -> int:
    for index, width in enumerate(_WIDTHS):
        limit = 1 << (8 * width - 1)
        if -limit <= value < limit:
            return index
    raise _encode_error(f"signed integer {value} is out of range; expected -2**63..2**63-1")


def _encode_element(out: bytearray, tag: int | None, value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _encode_error(f"containers are nested more than {_MAX_DEPTH} deep")
    control, tag_octets = _tag_bytes(tag)

    def head(element_type: int) -> None:
        out.append(control | element_type)
        out.extend(tag_octets)

    if value is None:
        head(_NULL)
    elif isinstance(value, bool):
        head(_TRUE if value else _FALSE)
    elif isinstance(value, int) and (isinstance(value, SignedInt) or value < 0):
        index = _sint_width(value)
        head(_SINT | index)
        out.extend(int(value).to_bytes(_WIDTHS[index], "little", signed=True))
    elif isinstance(value, int):
        index = _uint_width(value)
        head(_UINT | index)
        out.extend(int(value).to_bytes(_WIDTHS[index], "little"))
    elif isinstance(value, str):
        _encode_string(head, out, _UTF8, value.encode("utf-8"))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _encode_string(head, out, _BYTES, bytes(value))
    elif isinstance(value, (dict, Struct)):
        head(_STRUCT)
        _encode_members(out, value.items() if isinstance(value, dict) else value, depth, True)
        out.append(_END)
    elif isinstance(value, TLVList):
        head(_LIST)
        _encode_members(out, value, depth, False)
        out.append(_END)
    elif isinstance(value, (list, tuple)):
        head(_ARRAY)
        for item in value:
            _encode_element(out, None, item, depth + 1)
        out.append(_END)
    else:
        raise _encode_error(f"values of type {type(value).__name__} are not supported")


def _encode_string(head: Any, out: bytearray, base: int, payload: bytes) -> None:
    index = _uint_width(len(payload))
    head(base | index)
    out.extend(len(payload).to_bytes(_WIDTHS[index], "little"))
    out.extend(payload)


def _encode_members(out: bytearray, members: Any, depth: int, is_struct: bool) -> None:
    seen: set[int] = set()
    for member in members:
        if not isinstance(member, tuple) or len(member) != 2:
            raise _encode_error(f"container member {member!r} is not a (tag, value) pair")
        tag, value = member
        if tag is None and is_struct:
            raise _encode_error("a structure member has no tag; expected a context tag 0..255")
        if tag is not None and is_struct:
            if tag in seen:
                raise _encode_error(f"context tag {tag} appears twice in one structure")
            seen.add(tag)
        _encode_element(out, tag, value, depth + 1)


# --------------------------------------------------------------------------- decoder


class _EndMark:
    """Sentinel returned for an end-of-container element."""


_END_MARK = _EndMark()


def _bad(source: str, offset: int, what: str) -> InputError:
    return InputError(
        f"{source} is not valid Matter TLV: {what} at offset {offset}; expected anonymous or "
        "context-tagged integers, booleans, null, strings, structures, arrays or lists."
    )


def _take(data: bytes, offset: int, count: int, source: str) -> bytes:
    if count > len(data) - offset:
        raise _bad(source, offset, f"a truncated element (needs {count} more byte(s))")
    return data[offset : offset + count]


def _decode_element(data: bytes, offset: int, depth: int, source: str) -> tuple[Any, Any, int]:
    """Decode the element at ``offset``: (tag or None, value or _END_MARK, next offset)."""
    if depth > _MAX_DEPTH:
        raise _bad(source, offset, f"containers nested more than {_MAX_DEPTH} deep")
    start = offset
    control = _take(data, offset, 1, source)[0]
    offset += 1
    tag_control, element_type = control & 0xE0, control & 0x1F
    tag: int | None = None
    if tag_control == _CONTEXT:
        tag = _take(data, offset, 1, source)[0]
        offset += 1
    elif tag_control != _ANONYMOUS:
        raise _bad(source, start, f"unsupported tag control 0x{tag_control:02X}")

    if element_type == _END:
        if tag is not None:
            raise _bad(source, start, "a tagged end-of-container")
        return None, _END_MARK, offset
    if element_type <= 0x07:
        width = _WIDTHS[element_type & 0x03]
        raw = _take(data, offset, width, source)
        signed = element_type < _UINT
        number = int.from_bytes(raw, "little", signed=signed)
        return tag, SignedInt(number) if signed else number, offset + width
    if element_type in (_FALSE, _TRUE):
        return tag, element_type == _TRUE, offset
    if element_type == _NULL:
        return tag, None, offset
    if _UTF8 <= element_type <= 0x13:
        width = _WIDTHS[element_type & 0x03]
        length = int.from_bytes(_take(data, offset, width, source), "little")
        offset += width
        payload = _take(data, offset, length, source)
        offset += length
        if element_type < _BYTES:
            try:
                return tag, payload.decode("utf-8"), offset
            except UnicodeDecodeError:
                raise _bad(source, start, "a UTF-8 string that is not valid UTF-8") from None
        return tag, payload, offset
    if element_type in (_STRUCT, _ARRAY, _LIST):
        value, offset = _decode_container(data, offset, element_type, depth, source)
        return tag, value, offset
    raise _bad(source, start, f"unsupported element type 0x{element_type:02X}")


def _decode_container(
    data: bytes, offset: int, element_type: int, depth: int, source: str
) -> tuple[Any, int]:
    struct: dict[int, Any] = {}
    items: list[Any] = []
    pairs = TLVList()
    while True:
        member_start = offset
        tag, value, offset = _decode_element(data, offset, depth + 1, source)
        if value is _END_MARK:
            break
        if element_type == _STRUCT:
            if tag is None:
                raise _bad(source, member_start, "an anonymous structure member")
            if tag in struct:
                raise _bad(source, member_start, f"a repeated context tag {tag} in a structure")
            struct[tag] = value
        elif element_type == _ARRAY:
            if tag is not None:
                raise _bad(source, member_start, f"an array element with context tag {tag}")
            items.append(value)
        else:
            pairs.append((tag, value))
    if element_type == _STRUCT:
        return struct, offset
    if element_type == _ARRAY:
        return items, offset
    return pairs, offset
