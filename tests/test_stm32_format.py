"""``--format stm32-tlv``: ST's X-CUBE-MATTER image, golden vectors, ST's JSON, bad images.

The expected images in tests/data/stm32 (see its README.md) were made by ST's own
genFactoryData.py from the JSON files beside them; the hex literals below follow the
documented layout (tag u32 LE | length u32 LE | value, sorted by tag, then AC AC AC AC).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOLDEN_DIR, snapshot

from matter_factory_data.errors import InputError
from matter_factory_data.formats import get_format, stm32_tlv
from matter_factory_data.formats.base import ERROR, WARNING

DATA = Path(__file__).parent / "data" / "stm32"
END = "acacacac"


def rec(tag: int, value_hex: str) -> str:
    value = bytes.fromhex(value_hex)
    return (tag.to_bytes(4, "little") + len(value).to_bytes(4, "little") + value).hex()


def fmt(board=None):
    return get_format("stm32-tlv", board)


# --- the expected full image, from ST's documented tag table and the inputs ------------------
# Independent of this package: the tags, JSON names and value types are those of ST's table
# (shared reference stm32.md, "Tags and who reads them"); the values are the inputs of
# _golden_stm32_args (the golden identity), the DAC key pair read with `cryptography`, and the
# SPAKE2+ verifier connectedhomeip's reference generator wrote for the same inputs
# (golden/factory_data.json). st_values reads an ST JSON as genFactoryData does: integers are
# strings ("0x.." hex, else decimal), byte arrays lists of hex strings, text as is.

U16, U32, BYTES, TEXT = "u16", "u32", "bytes", "text"
ST_TAGS = {  # JSON key -> (tag, type), ST's table
    "CERTIFICATION_DECLARATION": (1, BYTES), "FIRMWARE_INFORMATION": (2, BYTES),
    "DEVICE_ATTESTATION_CERTIFICATE": (3, BYTES), "PAI_CERTIFICATE": (4, BYTES),
    "DEVICE_ATTESTATION_PRIV_KEY": (5, BYTES), "DEVICE_ATTESTATION_PUB_KEY": (6, BYTES),
    "SETUP_DISCRIMINATOR": (11, U16), "SPAKE2_ITERATION_COUNT": (12, U32),
    "SPAKE2_SALT": (13, BYTES), "SPAKE2_VERIFIER": (14, BYTES),
    "SPAKE2_SETUP_PASSCODE": (15, U32), "VENDOR_NAME": (21, TEXT), "VENDOR_ID": (22, U16),
    "PRODUCT_NAME": (23, TEXT), "PRODUCT_ID": (24, U16), "SERIAL_NUMBER": (25, TEXT),
    "MANUFACTURING_DATE": (26, TEXT), "HARDWARE_VERSION": (27, U16),
    "HARDWARE_VERSION_STRING": (28, TEXT), "ROTATING_DEVICE_ID": (29, TEXT),
    "TAG_ID_ENABLE_KEY": (41, TEXT),
}


def st_values(obj: dict) -> dict:
    values = {}
    for key, value in obj.items():
        kind = ST_TAGS[key][1]
        if kind == BYTES:
            assert isinstance(value, list), key
            values[key] = bytes(int(e, 16) for e in value)
        elif kind in (U16, U32):
            assert isinstance(value, str) and (value.startswith("0x") or value.isdigit()), key
            values[key] = int(value, 16) if value.startswith("0x") else int(value)
        else:
            values[key] = value
    return values


def _expected_full() -> dict:
    import base64

    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_private_key(
        (GOLDEN_DIR / "Matter-Development-DAC-FFF1-8006-Key.der").read_bytes(), None)
    reference = json.loads((GOLDEN_DIR / "factory_data.json").read_text())
    assert reference["spake2_verifier"].startswith("hex:")  # the reference's byte spelling
    values = {
        "CERTIFICATION_DECLARATION": (DATA / "CD_FFF1_8006.der").read_bytes(),
        "DEVICE_ATTESTATION_CERTIFICATE":
            (GOLDEN_DIR / "Matter-Development-DAC-FFF1-8006-Cert.der").read_bytes(),
        "PAI_CERTIFICATE": (GOLDEN_DIR / "Matter-Development-PAI-FFF1-noPID-Cert.der").read_bytes(),
        "DEVICE_ATTESTATION_PRIV_KEY": key.private_numbers().private_value.to_bytes(32, "big"),
        "DEVICE_ATTESTATION_PUB_KEY": key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
        "SETUP_DISCRIMINATOR": 0xF00,
        "SPAKE2_ITERATION_COUNT": 1000,
        "SPAKE2_SALT": base64.b64decode("U1BBS0UyUCBLZXkgU2FsdA=="),
        "SPAKE2_VERIFIER": bytes.fromhex(reference["spake2_verifier"][4:]),
        "SPAKE2_SETUP_PASSCODE": 20202021,
        "VENDOR_NAME": "Nordic Semiconductor ASA",
        "VENDOR_ID": 65521,
        "PRODUCT_NAME": "not-specified",
        "PRODUCT_ID": 32774,
        "SERIAL_NUMBER": "11223344556677889900",
        "HARDWARE_VERSION": 1,
        "HARDWARE_VERSION_STRING": "prerelease",
    }
    return dict(sorted(values.items(), key=lambda item: ST_TAGS[item[0]][0]))


EXPECTED_FULL = _expected_full()


def test_the_checked_in_full_json_is_the_expected_identity():
    """full.json (the input genFactoryData turned into full.bin) holds the expected values."""
    assert st_values(json.loads((DATA / "full.json").read_text())) == EXPECTED_FULL


# --- golden vectors: encode -> decode -> encode ------------------------------------------

GOLDEN = [
    ("one integer", {"VENDOR_ID": "0xFFF1"}, rec(22, "f1ff") + END),
    ("decimal and hex spellings", {"VENDOR_ID": "65521", "SPAKE2_SETUP_PASSCODE": "0x1343C25"},
     rec(15, "253c3401") + rec(22, "f1ff") + END),
    ("sorted by tag whatever the JSON order",
     {"SERIAL_NUMBER": "SN1", "SETUP_DISCRIMINATOR": "3840", "SPAKE2_ITERATION_COUNT": "1000",
      "SPAKE2_SALT": ["0x53", "50", "0X41"], "VENDOR_ID": "0xFFF1"},
     rec(11, "000f") + rec(12, "e8030000") + rec(13, "535041") + rec(22, "f1ff")
     + rec(25, "534e31") + END),
    ("text is raw UTF-8 without NUL", {"PRODUCT_NAME": "Lampe é"},
     rec(23, "4c616d706520c3a9") + END),
    ("rotating device ID and enable key are stored as text, as ST does",
     {"ROTATING_DEVICE_ID": "00ff", "TAG_ID_ENABLE_KEY": "AB"},
     rec(29, "30306666") + rec(41, "4142") + END),
    ("602 bytes is the longest record the device reads",
     {"FIRMWARE_INFORMATION": ["0x00"] * 602}, rec(2, "00" * 602) + END),
]


@pytest.mark.parametrize("obj, image_hex", [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_vectors_encode_decode_encode(obj, image_hex):
    f = fmt()
    image = f.encode(f.from_json(obj, "golden"))
    assert image.hex() == image_hex
    decoded = f.decode(image, "golden")
    assert f.encode(decoded) == image
    assert f.encode(f.from_json(f.to_json(decoded), "again")) == image


def test_st_json_files_re_encode_byte_identical_to_genfactorydata():
    """full.bin and provisioning.bin were written by ST's genFactoryData from the JSON."""
    f = fmt()
    for name, expected in (("full.json", "full.bin"), ("st_spelling.json", "full.bin"),
                           ("provisioning.json", "provisioning.bin")):
        records = stm32_tlv.load_json_text((DATA / name).read_bytes(), name)
        assert f.encode(records) == (DATA / expected).read_bytes(), name


