"""show: decoding images back to JSON, and linting them as the device parser would."""

import json

import cbor2
import pytest
from conftest import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matter_factory_data.formats import nrf_cbor


def golden_map(golden):
    return cbor2.loads((golden / "factory_data.bin").read_bytes()[:-1])


def lint_messages(data, **kwargs):
    return [(p.severity, p.key, p.message) for p in nrf_cbor.lint(data, **kwargs)]


def test_golden_image_is_clean(golden):
    assert nrf_cbor.lint(golden_map(golden)) == []


@pytest.mark.parametrize("mutate, key, fragment", [
    (lambda d: d.update({"dac": b"x"}), "dac", "reads this key as 'dac_cert'"),
    (lambda d: d.update({"": 1}), "", "reads this key as 'version'"),
    (lambda d: d.update({"sn": "11223344556677889900"}), "sn", "is a text string (tstr)"),
    (lambda d: d.update({"vendor_id": 0x1FFF1}), "vendor_id", "truncated to 65521"),
    (lambda d: d.update({"version": 2}), "version", "accepts only version 1"),
    (lambda d: d.update({"date": b"20220202"}), "date", "not a date in the form YYYY-MM-DD"),
    (lambda d: d.update({"date": b"2022-13-45"}), "date", "not a real calendar date"),
    (lambda d: d.update({"discriminator": -1}), "discriminator", "must be an unsigned integer"),
    (lambda d: d.update({"hw_ver": True}), "hw_ver", "must be an unsigned integer"),
    (lambda d: d.pop("spake2_salt"), "spake2_salt", "mandatory key is missing"),
    (lambda d: d.update({"dac_key": b"\x01" * 33}), "dac_key", "is 33 bytes long"),
    (lambda d: d.update({"spake2_verifier": b"\x00" * 32 + b"\x04" + b"\x01" * 64}),
     "spake2_verifier", "not a point on the P-256 curve"),
    (lambda d: d.update({"spake2_it": 2 ** 32}), "spake2_it", "does not fit the device's 32-bit"),
    (lambda d: d.update({"passcode": 11111111}), "passcode", "forbidden passcode"),
    (lambda d: d.update({"user": {"n": 2 ** 31}}), "user", "does not fit the device's int32"),
], ids=["prefix-key", "empty-key", "tstr", "uint16-truncation", "version", "compact-date",
        "calendar", "negative", "bool", "missing", "dac-key-len", "verifier-point", "uint32",
        "forbidden-passcode", "user-int32"])
def test_lint_errors(golden, mutate, key, fragment):
    data = golden_map(golden)
    mutate(data)
    found = [m for s, k, m in lint_messages(data) if s == nrf_cbor.ERROR and k == key]
    assert any(fragment in m for m in found), lint_messages(data)


@pytest.mark.parametrize("mutate, key, fragment", [
    (lambda d: d.update({"passcode": 20202021}), "passcode", "forbids this in production"),
    (lambda d: d.update({"rd_uid": b"\x01" * 20}), "rd_uid", "ROTATING_DEVICE_UID_MAX_LEN=16"),
    (lambda d: d.update({"colour": 1}), "colour", "unknown key"),
    (lambda d: d.update({"user": {"b": b"\x01"}}), "user", "#71426"),
], ids=["passcode-stored", "long-rd-uid", "unknown-key", "user-bstr"])
def test_lint_warnings(golden, mutate, key, fragment):
    data = golden_map(golden)
    mutate(data)
    found = [(s, m) for s, k, m in lint_messages(data) if k == key]
    assert any(s == nrf_cbor.WARNING and fragment in m for s, m in found), found


def test_lint_flags_a_partition_of_64_kib(golden):
    problems = lint_messages(golden_map(golden), partition_size=0x10000)
    assert any("must be < 64 KiB" in m for _, _, m in problems)
    assert not lint_messages(golden_map(golden), partition_size=0xF000)


def test_non_text_key_stops_the_device_parser():
    data = {"version": 1, 5: b"x", "sn": b"1"}
    problems = lint_messages(data)
    assert problems[0][0] == nrf_cbor.ERROR and "ignores all later keys" in problems[0][2]


@pytest.mark.parametrize("content, fragment", [
    (b"", "the image is empty"),
    (b"\xff" * 64, "erased flash"),
    (b"\x1c\x00", "not CBOR at byte 0 (byte 0x1c is not a valid CBOR head"),
    (b"\x82\x01", "does not start with a CBOR map (first byte 0x82, an array); the device "
                  "accepts only a bare map at byte 0 (and the item there is not well-formed"),
], ids=["empty", "erased", "reserved", "cut-array"])
def test_show_refuses_what_is_not_cbor_at_all(cli, tmp_path, content, fragment):
    (tmp_path / "x.bin").write_bytes(content)
    before = snapshot(tmp_path)
    result = cli("show", tmp_path / "x.bin", "--format", "nrf-cbor")
    assert result.code == 2 and fragment in result.err, result
    assert result.err.count("\n") == 1 and snapshot(tmp_path) == before


