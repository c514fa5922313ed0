"""The CBOR item walker and the encoding-level lint of nRF images (zcbor's view)."""

import os
from pathlib import Path

import cbor2
import pytest
from mutations import base_images, bstr, head, mutated_images, split_items, tstr

from matter_factory_data.formats import cbor_items, nrf_cbor

GOLDEN = Path(__file__).parent / "data" / "golden" / "factory_data.bin"


def golden_pairs():
    _, pairs, _ = split_items(GOLDEN.read_bytes())
    return pairs


def image_with(replace=None, extra=(), top=None, trailer=b"\0"):
    """The golden image with the value of key ``replace[0]`` replaced by raw bytes."""
    pairs = []
    for key, value in golden_pairs():
        if replace and cbor2.loads(key) == replace[0]:
            value = replace[1]
        pairs.append((key, value))
    pairs += list(extra)
    body = b"".join(k + v for k, v in pairs)
    return (top if top is not None else head(5, len(pairs))) + body + trailer


def errors_of(image):
    reading = nrf_cbor.read_image(image)
    return [str(p) for p in nrf_cbor.lint_image(reading) if p.severity == nrf_cbor.ERROR]


# --- the walker ----------------------------------------------------------------

@pytest.mark.parametrize("hexdata, reason", [
    ("", "the data ends where an item was expected"),
    ("19ff", "the data ends inside the head of a unsigned integer"),
    ("1c", "is not a valid CBOR head"),
    ("ff", r"a break byte \(0xff\) outside an indefinite-length item"),
    ("5f6161ff", "must be a definite byte string"),
    ("4461", "runs past the end of the data"),
    ("bf6161ff", "ends after a key, without its value"),
    ("f810", "simple value 16 in two bytes is not well-formed"),
    ("9b00000000ffffffff", "cannot fit"),
], ids=["empty", "cut-head", "reserved", "stray-break", "bad-chunk", "cut-string",
        "odd-map", "simple-2-byte", "huge-count"])
def test_scan_refuses_what_is_not_well_formed(hexdata, reason):
    with pytest.raises(cbor_items.CborError, match=reason):
        cbor_items.scan(bytes.fromhex(hexdata))


def test_scan_reports_every_head_with_width_and_role():
    data = bytes.fromhex("a2" "6161" "1b0000000000000001" "6162" "5f4161ff")
    result = cbor_items.scan(data)
    assert result.end == len(data)
    heads = [(h.offset, h.major, h.width, h.role, h.minimal) for h in result.heads]
    assert heads == [(0, 5, 0, "item", True), (1, 3, 0, "item", True),
                     (3, 0, 8, "item", False), (12, 3, 0, "item", True),
                     (14, 2, 0, "item", True), (15, 2, 0, "chunk", True),
                     (17, 7, 0, "break", True)]
    assert cbor_items.to_python(data, result.node) == {"a": 1, "b": b"a"}


def test_scan_is_bounded_however_deep_the_nesting():
    depth = 100_000
    data = b"\x81" * depth + b"\x01"
    result = cbor_items.scan(data)  # no recursion: no RecursionError
    value = cbor_items.to_python(data, result.node)
    levels = 0
    while isinstance(value, list) and value and value[0] is not cbor_items.DEEP:
        value, levels = value[0], levels + 1
    assert levels == cbor_items.MAX_DEPTH and value == [cbor_items.DEEP]


def test_tags_are_kept_not_interpreted():
    # tag 28/29 (shared references) would make cbor2 build a cycle; tag 37 a failing UUID
    data = bytes.fromhex("82d81c81d81d00d8254261 61".replace(" ", ""))
    value = cbor_items.to_python(data, cbor_items.scan(data).node)
    assert value == [cbor2.CBORTag(28, [cbor2.CBORTag(29, 0)]), cbor2.CBORTag(37, b"aa")]


# --- the lint, case by case (the device parser's behaviour in the comments) ----