def test_the_json_we_write_is_the_json_st_reads(cli, tmp_path):
    """generate --format stm32-tlv of the golden identity = ST's image of our JSON."""
    result = cli("generate", *_golden_stm32_args(tmp_path / "out" / "fd"), "--board",
                 "wb5mm-dk")
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "fd.bin").read_bytes() == (DATA / "full.bin").read_bytes()
    written = json.loads((tmp_path / "out" / "fd.json").read_text())
    assert list(written) == list(EXPECTED_FULL)  # every tag of the identity, in tag order
    assert st_values(written) == EXPECTED_FULL
    hex_text = (tmp_path / "out" / "fd.hex").read_text()
    assert ":02000004901C4E" in hex_text  # extended linear address 0x901C


def _golden_stm32_args(prefix):
    g = GOLDEN_DIR
    return ["--sn", "11223344556677889900", "--vendor_id", "65521", "--product_id", "32774",
            "--vendor_name", "Nordic Semiconductor ASA", "--product_name", "not-specified",
            "--date", "2022-02-02", "--hw_ver", "1", "--hw_ver_str", "prerelease",
            "--dac_cert", g / "Matter-Development-DAC-FFF1-8006-Cert.der",
            "--dac_key", g / "Matter-Development-DAC-FFF1-8006-Key.der",
            "--pai_cert", g / "Matter-Development-PAI-FFF1-noPID-Cert.der",
            "--spake2_it", "1000", "--spake2_salt", "U1BBS0UyUCBLZXkgU2FsdA==",
            "--discriminator", "0xF00", "--passcode", "20202021", "--include_passcode",
            "--format", "stm32-tlv", "--certification_declaration", DATA / "CD_FFF1_8006.der",
            # the golden DAC starts after the golden manufacturing date (attestation profile)
            "--allow_nonconformant_certs",
            "-o", prefix]


