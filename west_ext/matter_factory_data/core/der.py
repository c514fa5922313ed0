"""A small, strict DER reader (ITU-T X.690 distinguished encoding rules).

Just enough ASN.1 to read certificates and private keys without importing
``cryptography.x509``: one element at a time (tag, definite minimal length,
value), the children of a constructed element, and the primitive types
certificates use.  Anything that is not DER is refused: indefinite and
non-minimal lengths (BER), multi-byte tags, truncation, trailing bytes,
non-minimal INTEGERs and OID arcs, BOOLEANs other than 00/FF, BIT STRINGs with
set padding bits, unsorted SET OF.  Every failure raises :class:`DerError`, a
:class:`~matter_factory_data.errors.CredentialError` whose message names the
``source`` the caller gave.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import CredentialError

__all__ = [
    "BOOLEAN", "INTEGER", "BIT_STRING", "OCTET_STRING", "NULL", "OID", "UTF8_STRING",
    "NUMERIC_STRING", "PRINTABLE_STRING", "TELETEX_STRING", "IA5_STRING", "UTC_TIME",
    "GENERALIZED_TIME", "VISIBLE_STRING", "UNIVERSAL_STRING", "BMP_STRING", "SEQUENCE", "SET",
    "STRING_TAGS", "DerError", "Element", "context", "tag_name", "parse", "read_element",
    "children", "expect", "read_oid", "read_integer", "read_boolean", "read_bit_string",
    "read_octet_string", "read_null", "read_string",
]

BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
NUMERIC_STRING = 0x12
PRINTABLE_STRING = 0x13
TELETEX_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
VISIBLE_STRING = 0x1A
UNIVERSAL_STRING = 0x1C
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31

_CONSTRUCTED = 0x20
_MAX_LENGTH_OCTETS = 4  # lengths up to 4 GiB; more is never a credential

_NAMES = {
    BOOLEAN: "BOOLEAN", INTEGER: "INTEGER", BIT_STRING: "BIT STRING",
    OCTET_STRING: "OCTET STRING", NULL: "NULL", OID: "OBJECT IDENTIFIER",
    UTF8_STRING: "UTF8String", NUMERIC_STRING: "NumericString",
    PRINTABLE_STRING: "PrintableString", TELETEX_STRING: "TeletexString",
    IA5_STRING: "IA5String", UTC_TIME: "UTCTime", GENERALIZED_TIME: "GeneralizedTime",
    VISIBLE_STRING: "VisibleString", UNIVERSAL_STRING: "UniversalString",
    BMP_STRING: "BMPString", SEQUENCE: "SEQUENCE", SET: "SET",
}

#: The character-string types :func:`read_string` decodes, with their codec.
STRING_TAGS = {
    UTF8_STRING: "utf-8", NUMERIC_STRING: "ascii", PRINTABLE_STRING: "ascii",
    TELETEX_STRING: "latin-1", IA5_STRING: "ascii", VISIBLE_STRING: "ascii",
    UNIVERSAL_STRING: "utf-32-be", BMP_STRING: "utf-16-be",
}
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
#: The characters the restricted string types allow.
_CHARSETS = {
    NUMERIC_STRING: frozenset("0123456789 "),
    PRINTABLE_STRING: _PRINTABLE,
    IA5_STRING: frozenset(map(chr, range(0x80))),
    VISIBLE_STRING: frozenset(map(chr, range(0x20, 0x7F))),
}


class DerError(CredentialError):
    """Input that is not DER, or not the DER structure expected.

    ``source`` names the input, ``detail`` says what is wrong and where, so a
    caller can rephrase the message ("X is not a readable certificate: detail").
    """

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source} is not valid DER: {detail}.")
        self.source = source
        self.detail = detail


class Element(NamedTuple):
    """One DER element: its tag byte, content octets, whole encoding and offset in the input."""

    tag: int
    value: bytes
    encoded: bytes
    offset: int

    @property
    def constructed(self) -> bool:
        return bool(self.tag & _CONSTRUCTED)


def context(number: int, *, constructed: bool = True) -> int:
    """The tag byte of context-specific ``[number]`` (0..30)."""
    return 0x80 | (_CONSTRUCTED if constructed else 0) | number


def tag_name(tag: int) -> str:
    """A readable name of a tag byte: ``SEQUENCE``, ``[3]``, ``tag 0x42``."""
    if tag in _NAMES:
        return _NAMES[tag]
    if tag & 0xC0 == 0x80:
        return f"[{tag & 0x1F}]"
    return f"tag 0x{tag:02X}"


def read_element(data: bytes, pos: int = 0, *, source: str, end: int | None = None,
                 base: int = 0) -> tuple[Element, int]:
    """The element starting at ``data[pos]`` and the position just after it.

    ``end`` bounds the element (default: the end of ``data``); ``base`` is added to
    offsets in the element and in messages (the position of ``data`` in the input).
    """
    end = len(data) if end is None else end
    start = pos
    if pos >= end:
        raise DerError(source, f"truncated at byte {base + pos}: expected an element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(source, f"multi-byte tag at byte {base + pos} (not used by credentials)")
    if tag == 0x00:
        raise DerError(source, f"end-of-contents or zero tag at byte {base + pos} (BER)")
    pos += 1
    if pos >= end:
        raise DerError(source, f"truncated at byte {base + pos}: expected a length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError(source, f"indefinite length at byte {base + pos - 1} (BER, not DER)")
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_OCTETS:
            raise DerError(source, f"length of {count} octets at byte {base + pos - 1} is too "
                                   "long")
        if pos + count > end:
            raise DerError(source, f"truncated at byte {base + pos}: the length needs {count} "
                                   "octets")
        octets = data[pos:pos + count]
        pos += count
        length = int.from_bytes(octets, "big")
        if octets[0] == 0 or length < 0x80:
            raise DerError(source, f"non-minimal length at byte {base + start + 1} (BER, not "
                                   "DER)")
    if pos + length > end:
        raise DerError(source, f"truncated: the {tag_name(tag)} at byte {base + start} needs "
                               f"{length} content bytes but {end - pos} remain")
    stop = pos + length
    return Element(tag, bytes(data[pos:stop]), bytes(data[start:stop]), base + start), stop


def parse(data: bytes, *, source: str) -> Element:
    """The single element that is all of ``data``; trailing bytes are refused."""
    element, stop = read_element(data, 0, source=source)
    if stop != len(data):
        raise DerError(source, f"{len(data) - stop} trailing bytes after the "
                               f"{tag_name(element.tag)} that ends at byte {stop}")
    return element


def children(element: Element, *, source: str) -> list[Element]:
    """The elements inside a constructed element (SEQUENCE, SET, constructed ``[n]``).

    The content must be exactly a run of whole elements; the members of a SET
    must be in DER order (ascending encodings).
    """
    if not element.constructed:
        raise DerError(source, f"the {tag_name(element.tag)} at byte {element.offset} is "
                               "primitive but should be constructed")
    value = element.value
    base = element.offset + len(element.encoded) - len(value)
    items: list[Element] = []
    pos = 0
    while pos < len(value):
        item, pos = read_element(value, pos, source=source, base=base)
        items.append(item)
    if element.tag == SET:
        for first, second in zip(items, items[1:]):
            size = max(len(first.encoded), len(second.encoded))
            if first.encoded.ljust(size, b"\0") > second.encoded.ljust(size, b"\0"):
                raise DerError(source, f"the SET at byte {element.offset} is not in DER order")
    return items


def expect(element: Element, tag: int, *, source: str, what: str) -> Element:
    """``element`` if its tag is ``tag``; otherwise a message naming ``what`` was expected."""
    if element.tag != tag:
        raise DerError(source, f"expected {what} ({tag_name(tag)}) at byte {element.offset} but "
                               f"found {tag_name(element.tag)}")
    return element


def _primitive(element: Element, tag: int, source: str, what: str) -> bytes:
    return expect(element, tag, source=source, what=what).value


_OIDS: dict = {}  # the dotted text of the last OIDs read (at most 256): certificates repeat them


def read_oid(element: Element, *, source: str, what: str = "an object identifier") -> str:
    """An OBJECT IDENTIFIER as a dotted string such as ``1.2.840.10045.2.1``."""
    value = _primitive(element, OID, source, what)
    known = _OIDS.get(value)
    if known is not None:
        return known
    dotted = _dotted(value, element, source)
    if len(_OIDS) >= 256:
        _OIDS.clear()
    _OIDS[value] = dotted
    return dotted


def _dotted(value: bytes, element: Element, source: str) -> str:
    if not value or value[-1] & 0x80:
        raise DerError(source, f"the object identifier at byte {element.offset} is empty or "
                               "truncated")
    arcs: list[int] = []
    number = 0
    fresh = True
    for octet in value:
        if fresh and octet == 0x80:
            raise DerError(source, f"the object identifier at byte {element.offset} has a "
                                   "non-minimal arc")
        number = (number << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(number)
            number = 0
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def read_integer(element: Element, *, source: str, what: str = "an integer") -> int:
    """A (signed) INTEGER in its minimal two's-complement encoding."""
    value = _primitive(element, INTEGER, source, what)
    if not value:
        raise DerError(source, f"the INTEGER at byte {element.offset} is empty")
    if len(value) > 1 and (
        (value[0] == 0x00 and value[1] < 0x80) or (value[0] == 0xFF and value[1] >= 0x80)
    ):
        raise DerError(source, f"the INTEGER at byte {element.offset} is not minimally encoded")
    return int.from_bytes(value, "big", signed=True)


