"""partition: the reference partition script's conversion, plus our size and lint checks."""

import json

import cbor2
import pytest
from conftest import snapshot


def make_partition(cli, tmp_path, data, *extra, size="0x1000"):
    (tmp_path / "fd.json").write_text(json.dumps(data))
    result = cli("partition", "-i", tmp_path / "fd.json", "-o", tmp_path / "partition",
                 "--offset", "0x0", "--size", size, "--raw", *extra)
    return result


def decoded(tmp_path):
    return cbor2.loads((tmp_path / "partition.bin").read_bytes())


# The six upstream tests/test_generate_partition.py cases.
@pytest.mark.parametrize("data, key, expected", [
    ({"key": "hex:deadbeef"}, "key", bytes([0xDE, 0xAD, 0xBE, 0xEF])),
    ({"name": "hello"}, "name", b"hello"),
    ({"version": 42}, "version", 42),
    ({"user": {"raw": "hex:cafe"}}, "user", {"raw": bytes([0xCA, 0xFE])}),
    ({"user": {"name": "test"}}, "user", {"name": "test"}),
    ({"user": {"value": 11}}, "user", {"value": 11}),
], ids=["hex-to-bytes", "str-to-utf8", "int-kept", "nested-hex-to-bytes", "nested-str-kept",
        "nested-int-kept"])
def test_upstream_conversion_cases(cli, tmp_path, data, key, expected):
    result = make_partition(cli, tmp_path, data)
    assert result.code == 0, result.err
    assert decoded(tmp_path)[key] == expected


def test_worked_example_bytes(cli, tmp_path):
    """nrf-connect.md §9, newer-upstream variant (nested hex: -> bstr)."""
    data = {"version": 1, "sn": "AB", "vendor_id": 65521, "dac_key": "hex:0102",
            "user": {"k": "v", "n": -1, "b": "hex:ff"}}
    assert make_partition(cli, tmp_path, data).code == 0
    expected = bytes.fromhex(
        "A5 67 76 65 72 73 69 6F 6E 01 62 73 6E 42 41 42 69 76 65 6E 64 6F 72 5F 69 64 19 FF F1"
        "67 64 61 63 5F 6B 65 79 42 01 02 64 75 73 65 72 A3 61 6B 61 76 61 6E 20 61 62 41 FF 00")
    assert (tmp_path / "partition.bin").read_bytes() == expected


def test_lint_findings_are_warnings_by_default(cli, tmp_path):
    result = make_partition(cli, tmp_path, {"version": 1, "dac": "hex:00"})
    assert result.code == 0
    assert "key 'dac': the device reads this key as 'dac_cert'" in result.err
    assert "key 'sn': mandatory key is missing" in result.err


def test_strict_refuses_what_the_device_would_reject(cli, tmp_path):
    result = make_partition(cli, tmp_path, {"version": 2}, "--strict")
    assert result.code == 2
    assert "version 2: the device accepts only version 1" in result.err
    assert not (tmp_path / "partition.bin").exists() and not (tmp_path / "partition.hex").exists()


def test_size_check_counts_the_terminating_byte(cli, tmp_path):
    data = {"k": "hex:" + "00" * 20}  # CBOR: a1 61 6b 54 + 20 bytes = 24 bytes, image 25
    assert make_partition(cli, tmp_path, data, size="25").code == 0
    before = snapshot(tmp_path)
    result = make_partition(cli, tmp_path, data, "--overwrite", size="24")
    assert result.code == 1
    assert "needs 25 bytes (24 bytes of CBOR + 1 terminating byte)" in result.err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content, message", [
    ("{}", "the JSON object is empty"),
    ("[1, 2]", "must be a JSON object, got list"),
    ("{bad json", "not valid JSON"),
    ('{"dac_cert": "hex:0g"}', "'hex:0g' is not valid hex"),
    ('{"dac_cert": "hex:012"}', "is not valid hex"),
    ('{"user": {"x": "hex:zz"}}', "key 'user'.x: 'hex:zz' is not valid hex"),
], ids=["empty", "not-object", "not-json", "bad-hex", "odd-hex", "nested-bad-hex"])
def test_bad_json_is_refused(cli, tmp_path, content, message):
    (tmp_path / "fd.json").write_text(content)
    before = snapshot(tmp_path)
    result = cli("partition", "-i", tmp_path / "fd.json", "-o", tmp_path / "partition",
                 "--offset", "0", "--size", "0x1000")
    assert result.code == 2, result
    assert message in result.err and len(result.err.splitlines()) == 1
    assert snapshot(tmp_path) == before


def test_missing_input_file(cli, tmp_path):
    result = cli("partition", "-i", tmp_path / "nope.json", "-o", tmp_path / "p",
                 "--offset", "0", "--size", "0x1000")
    assert result.code == 2 and "cannot read the file" in result.err


def test_existing_outputs_need_overwrite(cli, tmp_path):
    assert make_partition(cli, tmp_path, {"version": 1}).code == 0
    result = make_partition(cli, tmp_path, {"version": 1})
    assert result.code == 2 and "already exists; pass --overwrite" in result.err


def test_not_raw_prints_what_was_made_and_how_to_flash(cli, tmp_path):
    (tmp_path / "fd.json").write_text('{"version": 1}')
    result = cli("partition", "-i", tmp_path / "fd.json", "-o", tmp_path / "p",
                 "--offset", "0xfb000", "--size", "0x1000")
    assert result.code == 0
    assert "at 0xfb000" in result.out and "--sectorerase" in result.out