# --- ST's JSON: strict, one line each ----------------------------------------------------

BAD_JSON = [
    ("upper-case 0X", {"VENDOR_ID": "0XFFF1"},
     "key 'VENDOR_ID': '0XFFF1': genFactoryData reads only a lower-case 0x prefix and fails "
     "on 0X; write \"0xFFF1\""),
    ("JSON number", {"VENDOR_ID": 65521},
     "key 'VENDOR_ID': integers are JSON strings in ST's format, e.g. \"0xFFF1\"; got a JSON "
     "number (genFactoryData fails on it)"),
    ("hex without 0x", {"PRODUCT_ID": "FFF1"}, "key 'PRODUCT_ID': 'FFF1' is not an integer"),
    ("leading zero", {"HARDWARE_VERSION": "012"},
     "key 'HARDWARE_VERSION': '012' is not an integer (accepted: decimal digits without a "
     "leading zero, or 0x followed by hex digits)"),
    ("too big for u16", {"VENDOR_ID": "70000"},
     "key 'VENDOR_ID': 70000 does not fit the 16-bit record (accepted: 0..65535)"),
    ("byte array as a plain string", {"SPAKE2_SALT": "5350"},
     "key 'SPAKE2_SALT': a byte array must be a list of hex strings such as [\"0x53\", "
     "\"0x50\"], not a string (genFactoryData would split it into one byte per character)"),
    ("byte array of numbers", {"SPAKE2_SALT": [83, 80]},
     "key 'SPAKE2_SALT'[0]: 83 is not a byte (accepted: a string of one or two hex digits, "
     "optionally prefixed 0x)"),
    ("multi-byte element", {"SPAKE2_SALT": ["5350"]}, None),
    ("empty array", {"SPAKE2_SALT": []},
     "key 'SPAKE2_SALT': is empty; an empty record hides every later record from the device "
     "reader (PARAM_ERROR)"),
    ("empty string", {"SERIAL_NUMBER": ""},
     "key 'SERIAL_NUMBER': is empty; an empty record hides every later record from the "
     "device reader (PARAM_ERROR)"),
    ("null text", {"SERIAL_NUMBER": None},
     "key 'SERIAL_NUMBER': must be a JSON string, got null (genFactoryData would store its "
     "Python spelling, e.g. null as 'None')"),
    ("lower-case tag", {"vendor_id": "0xFFF1"},
     "key 'vendor_id': tag names are upper case: write 'VENDOR_ID' (genFactoryData skips it)"),
    ("unknown tag", {"COLOR": "red"}, "key 'COLOR': unknown tag name; genFactoryData skips it"),
    ("top-level list", [], "the factory data must be a JSON object keyed by ST tag names"),
]