@pytest.mark.parametrize("content, fragment", [
    (b"\xd9\xd9\xf7\xa1\x61\x61\x01", "starts with a CBOR tag"),
    (b"\x82\x01\x02", "does not start with a CBOR map"),
    (b"\xa2\x61\x61\x01\x61", "the CBOR map is cut off or malformed after 1 of its 2 entries"),
    (b"\xa1\x61\x61\x01", "the map holds no factory data key (1 entries, none of them"),
], ids=["tagged", "array", "truncated", "no-known-key"])
def test_show_refuses_valid_cbor_that_is_not_factory_data(cli, tmp_path, content, fragment):
    """Not readable factory data is bad input: exit 2, one line with the root cause, nothing
    on stdout, with or without --json/--strict."""
    (tmp_path / "x.bin").write_bytes(content)
    for options in ([], ["--json"], ["--strict"]):
        result = cli("show", tmp_path / "x.bin", "--format", "nrf-cbor", *options)
        assert result.code == 2 and result.out == "", result
        assert result.err.startswith(f"error: {tmp_path / 'x.bin'}: not readable nRF factory "
                                     "data: ") and fragment in result.err
        assert result.err.count("\n") == 1, result


def test_show_warns_and_strict_fails(cli, tmp_path):
    (tmp_path / "x.bin").write_bytes(cbor2.dumps({"version": 2}) + b"\0")
    result = cli("show", tmp_path / "x.bin", "--json")
    assert result.code == 0 and result.out.strip() == '{"version": 2}'
    assert "error: " in result.err and "accepts only version 1" in result.err
    assert cli("show", tmp_path / "x.bin", "--strict").code == 1


def test_show_ignores_flash_after_the_map(cli, golden, tmp_path):
    (tmp_path / "dump.bin").write_bytes((golden / "factory_data.bin").read_bytes() + b"\xff" * 2000)
    result = cli("show", tmp_path / "dump.bin", "--strict", "--json", "--show-secrets")
    assert result.code == 0 and result.out == (golden / "factory_data.json").read_text() + "\n"


def test_show_picks_the_segment_at_offset(cli, golden, tmp_path):
    from matter_factory_data.formats.hexfile import to_hex_text

    firmware = to_hex_text(0x0, b"\x11" * 64).replace(":00000001FF\n", "")
    data = (golden / "factory_data.bin").read_bytes()
    (tmp_path / "merged.hex").write_text(firmware + to_hex_text(0xF7000, data))
    result = cli("show", tmp_path / "merged.hex", "--offset", "0xf7000", "--json")
    assert result.code == 0 and result.out.startswith('{"version": 1')
    result = cli("show", tmp_path / "merged.hex", "--offset", "0x80000")
    assert result.code == 2 and "no data at 0x80000" in result.err


# --- property tests: encode/decode ----------------------------------------------------

text_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
json_values = st.one_of(
    st.integers(min_value=0, max_value=2 ** 64 - 1),
    text_values.filter(lambda s: not s.startswith("hex:")),
    st.binary(max_size=64).map(lambda b: "hex:" + b.hex()),
)
json_maps = st.dictionaries(st.text(min_size=1, max_size=20), json_values, min_size=1,
                            max_size=25)


@settings(max_examples=200, deadline=None)
@given(json_maps)
def test_json_to_image_and_back_is_lossless(obj):
    device_map = nrf_cbor.json_to_device_map(obj)
    image = nrf_cbor.encode_image(device_map)
    assert image.endswith(b"\x00")
    decoded = nrf_cbor.decode_image(image + b"\xff" * 8)
    assert decoded == device_map
    assert list(decoded) == list(obj)  # insertion order kept: it is the order on flash
    # back to JSON: bytes that were text come back as text or hex of the same bytes
    again = nrf_cbor.json_to_device_map(nrf_cbor.device_map_to_json(decoded))
    assert again == device_map


# Nested strings that start with "hex:" are converted to bytes by design (newer upstream).
plain_text = st.text(max_size=8).filter(lambda s: not s.startswith("hex:"))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.recursive(
    st.one_of(st.integers(-2 ** 31, 2 ** 31 - 1), plain_text, st.booleans()),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                       children, max_size=3),
    max_leaves=10), max_size=5))
def test_user_data_round_trips(user):
    device_map = nrf_cbor.json_to_device_map({"version": 1, "user": user})
    assert nrf_cbor.decode_image(nrf_cbor.encode_image(device_map))["user"] == user