CASES = [
    # value encodings zcbor refuses
    ("8-byte vendor_id", image_with(("vendor_id", b"\x1b" + (0xFFF1).to_bytes(8, "big"))),
     "key 'vendor_id': the value has an 8-byte argument"),
    ("sn chunked", image_with(("sn", b"\x5f" + bstr(b"1122") + bstr(b"3344") + b"\xff")),
     "key 'sn': the value is a chunked (indefinite-length) byte string"),
    ("sn as tstr", image_with(("sn", tstr("11223344556677889900"))),
     "key 'sn': is a text string (tstr)"),
    ("tagged vendor_id", image_with(("vendor_id", b"\xc2\x19\xff\xf1")),
     "key 'vendor_id': must be an unsigned integer, got CBORTag(2, 65521)"),
    ("undefined hw_ver", image_with(("hw_ver", b"\xf7")),
     "key 'hw_ver': must be an unsigned integer, got undefined"),
    # canonical builds (NCS 2.9 + OTA): non-minimal and indefinite
    ("4-byte vendor_id", image_with(("vendor_id", b"\x1a\x00\x00\xff\xf1")),
     "key 'vendor_id': the value is not in its shortest encoding (5-byte head for 65521); "
     "firmware built with CONFIG_ZCBOR_CANONICAL"),
    ("indefinite map", b"\xbf" + b"".join(k + v for k, v in golden_pairs()) + b"\xff\0",
     "the map is an indefinite-length map; firmware built with CONFIG_ZCBOR_CANONICAL"),
    ("non-minimal count", image_with(top=head(5, 16, 1)),
     "the map is not in its shortest encoding"),
    # keys
    ("key version NUL", image_with(extra=[(tstr("version\0"), b"\x02")]),
     "key 'version\\x00': the device reads this key as 'version'"),
    ("chunked key", image_with(extra=[(b"\x7f" + tstr("colour") + b"\xff", b"\x01")]),
     "the key at byte 1366 is a chunked text string, not a text string: the device stops "
     "reading the map there and ignores this entry and the 0 after it"),
    ("int key", image_with(extra=[(b"\x00", b"\x01")]),
     "is an unsigned integer, not a text string"),
    ("duplicate", image_with(extra=[(tstr("vendor_id"), b"\x19\x12\x34")]),
     "'vendor_id' appears twice"),
    # counts and truncation
    ("count too small", image_with(top=head(5, 15)), "not the terminating 0x00: is the map's "
     "entry count smaller than its entries?"),
    ("count too large", image_with(top=head(5, 17)), "the map is cut off or malformed after 16 "
     "of its 17 entries"),
    ("cut inside a key", GOLDEN.read_bytes()[:40], "the map is cut off or malformed"),
    # what zcbor_any_skip refuses in values it skips
    ("user chunked text", image_with(extra=[(tstr("user"), b"\xa1\x61k\x7f\x61v\xff")]),
     "key 'user': the value: byte 1374 holds a chunked (indefinite-length) text string; "
     "the device cannot skip it"),
    ("unknown 8-byte tag", image_with(extra=[(tstr("colour"), b"\xdb" + bytes(7) + b"\x01\x01")]),
     "holds a tag with an 8-byte number"),
    ("user non-minimal", image_with(extra=[(tstr("user"), b"\xa1\x61n\x18\x01")]),
     "holds a unsigned integer not in its shortest encoding"),
]