@pytest.mark.parametrize("obj, message", [b[1:] for b in BAD_JSON], ids=[b[0] for b in BAD_JSON])
def test_bad_st_json_is_refused_with_one_line(obj, message):
    with pytest.raises(InputError) as info:
        fmt().from_json(obj, "in.json")
    text = str(info.value)
    assert "\n" not in text and text.startswith("in.json: ")
    if message:
        assert message in text


def test_a_key_given_twice_is_refused():
    with pytest.raises(InputError, match="key 'VENDOR_ID' appears twice"):
        stm32_tlv.load_json_text('{"VENDOR_ID": "1", "VENDOR_ID": "2"}', "in.json")


# --- malformed images: the device reader's view ------------------------------------------

def _problems(image_hex, board=None):
    f = fmt(board)
    return [(p.severity, p.key, p.message) for p in f.lint(f.decode(bytes.fromhex(image_hex),
                                                                     "img"))]


def _errors(image_hex, board=None):
    return [(key, message) for severity, key, message in _problems(image_hex, board)
            if severity == ERROR and "is missing" not in message]


CORPUS = [
    ("truncated record (length past the end)", rec(22, "f1ff") + "19000000" "10000000" "4142",
     [("SERIAL_NUMBER", "at offset 10: the length 16 runs past the end of the image (2 bytes "
       "left)")]),
    ("truncated header", rec(22, "f1ff") + "1900", [("", "truncated record header at offset 10 "
                                                     "(2 of 8 bytes)")]),
    ("zero-length record hides the rest", rec(21, "") + rec(22, "f1ff") + END,
     [("VENDOR_NAME", "at offset 0 is empty (length 0): the device reports PARAM_ERROR for it "
       "and for every later lookup (1 later record(s) hidden)")]),
    ("603-byte record hides the rest", rec(2, "00" * 603) + rec(22, "f1ff") + END,
     [("FIRMWARE_INFORMATION", "at offset 0 is 603 bytes long (the device reader accepts "
       "1..602): the device reports PARAM_ERROR for it and for every later lookup (1 later "
       "record(s) hidden)")]),
    ("missing end marker", rec(22, "f1ff") + "ff" * 16,
     [("", "no end marker (AC AC AC AC) after the last record (offset 10): the device reports "
       "PARAM_ERROR for every tag it does not find before it")]),
    ("missing end marker at the end of the file", rec(22, "f1ff"),
     [("", "no end marker (AC AC AC AC) after the last record (offset 10): the device reports "
       "PARAM_ERROR for every tag it does not find before it")]),
    # the reader never looks past the marker: a warning (tests/test_inspector.py), no error
    ("record after the end marker", rec(22, "f1ff") + END + rec(24, "0480"), []),
    ("duplicate tag", rec(22, "f1ff") + rec(22, "3412") + END,
     [("VENDOR_ID", "at offset 10 is a second record with this tag: the device reads the "
       "first, genFactoryData --binary keeps the last")]),
    ("integer of the wrong width", rec(22, "f1ff0000") + END,
     [("VENDOR_ID", "is 4 bytes; the device reads a 16-bit integer from exactly 2 bytes")]),
    ("invalid UTF-8", rec(25, "fffe") + END, [("SERIAL_NUMBER", "is not valid UTF-8 text")]),
    ("value out of the Matter range", rec(11, "0010") + END,
     [("SETUP_DISCRIMINATOR", "discriminator 4096 is out of range (accepted: 0..4095)")]),
]