def read_boolean(element: Element, *, source: str, what: str = "a boolean") -> bool:
    """A BOOLEAN: 00 is false, FF is true, anything else is not DER."""
    value = _primitive(element, BOOLEAN, source, what)
    if value not in (b"\x00", b"\xff"):
        raise DerError(source, f"the BOOLEAN at byte {element.offset} is not 00 or FF")
    return value == b"\xff"


def read_bit_string(element: Element, *, source: str,
                    what: str = "a bit string") -> tuple[bytes, int]:
    """(content octets, number of unused bits in the last octet) of a BIT STRING."""
    value = _primitive(element, BIT_STRING, source, what)
    if not value or value[0] > 7 or (len(value) == 1 and value[0]):
        raise DerError(source, f"the BIT STRING at byte {element.offset} has a bad unused-bits "
                               "count")
    unused = value[0]
    if unused and value[-1] & ((1 << unused) - 1):
        raise DerError(source, f"the BIT STRING at byte {element.offset} has set padding bits")
    return value[1:], unused


def read_octet_string(element: Element, *, source: str, what: str = "an octet string") -> bytes:
    """The content of an OCTET STRING."""
    return _primitive(element, OCTET_STRING, source, what)


def read_null(element: Element, *, source: str, what: str = "NULL") -> None:
    """A NULL (no content)."""
    if _primitive(element, NULL, source, what):
        raise DerError(source, f"the NULL at byte {element.offset} has content")


def read_string(element: Element, *, source: str, what: str = "a string") -> str:
    """A character string: UTF8String, PrintableString and the other X.520 string types."""
    codec = STRING_TAGS.get(element.tag)
    if codec is None:
        raise DerError(source, f"expected {what} (a character string) at byte {element.offset} "
                               f"but found {tag_name(element.tag)}")
    try:
        text = element.value.decode(codec)
    except UnicodeDecodeError:
        raise DerError(source, f"the {tag_name(element.tag)} at byte {element.offset} is not "
                               f"valid {codec}") from None
    charset = _CHARSETS.get(element.tag)
    if charset is not None and not charset.issuperset(text):
        raise DerError(source, f"the {tag_name(element.tag)} at byte {element.offset} has "
                               "characters outside its character set")
    return text