@pytest.mark.parametrize("image, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lint_flags_what_the_device_rejects_or_misreads(image, fragment):
    errors = errors_of(image)
    assert any(fragment in e for e in errors), errors


def test_the_golden_image_has_no_finding():
    assert nrf_cbor.lint_image(nrf_cbor.read_image(GOLDEN.read_bytes())) == []


@pytest.mark.parametrize("key, known", [
    ("version", "version"), ("", "version"), ("dac", "dac_cert"), ("version\0x", "version"),
    ("sn\0", "sn"), ("sw", "sw_ver_str"), ("vendor_identifier", None), ("versionX", None),
    ("ver\0", None), (b"s\xff", None),
])
def test_device_key_matching_is_strncmp(key, known):
    assert nrf_cbor.device_key_for(key) == known


def test_unhashable_keys_are_kept_as_text():
    # a tagged array as a key (cbor2.CBORTag raises RuntimeError on hash) and an array key
    image = image_with(extra=[(b"\xd8\x1c\x81\x01", b"\x01"), (b"\x81\x01", b"\x02")])
    reading = nrf_cbor.read_image(image)
    assert [e.key for e in reading.entries[-2:]] == ["CBORTag(28, [1])", "[1]"]
    assert any("is a tagged item, not a text string" in str(p)
               for p in nrf_cbor.lint_image(reading))


def test_invalid_utf8_key_is_read_not_refused():
    image = image_with(extra=[(tstr(b"\xffcolour"), b"\x01")])
    reading = nrf_cbor.read_image(image)
    assert len(reading.entries) == 17 and reading.cut is None


# --- property: every mutated image is read or refused with InputError ------------

def test_every_mutated_image_reads_or_is_refused_in_one_line():
    from matter_factory_data.errors import InputError

    for image in mutated_images(seed=7, count=1500):
        try:
            reading = nrf_cbor.read_image(image)
        except InputError as exc:
            assert "\n" not in str(exc)
            continue
        for problem in nrf_cbor.lint_image(reading, partition_size=0x1000):
            assert problem.severity in (nrf_cbor.ERROR, nrf_cbor.WARNING)


# --- the real device parser (opt-in) ---------------------------------------------

@pytest.mark.skipif(not os.environ.get("MFD_DEVPARSE"),
                    reason="set MFD_DEVPARSE to a host build of the nRF FactoryDataParser "
                           "(see bench/README.md)")
@pytest.mark.parametrize("pad_to", [None, 4096])
def test_differential_against_the_device_parser(pad_to):
    """Every image our lint passes, the real parser accepts and reads as we do."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import differential

    parsers = [os.environ["MFD_DEVPARSE"]]
    if os.environ.get("MFD_DEVPARSE_CANONICAL"):
        parsers.append(os.environ["MFD_DEVPARSE_CANONICAL"])
    clean = 0
    for image in list(mutated_images(seed=11, count=400)) + base_images():
        has_error, first, view = differential.ours(image, pad_to)
        if has_error:
            continue
        clean += 1
        for parser in parsers:
            dev = differential.device(parser, image, pad_to)
            assert dev["ok"], (parser, image.hex())
            assert differential.same_reading(dev, view) == [], (parser, image.hex())
    assert clean >= 3  # the base images at least


def test_the_leaf_shortcut_of_scan_is_the_walk() -> None:
    """scan() reads a leaf (integer, string, simple value) directly; the general walk must
    give the same heads, node and end, or the same error, for every initial byte."""
    import random

    from matter_factory_data.formats import cbor_items

    def outcome(function, data: bytes):
        try:
            result = function(data, 0, len(data))
        except cbor_items.CborError as exc:
            return ("error", exc.offset, exc.reason)
        def fields(h):
            return (h.offset, h.major, h.info, h.argument, h.end, h.role, h.depth)

        node = result.node
        return ([fields(h) for h in result.heads], node.end, node.offset, len(node.children),
                [fields(t) for t in node.tags], fields(node.head))

    rng = random.Random(5)
    cases = 0
    for initial in range(256):
        for length in (0, 1, 2, 3, 5, 9, 30):
            for _ in range(4):
                data = bytes([initial]) + rng.randbytes(length)
                assert outcome(cbor_items.scan, data) == outcome(cbor_items.walk, data), data
                cases += 1
    assert cases == 256 * 7 * 4


def test_lint_canonical_is_the_item_level_reading_wherever_it_answers() -> None:
    """verify DIR lints a canonical image from its decoded map (nrf_cbor.lint_canonical);
    over the mutation corpus, its map and problems must be the item-level reader's, and it
    must answer for the images batch writes."""
    from mutations import base_images, mutated_images

    from matter_factory_data.formats import nrf_cbor

    answered = 0
    images = list(base_images()) + list(mutated_images(seed=11, count=6000))
    for image in images:
        fast = nrf_cbor.lint_canonical(image)
        if fast is None:
            continue
        answered += 1
        reading = nrf_cbor.read_image(image, "image")
        assert fast[0] == nrf_cbor.map_of_reading(reading, "image"), image.hex()
        assert fast[1] == nrf_cbor.lint_image(reading), image.hex()
    assert answered >= 300, answered
    from mutations import GOLDEN

    assert nrf_cbor.lint_canonical(GOLDEN.read_bytes()) is not None  # Nordic's example
    user = next(i for i in base_images() if b"duser" in i)
    assert nrf_cbor.lint_canonical(user) is None  # nested user data: the item-level reader