@pytest.mark.parametrize("image_hex, errors", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_malformed_images(image_hex, errors):
    assert _errors(image_hex) == errors


def test_ff_padding_after_the_end_marker_is_erased_flash_not_a_record():
    """A read-back region (or the provisioning firmware's AC..AC FF FF FF FF ending): ST's
    --binary reader crashes on 1-7 such bytes and makes a garbage record of 8 or more."""
    for padding in (1, 4, 7, 8, 4096):
        image = rec(22, "f1ff") + END + "ff" * padding
        decoded = fmt().decode(bytes.fromhex(image), "img")
        assert dict(decoded) == {"VENDOR_ID": b"\xf1\xff"}
        assert _errors(image) == []
        assert fmt().encode(decoded).hex() == rec(22, "f1ff") + END


def test_unknown_tag_is_a_warning_and_not_encoded():
    problems = _problems(rec(7, "00") + rec(22, "f1ff") + END)
    assert (WARNING, "TAG_7", "unknown tag 7: the device skips it and genFactoryData --binary "
            "drops it") in problems
    with pytest.raises(InputError, match="TAG_7: not a tag genFactoryData writes"):
        fmt().encode(fmt().decode(bytes.fromhex(rec(7, "00") + END), "img"))


@pytest.mark.parametrize("data, message", [
    (b"", "img: the image is empty"),
    (b"\xff" * 64, "img: the image is erased flash (all 0xFF), not factory data"),
])
def test_images_that_hold_nothing_are_refused(data, message):
    with pytest.raises(InputError) as info:
        fmt().decode(data, "img")
    assert str(info.value) == message


# --- board rules ---------------------------------------------------------------------------

def test_full_image_is_clean_on_both_boards_apart_from_unread_records():
    image = (DATA / "full.bin").read_bytes()
    for board, unread in (("wb5mm-dk", {"HARDWARE_VERSION_STRING"}),
                          ("wba65", {"HARDWARE_VERSION_STRING", "DEVICE_ATTESTATION_PRIV_KEY",
                                     "DEVICE_ATTESTATION_PUB_KEY"})):
        problems = fmt(board).lint(fmt(board).decode(image, "full"))
        assert not [p for p in problems if p.severity == ERROR], board
        warned = {p.key for p in problems if "is not read on" in p.message}
        assert warned == unread, board


def test_wb_needs_the_public_key_and_checks_it_against_the_private_key():
    records = dict(fmt().decode((DATA / "full.bin").read_bytes(), "full"))
    del records["DEVICE_ATTESTATION_PUB_KEY"]
    errors = [str(p) for p in fmt("wb5mm-dk").lint(records) if p.severity == ERROR]
    assert errors == ["key 'DEVICE_ATTESTATION_PUB_KEY': is missing: the device needs it on "
                      "STM32WB5MM-DK"]
    assert not [p for p in fmt("wba65").lint(records) if p.severity == ERROR]
    wrong = dict(records, DEVICE_ATTESTATION_PUB_KEY=bytes.fromhex(
        "04" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"))
    errors = [str(p) for p in fmt("wb5mm-dk").lint(wrong) if p.severity == ERROR]
    assert errors == ["key 'DEVICE_ATTESTATION_PUB_KEY': is not the public key of "
                      "DEVICE_ATTESTATION_PRIV_KEY"]


def test_provisioning_image_on_wb_needs_no_credentials_but_must_fit_16_kib():
    image = (DATA / "provisioning.bin").read_bytes()
    assert not [p for p in fmt("wb5mm-dk").lint(fmt().decode(image, "p"))
                if p.severity == ERROR]
    wba = [p.key for p in fmt("wba65").lint(fmt().decode(image, "p")) if p.severity == ERROR]
    assert wba == ["DEVICE_ATTESTATION_CERTIFICATE", "PAI_CERTIFICATE"]
    filler = "".join(rec(2, "00" * 600) for _ in range(26))
    image_hex = filler + image.hex()
    messages = [m for s, k, m in _problems(image_hex, "wb5mm-dk") if s == ERROR and not k]
    assert len(messages) == 1 and messages[0].startswith(
        "completed by the provisioning firmware the image would be ")
    assert messages[0].endswith("the firmware edits only the first 16384 bytes in RAM")


def test_an_image_larger_than_the_wba_region_is_refused():
    image_hex = "".join(rec(2, "00" * 600) for _ in range(103)) + END  # 62 628 bytes
    messages = [m for s, k, m in _problems(image_hex, "wba65") if s == ERROR and not k]
    assert messages == ["the image is 62628 bytes, more than the STM32WBA65 factory data "
                        "region (0x081EC000, 61440 bytes)"]
    assert not [m for s, k, m in _problems(image_hex, "wb5mm-dk") if "more than" in m]


def test_board_without_stm32_format_is_refused():
    with pytest.raises(InputError, match="--board applies to --format stm32-tlv, not to "
                                         "--format nrf-cbor"):
        get_format("nrf-cbor", "wba65")
    with pytest.raises(InputError, match="--board: 'h7' is not accepted"):
        get_format("stm32-tlv", "h7")


# --- the commands ---------------------------------------------------------------------------

def test_show_lists_records_and_strict_fails_on_a_hiding_record(cli, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes.fromhex(rec(21, "") + rec(22, "f1ff") + END))
    result = cli("show", bad, "--format", "stm32-tlv", "--records", "--strict")
    assert result.code == 1
    assert result.out.splitlines() == [
        "     0  tag 21  VENDOR_NAME                          0 bytes",
        "     8  tag 22  VENDOR_ID                            2 bytes",
        "    18  end marker"]
    assert f"error: {bad}: key 'VENDOR_NAME': at offset 0 is empty (length 0)" in result.err
    good = cli("show", DATA / "full.bin", "--format", "stm32-tlv", "--board", "wb5mm-dk",
               "--strict", "--json", "--show-secrets")
    assert good.code == 0, good.err
    assert st_values(json.loads(good.out)) == EXPECTED_FULL


def test_show_reads_st_json_and_a_hex_at_the_board_address(cli, tmp_path):
    result = cli("show", DATA / "st_spelling.json", "--format", "stm32-tlv", "--json")
    assert result.code == 0
    assert json.loads(result.out)["SPAKE2_ITERATION_COUNT"] == "1000"
    bad = tmp_path / "bad.json"
    bad.write_text('{"VENDOR_ID": "0XFFF1"}')
    result = cli("show", bad, "--format", "stm32-tlv")
    assert result.code == 2
    assert result.err == (f"error: {bad}: key 'VENDOR_ID': '0XFFF1': genFactoryData reads only "
                          "a lower-case 0x prefix and fails on 0X; write \"0xFFF1\"\n")


def test_partition_converts_st_json_and_binary(cli, tmp_path):
    result = cli("partition", "-i", DATA / "st_spelling.json", "-o", tmp_path / "p",
                 "--format", "stm32-tlv", "--board", "wba65")
    assert result.code == 0, result.err
    assert (tmp_path / "p.bin").read_bytes() == (DATA / "full.bin").read_bytes()
    assert (tmp_path / "p.hex").read_text().startswith(":02000004081E")
    padded = tmp_path / "readback.bin"
    padded.write_bytes((DATA / "full.bin").read_bytes() + b"\xff" * 100)
    result = cli("partition", "-i", padded, "-o", tmp_path / "q", "--format", "stm32-tlv")
    assert result.code == 0, result.err
    assert (tmp_path / "q.bin").read_bytes() == (DATA / "full.bin").read_bytes()
    assert not (tmp_path / "q.hex").exists()  # no address known


@pytest.mark.parametrize("image_hex, message", [
    (rec(21, "") + rec(22, "f1ff") + END, "key 'VENDOR_NAME': at offset 0 is empty (length 0)"),
    (rec(22, "f1ff"), "no end marker (AC AC AC AC) after the last record"),
    (rec(22, "f1ff") + "19000000" "10000000", "the length 16 runs past the end of the image"),
    (rec(7, "00") + rec(22, "f1ff") + END, "record TAG_7 has an unknown tag; genFactoryData "
                                           "would drop it"),
], ids=["empty record", "no end marker", "truncated", "unknown tag"])
def test_partition_refuses_unreadable_images_and_writes_nothing(cli, tmp_path, image_hex,
                                                                  message):
    source = tmp_path / "in" / "bad.bin"
    source.parent.mkdir()
    source.write_bytes(bytes.fromhex(image_hex))
    out = tmp_path / "out"
    result = cli("partition", "-i", source, "-o", out / "p", "--format", "stm32-tlv")
    assert result.code == 2
    assert result.err.count("\n") == 1 and message in result.err
    assert snapshot(out) == {}


def test_partition_nrf_still_needs_offset_and_size(cli, tmp_path):
    result = cli("partition", "-i", GOLDEN_DIR / "factory_data.json", "-o", tmp_path / "p")
    assert result.code == 2
    assert result.err == "error: --offset and --size are required (the partition's address " \
                         "and size)\n"


def test_generate_refusals(cli, tmp_path):
    args = [a for a in _golden_stm32_args(tmp_path / "o")]
    i = args.index("--certification_declaration")
    no_cd = args[:i] + args[i + 2:]
    result = cli("generate", *no_cd)
    assert result.code == 2
    assert result.err == ("error: the STM32 device reads the Certification Declaration from "
                          "the factory data: give --certification_declaration FILE (DER) or "
                          "--gen_cd\n")
    result = cli("generate", *args, "--board", "wba65", "--offset", "0x8000000", "--size", "16")
    assert result.code == 2
    assert "lie outside the STM32WBA65 factory data region 0x081EC000..0x081FAFFF" in result.err
    assert snapshot(tmp_path / "o") == {} and not list(tmp_path.glob("o.*"))


def test_generate_for_wba_leaves_the_key_out_and_verify_passes(cli, tmp_path):
    result = cli("generate", "--defaults", "--format", "stm32-tlv", "--board", "wba65", "-o",
                 tmp_path / "w" / "fd")
    assert result.code == 0, result.err
    assert "the DAC key is not written to the image" in result.err
    records = fmt().decode((tmp_path / "w" / "fd.bin").read_bytes(), "fd")
    assert "DEVICE_ATTESTATION_PRIV_KEY" not in records
    assert oct((tmp_path / "w" / "fd.bin").stat().st_mode & 0o777) == "0o600"
    result = cli("verify", tmp_path / "w" / "fd.bin", "--format", "stm32-tlv", "--board",
                 "wba65")
    assert result.code == 0, result.out + result.err
    assert "skip  DAC key and certificate not compared: the image holds neither" in result.out


def test_verify_detects_a_foreign_dac(cli, tmp_path):
    records = dict(fmt().decode((DATA / "full.bin").read_bytes(), "full"))
    other = cli("generate", "--defaults", "--format", "stm32-tlv", "-o", tmp_path / "x" / "fd")
    assert other.code == 0, other.err
    foreign = fmt().decode((tmp_path / "x" / "fd.bin").read_bytes(), "x")
    records["DEVICE_ATTESTATION_CERTIFICATE"] = foreign["DEVICE_ATTESTATION_CERTIFICATE"]
    image = tmp_path / "mixed.bin"
    image.write_bytes(fmt().encode(records))
    result = cli("verify", image, "--format", "stm32-tlv", "--passcode", "20202021")
    assert result.code == 1
    failed = [line for line in result.out.splitlines() if line.startswith("FAIL")]
    assert any(line.startswith("FAIL  dac_key does not match dac_cert: its public key differs")
               for line in failed), result.out
    assert any(line.startswith("FAIL  dac_cert was not issued by pai_cert: its issuer is "
                               "'CN=STMicroelectronics PAI 0xFFF1") for line in failed), result.out
    assert "FAIL  DAC PID 0x8004 differs from product_id 0x8006" in failed
    # the commissioner's CD check: the image's CD (FFF1/8006) does not cover the foreign DAC
    assert ("FAIL  the DAC's product ID 0x8004 is not in the CD's product_id_array (and the "
            "CD has no dac_origin)") in failed, result.out
    assert "ok    spake2_verifier matches the passcode, salt and iteration count" in result.out
    # the foreign DAC also breaks an attestation-profile rule: a warning under the default
    # development profile, a fourth failure under --profile production
    warned = [line for line in result.out.splitlines() if line.startswith("warn  ")]
    assert len(warned) == 1 and "Matter attestation profile rule '" in warned[0], result.out
    assert "accepted by the development profile" in warned[0]
    assert "4 of 9 checks failed" in result.err and "1 accepted with a warning" in result.err
    strict = cli("verify", image, "--format", "stm32-tlv", "--passcode", "20202021",
                 "--profile", "production")
    assert strict.code == 1, strict.err
    refused = [line for line in strict.out.splitlines()
               if line.startswith("FAIL") and "refused by --profile=production" in line]
    # the profile rule, and the development material of this FFF1 image (issue #16): its
    # test vendor ID (image, DAC, PAI), connectedhomeip's test CD signer, the stored passcode
    assert any("Matter attestation profile rule '" in line for line in refused), strict.out
    for rule in ("test-vendor-id", "test-cd-signer", "passcode-stored"):
        assert any(f"production rule '{rule}'" in line for line in refused), (rule, strict.out)
    assert f"{4 + len(refused)} of {9 + len(refused) - 1} checks failed" in strict.err


# --- against ST's own code (optional: paths from the environment) -------------------------

ST_GEN = os.environ.get("MFD_STM32_GEN")  # a driver with `json2bin IN OUT` (see README)
READER = os.environ.get("MFD_STM32_READER")  # directory of stm32-reader-{wb,wba}


@pytest.mark.skipif(not ST_GEN, reason="MFD_STM32_GEN not set")
@pytest.mark.parametrize("name", ["full.json", "st_spelling.json", "provisioning.json"])
def test_genfactorydata_writes_the_same_bytes(tmp_path, name):
    out = tmp_path / "st.bin"
    subprocess.run([sys.executable, ST_GEN, "json2bin", DATA / name, out], check=True,
                   capture_output=True)
    ours = fmt().encode(stm32_tlv.load_json_text((DATA / name).read_bytes(), name))
    assert out.read_bytes() == ours


def _reader(board: str, image: bytes) -> dict:
    binary = Path(READER) / f"stm32-reader-{'wb' if board == 'wb5mm-dk' else 'wba'}"
    tags = [str(t.number) for t in stm32_tlv.TAGS]
    done = subprocess.run([binary, "-", *tags], input=image, capture_output=True, check=True)
    return {r["tag"]: r for r in json.loads(done.stdout)["results"]}


@pytest.mark.skipif(not READER, reason="MFD_STM32_READER not set")
@pytest.mark.parametrize("board", ["wb5mm-dk", "wba65"])
@pytest.mark.parametrize("case", [c[1] for c in CORPUS] + [(DATA / "full.bin").read_bytes().hex()],
                         ids=[c[0] for c in CORPUS] + ["full"])
def test_lint_agrees_with_st_device_reader(board, case):
    """Where lint finds no error, the device reads every record we decoded, with our value;
    where the device fails a present record, lint reports an error."""
    image = bytes.fromhex(case)
    decoded = fmt(board).decode(image, "img")
    device = _reader(board, image)
    errors = [p for p in fmt(board).lint(decoded) if p.severity == ERROR
              and "is missing" not in p.message]
    unread = {stm32_tlv.BY_NAME[k].number for k in decoded if k in stm32_tlv.BY_NAME
              and device[stm32_tlv.BY_NAME[k].number]["status"] != "DATAFACTORY_OK"}
    if not errors:
        for name, value in decoded.items():
            result = device[stm32_tlv.BY_NAME[name].number]
            assert result["status"] == "DATAFACTORY_OK" and result["value"] == value.hex(), name
    if unread:
        assert errors, unread


def test_show_summarises_stm32_images_and_masks_the_key(cli, tmp_path):
    """show on an STM32 image: the summary by default, ST's JSON with --json; the DAC private
    key (tag 5), like the nRF dac_key, only with --show-secrets."""
    prefix = tmp_path / "wb" / "fd"
    assert cli("generate", "--defaults", "--format", "stm32-tlv", "--board", "wb5mm-dk",
               "-o", prefix).code == 0
    image = prefix.with_suffix(".bin")
    key = stm32_tlv.decode_image(image.read_bytes(), "wb")["DEVICE_ATTESTATION_PRIV_KEY"]
    secret_texts = (key.hex(), key.hex().upper(), ", ".join(f'"0x{b:02x}"' for b in key[:4]))
    shown = cli("show", image, "--format", "stm32-tlv", "--board", "wb5mm-dk")
    assert shown.code == 0 and "format:              stm32-tlv, board wb5mm-dk" in shown.out
    assert "DAC key:             32 bytes (hidden" in shown.out
    as_json = cli("show", image, "--format", "stm32-tlv", "--json")
    data = json.loads(as_json.out)
    assert data["DEVICE_ATTESTATION_PRIV_KEY"].startswith("<secret")
    assert data["VENDOR_ID"] == "0xFFF1"
    for text in secret_texts:
        assert text not in shown.out + shown.err + as_json.out + as_json.err
    revealed = json.loads(cli("show", image, "--format", "stm32-tlv", "--json",
                              "--show-secrets").out)
    assert bytes(int(b, 16) for b in revealed["DEVICE_ATTESTATION_PRIV_KEY"]) == key