def test_show_asks_for_offset_when_the_hex_has_several_segments(cli, golden, tmp_path):
    from matter_factory_data.formats.hexfile import to_hex_text

    firmware = to_hex_text(0x0, b"\x11" * 64).replace(":00000001FF\n", "")
    data = (golden / "factory_data.bin").read_bytes()
    (tmp_path / "merged.hex").write_text(firmware + to_hex_text(0xF7000, data))
    result = cli("show", tmp_path / "merged.hex")
    assert result.code == 2
    assert "holds 2 segments (at 0x0, 0xf7000); give --offset" in result.err


# --- the summary and secrets (show's default output) ----------------------------------

GOLDEN_KEY_HEX = "7fcd6eb826eea6d6178d"  # the start of the golden DAC key


def test_show_prints_a_readable_summary_by_default(cli, golden):
    result = cli("show", golden / "factory_data.bin", "--size", "0x1000")
    assert result.code == 0, result
    lines = dict(line.split(":", 1) for line in result.out.splitlines())
    assert lines["serial number"].strip() == "11223344556677889900"
    assert lines["vendor"].strip() == "0xFFF1  Nordic Semiconductor ASA"
    assert lines["size"].strip() == ("1367 bytes of factory data (1366 of CBOR + 0x00 "
                                     "terminator); the file holds 1367 bytes; partition "
                                     "4096 bytes, 2729 free")
    assert lines["DAC"].strip() == "CN=Matter Dev DAC 0xFFF1/0x8006, VID=FFF1, PID=8006"
    assert lines["DAC validity"].strip().startswith("2022-02-05 00:00:00Z .. no expiry")
    assert lines["DAC key"].strip() == "32 bytes (hidden; --show-secrets prints it)"
    assert lines["findings"].strip() == "none"
    assert GOLDEN_KEY_HEX not in result.out + result.err


@pytest.mark.parametrize("options", [[], ["--json"], ["--pretty"], ["--strict"],
                                     ["--json", "--strict", "--size", "0x100"]])
def test_secrets_are_masked_unless_asked(cli, tmp_path, golden, options):
    data = golden_map(golden)
    data["passcode"] = 20202021
    data["enable_key"] = bytes.fromhex("00112233445566778899aabbccddeeff")
    (tmp_path / "p.bin").write_bytes(cbor2.dumps(data) + b"\0")
    result = cli("show", tmp_path / "p.bin", *options)
    for secret in (GOLDEN_KEY_HEX, "20202021", "00112233445566778899aabbccddeeff"):
        assert secret not in result.out + result.err, (secret, options)
    shown = cli("show", tmp_path / "p.bin", "--json", "--show-secrets")
    assert json.loads(shown.out)["passcode"] == 20202021
    assert json.loads(shown.out)["dac_key"].startswith("hex:" + GOLDEN_KEY_HEX)


def test_masked_json_says_what_is_hidden(cli, golden):
    result = cli("show", golden / "factory_data.bin", "--json")
    assert json.loads(result.out)["dac_key"] == "<secret: 32 bytes, --show-secrets prints it>"


def test_a_prefix_alias_of_the_key_is_masked_too(cli, tmp_path, golden):
    data = golden_map(golden)
    data["dac_k"] = data.pop("dac_key")  # the device reads "dac_k" as dac_key
    (tmp_path / "a.bin").write_bytes(cbor2.dumps(data) + b"\0")
    result = cli("show", tmp_path / "a.bin", "--json")
    assert GOLDEN_KEY_HEX not in result.out + result.err
    assert "reads this key as 'dac_key'" in result.err


# --- fuzz: show never fails on any input -----------------------------------------------

from mutations import mutated_images  # noqa: E402


def _show_is_sane(cli, path):
    for options in ([], ["--json", "--strict"]):
        result = cli("show", path, *options)
        assert result.code in (0, 1, 2), result
        assert "internal error" not in result.err and "Traceback" not in result.err, result
        if result.code == 2:
            assert result.err.count("\n") == 1 and result.out == "", result


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64))
def test_show_survives_arbitrary_bytes(cli, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.bin"
    path.write_bytes(data)
    _show_is_sane(cli, path)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2 ** 32), st.integers(1, 5))
def test_show_survives_mutated_images(cli, tmp_path_factory, seed, count):
    directory = tmp_path_factory.mktemp("fuzz")
    for index, image in enumerate(mutated_images(seed, count)):
        (directory / f"{index}.bin").write_bytes(image)
        _show_is_sane(cli, directory / f"{index}.bin")


@pytest.mark.parametrize("passcode", [123456789, 2 ** 40, -5, 11111111])
def test_lint_never_quotes_a_stored_passcode(cli, tmp_path, golden, passcode):
    data = golden_map(golden)
    data["passcode"] = passcode
    (tmp_path / "p.bin").write_bytes(cbor2.dumps(data) + b"\0")
    result = cli("show", tmp_path / "p.bin", "--strict")
    assert result.code == 1 and "key 'passcode'" in result.err
    # the file's own path (a temporary directory such as pytest-51) may hold the digits
    said = (result.out + result.err).replace(str(tmp_path), "<tmp>")
    assert str(passcode) not in said
