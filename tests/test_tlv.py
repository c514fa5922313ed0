"""Matter TLV encoder/decoder (core/tlv.py): known vectors, errors, round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matter_factory_data.core.tlv import SignedInt, Struct, TLVList, decode, encode
from matter_factory_data.errors import InputError

# (value, encoding): examples of the Matter specification, Appendix A, plus width boundaries.
VECTORS = [
    ({1: 1}, "15 24 01 01 18"),
    (Struct([(1, 1)]), "15 24 01 01 18"),
    (False, "08"),
    (True, "09"),
    (None, "14"),
    (SignedInt(42), "00 2a"),
    (-17, "00 ef"),
    (42, "04 2a"),
    (255, "04 ff"),
    (256, "05 00 01"),
    (0xFFFF, "05 ff ff"),
    (0x10000, "06 00 00 01 00"),
    (2**32, "07 00 00 00 00 01 00 00 00"),
    (2**64 - 1, "07 ff ff ff ff ff ff ff ff"),
    (SignedInt(127), "00 7f"),
    (128, "04 80"),
    (SignedInt(128), "01 80 00"),
    (-128, "00 80"),
    (-129, "01 7f ff"),
    (-(2**63), "03 00 00 00 00 00 00 00 80"),
    ("Hello!", "0c 06 48 65 6c 6c 6f 21"),
    ("Tschüs", "0c 07 54 73 63 68 c3 bc 73"),
    (b"\x00\x01\x02\x03\x04", "10 05 00 01 02 03 04"),
    ({}, "15 18"),
    ([], "16 18"),
    (TLVList(), "17 18"),
    ({0: SignedInt(42), 1: -17}, "15 20 00 2a 20 01 ef 18"),
    ([0, 1, 2], "16 04 00 04 01 04 02 18"),
    (TLVList([(None, 1), (3, True)]), "17 04 01 29 03 18"),
    ({2: [0x8000]}, "15 36 02 05 00 80 18 18"),
    ({4: "ab", 5: {6: None}}, "15 2c 04 02 61 62 35 05 34 06 18 18"),
]


@pytest.mark.parametrize(("value", "encoding"), VECTORS)
def test_known_vectors_encode(value, encoding):
    assert encode(value) == bytes.fromhex(encoding)


@pytest.mark.parametrize(("value", "encoding"), VECTORS)
def test_known_vectors_decode(value, encoding):
    decoded = decode(bytes.fromhex(encoding))
    if isinstance(value, Struct):
        value = dict(value)
    assert decoded == value
    assert encode(decoded) == bytes.fromhex(encoding)


def test_long_strings_use_wider_length_fields():
    assert encode(b"x" * 255)[:2] == bytes.fromhex("10 ff")
    assert encode(b"x" * 256)[:3] == bytes.fromhex("11 00 01")
    assert encode("y" * 70000)[:5] == bytes.fromhex("0e 70 11 01 00")
    assert decode(encode("y" * 70000)) == "y" * 70000


def test_decode_accepts_non_minimal_widths():
    assert decode(bytes.fromhex("05 2a 00")) == 42
    assert decode(bytes.fromhex("11 02 00 61 62")) == b"ab"
    assert decode(bytes.fromhex("01 ef ff")) == -17


def test_decoded_types():
    value = decode(bytes.fromhex("15 20 00 2a 24 01 2a 18"))
    assert isinstance(value[0], SignedInt) and value[0] == 42
    assert type(value[1]) is int
    assert repr(value[0]) == "SignedInt(42)"


def test_chip_cd_content_vector_decodes():
    # connectedhomeip src/credentials/tests/TestCertificationDeclaration.cpp, sTestCMS_CDContent01.
    content = bytes.fromhex(
        "152400012501f1ff360205008018250334122c04135a494732303134315a42333330303031"
        "2d32342405002406002507942624080018"
    )
    value = decode(content)
    assert value == {0: 1, 1: 0xFFF1, 2: [0x8000], 3: 0x1234, 4: "ZIG20141ZB330001-24",
                     5: 0, 6: 0, 7: 0x2694, 8: 0}
    assert list(value) == list(range(9))
    assert encode(value) == content


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("", "truncated"),
        ("05 01", "truncated"),
        ("0c 05 61 62", "truncated"),
        ("15 24 01 01", "truncated"),
        ("04 01 00", "trailing"),
        ("18", "end-of-container without a container"),
        ("24 01 01", "top-level element with context tag 1"),
        ("15 44 01 00 01 01 18", "tag control 0x40"),
        ("15 c4 01 00 00 00 00 01 18", "tag control 0xC0"),
        ("0a 00 00 80 3f", "element type 0x0A"),
        ("1f", "element type 0x1F"),
        ("15 04 01 18", "anonymous structure member"),
        ("16 24 01 01 18", "array element with context tag 1"),
        ("15 24 01 01 24 01 02 18", "repeated context tag 1"),
        ("0c 02 c3 28", "not valid UTF-8"),
        ("15 24 01 01 38 18", "tagged end-of-container"),
        ("16" * 40 + "18" * 40, "nested more than"),
    ],
)
def test_decode_errors(data, fragment):
    with pytest.raises(InputError) as info:
        decode(bytes.fromhex(data), source="--cd cd.bin")
    message = str(info.value)
    assert fragment in message
    assert message.startswith("--cd cd.bin is not valid Matter TLV")
    assert message.count(". ") == 0 and message.endswith(".")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (2**64, "out of range"),
        (-(2**63) - 1, "out of range"),
        ({256: 1}, "not a context tag"),
        ({-1: 1}, "not a context tag"),
        ({"a": 1}, "not a context tag"),
        (1.5, "float are not supported"),
        ({1: object()}, "object are not supported"),
        (Struct([(None, 1)]), "has no tag"),
        (Struct([(1, 1), (1, 2)]), "appears twice"),
        (Struct([1]), "not a (tag, value) pair"),
        (TLVList([(1, 2, 3)]), "not a (tag, value) pair"),
    ],
)
def test_encode_errors(value, fragment):
    with pytest.raises(InputError, match="Cannot encode Matter TLV") as info:
        encode(value)
    assert fragment in str(info.value)


def test_encode_rejects_excessive_nesting():
    value: list = []
    for _ in range(40):
        value = [value]
    with pytest.raises(InputError, match="nested more than"):
        encode(value)


# --------------------------------------------------------------------------- properties

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(0, 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1).map(SignedInt),
    st.text(max_size=40),
    st.binary(max_size=300),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.integers(0, 255), inner, max_size=5),
        st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 255)), inner), max_size=5).map(
            TLVList
        ),
    ),
    max_leaves=25,
)


def _same(a, b) -> bool:
    """Type-strict structural equality (True != 1, SignedInt(1) != 1, TLVList != list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=300)
@given(_values)
def test_round_trip(value):
    data = encode(value)
    decoded = decode(data)
    assert _same(decoded, value)
    assert encode(decoded) == data


@given(st.integers(0, 2**64 - 1))
def test_unsigned_width_is_minimal(value):
    width = next(w for w in (1, 2, 4, 8) if value < 1 << (8 * w))
    assert len(encode(value)) == 1 + width


@given(st.integers(-(2**63), 2**63 - 1))
def test_signed_width_is_minimal(value):
    width = next(w for w in (1, 2, 4, 8) if -(1 << (8 * w - 1)) <= value < 1 << (8 * w - 1))
    assert len(encode(SignedInt(value))) == 1 + width


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_decode_garbage_raises_only_input_error(data):
    with contextlib.suppress(InputError):
        decode(data)
