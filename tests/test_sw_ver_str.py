"""sw_ver_str: the software version string (1..64 bytes, after hw_ver_str, a byte string on
flash) in generate, partition, batch, show, verify and the build step."""

import json

import cbor2
import pytest
from conftest import golden_args, snapshot
from test_build_dir_commands import DOTCONFIG, make_build, step_argv


def test_generate_stores_it_after_hw_ver_str_as_bytes(cli, golden, tmp_path):
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--sw_ver_str", "v2.2")
    assert result.code == 0, result
    keys = list(json.loads((tmp_path / "fd.json").read_text()))
    assert keys[keys.index("hw_ver_str") + 1] == "sw_ver_str"
    image = (tmp_path / "fd.bin").read_bytes()
    assert cbor2.loads(image[:-1])["sw_ver_str"] == b"v2.2"
    assert b"\x6asw_ver_str\x44v2.2" in image  # tstr key, bstr value
    shown = cli("show", tmp_path / "fd.bin", "--format", "nrf-cbor")
    assert "software version:    v2.2" in shown.out and shown.err == ""
    assert cli("verify", tmp_path / "fd.bin", "--allow_nonconformant_certs").code == 0


def test_an_empty_value_leaves_the_key_out(cli, golden, tmp_path):
    assert cli("generate", *golden_args(golden, tmp_path / "fd"), "--sw_ver_str", "").code == 0
    assert "sw_ver_str" not in json.loads((tmp_path / "fd.json").read_text())


@pytest.mark.parametrize("value, message", [
    ("x" * 65, "error: --sw_ver_str: software version string is 65 bytes long (accepted: "
               "1..64 bytes)\n"),
    ("é" * 33, "error: --sw_ver_str: software version string is 66 bytes long (accepted: "
               "1..64 bytes)\n"),
])
def test_generate_refuses_a_bad_value(cli, golden, tmp_path, value, message):
    before = snapshot(tmp_path)
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--sw_ver_str", value)
    assert (result.code, result.err) == (2, message)
    assert snapshot(tmp_path) == before


def test_partition_and_lint(cli, golden, tmp_path):
    data = json.loads((golden / "factory_data.json").read_text())
    data["sw_ver_str"] = "1.0"
    (tmp_path / "in.json").write_text(json.dumps(data))
    result = cli("partition", "-i", tmp_path / "in.json", "-o", tmp_path / "p", "--offset", "0",
                 "--size", "0x1000", "--strict")
    assert result.code == 0, result
    assert cbor2.loads((tmp_path / "p.bin").read_bytes()[:-1])["sw_ver_str"] == b"1.0"
    tstr = cbor2.loads((golden / "factory_data.bin").read_bytes()[:-1])
    tstr["sw_ver_str"] = "1.0"  # a text string: the parser that knows the key fails the image
    (tmp_path / "t.bin").write_bytes(cbor2.dumps(tstr) + b"\0")
    shown = cli("show", tmp_path / "t.bin", "--strict")
    assert shown.code == 1 and "key 'sw_ver_str': is a text string (tstr)" in shown.err


def test_batch_gives_every_device_the_value(cli, scratch):
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "2", "--defaults", "--qr", "none",
                 "--sw_ver_str", "3.1.4")
    assert result.code == 0, result
    for path in sorted(out.glob("devices/*/factory_data.json")):
        assert json.loads(path.read_text())["sw_ver_str"] == "3.1.4"


@pytest.mark.parametrize("line, expected", [
    ('CONFIG_CHIP_DEVICE_SOFTWARE_VERSION_STRING="1.2.3"\n', b"1.2.3"),
    ('CONFIG_CHIP_DEVICE_SOFTWARE_VERSION_STRING=""\n', None),
    ("", None),
], ids=["set", "empty", "absent"])
def test_build_step_takes_the_kconfig_symbol(cli, tmp_path, line, expected):
    build, app = make_build(tmp_path / "build", config=DOTCONFIG + line)
    result = cli("build-step", *step_argv(app))
    assert result.code == 0, result
    data = cbor2.loads((app / "zephyr" / "factory_data.bin").read_bytes()[:-1])
    assert data.get("sw_ver_str") == expected


def test_build_step_names_the_symbol_in_errors(cli, tmp_path):
    line = f'CONFIG_CHIP_DEVICE_SOFTWARE_VERSION_STRING="{"x" * 65}"\n'
    build, app = make_build(tmp_path / "build", config=DOTCONFIG + line)
    result = cli("build-step", *step_argv(app))
    assert result.code == 2, result
    assert "CONFIG_CHIP_DEVICE_SOFTWARE_VERSION_STRING" in result.err
    assert "65 bytes long (accepted: 1..64 bytes)" in result.err
