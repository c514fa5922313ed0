"""Where `batch` takes the common values from: options, `--fields FILE.json`, a build's Kconfig
(`-d`), `--defaults` — in that order of precedence — and the live progress line."""

import csv
import io
import json

import pytest
from conftest import snapshot
from test_build_dir_commands import DOTCONFIG, FD_ADDRESS, make_build

FAST = ("--spake2_it", "1000", "--qr", "none", "--jobs", "1", "--sn_template", "T{n}")

BUILD_CONFIG = DOTCONFIG + """\
CONFIG_CHIP_DEVICE_VENDOR_ID=65522
CONFIG_CHIP_DEVICE_PRODUCT_ID=4660
CONFIG_CHIP_DEVICE_VENDOR_NAME="Kconfig Vendor"
CONFIG_CHIP_DEVICE_PRODUCT_NAME="Kconfig Lamp"
CONFIG_CHIP_DEVICE_MANUFACTURING_DATE="2026-03-04"
CONFIG_CHIP_DEVICE_HARDWARE_VERSION=7
CONFIG_CHIP_DEVICE_HARDWARE_VERSION_STRING="rev7"
CONFIG_CHIP_DEVICE_SPAKE2_IT=2000
"""


def device_json(out, index=1) -> dict:
    return json.loads((out / "devices" / f"{index:06d}" / "factory_data.json").read_text())


def hex_address(out, index=1) -> int:
    from intelhex import IntelHex

    image = IntelHex(str(out / "devices" / f"{index:06d}" / "factory_data.hex"))
    return image.minaddr()


def test_common_values_from_a_build_directory(cli, tmp_path):
    build, _ = make_build(tmp_path / "build", config=BUILD_CONFIG)
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "2", "-d", build, "--defaults",
                 "--spake2_it", "1000", "--qr", "none", "--jobs", "1")
    assert result.code == 0, result
    data = device_json(out)
    assert (data["vendor_id"], data["product_id"]) == (0xFFF2, 0x1234)
    assert (data["vendor_name"], data["product_name"]) == ("Kconfig Vendor", "Kconfig Lamp")
    assert (data["date"], data["hw_ver"], data["hw_ver_str"]) == ("2026-03-04", 7, "rev7")
    assert data["spake2_it"] == 1000  # the option wins over the build's 2000
    assert hex_address(out) == FD_ADDRESS  # the build's factory_data partition


def test_sysbuild_build_directory_uses_the_default_image(cli, tmp_path):
    build, _ = make_build(tmp_path / "build", sysbuild=True, config=BUILD_CONFIG)
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "1", "-d", build, "--defaults", *FAST)
    assert result.code == 0, result
    assert device_json(out)["vendor_id"] == 0xFFF2


def test_build_directory_without_the_step_file_is_refused(cli, tmp_path):
    build, app = make_build(tmp_path / "build", step=False, config=BUILD_CONFIG)
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "1", "-d", build, "--defaults", *FAST)
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1
    assert "factory_data_step.json" in result.err and "CONFIG_CHIP_FACTORY_DATA_BUILD" in result.err
    assert not out.exists()


def test_fields_file_and_precedence(cli, tmp_path):
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps({"vendor_id": "0xFFF1", "product_id": 32768,
                                  "vendor_name": "From Fields", "product_name": "Fields Lamp",
                                  "date": "2026-01-02", "hw_ver": 3, "hw_ver_str": "three",
                                  "spake2_it": 1000, "offset": "0xfa000", "size": 4096,
                                  "product_label": "label"}))
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "1", "--fields", fields, "--defaults",
                 "--product_name", "Option Lamp", *FAST)
    assert result.code == 0, result
    data = device_json(out)
    assert data["vendor_name"] == "From Fields" and data["product_label"] == "label"
    assert data["product_name"] == "Option Lamp"  # the option wins over the file
    assert hex_address(out) == 0xFA000


@pytest.mark.parametrize("content, fragment", [
    ({"vendor_idd": 1}, "unknown key 'vendor_idd'"),
    ({"sn": "X"}, "key 'sn' is per device"),
    ({"vendor_id": "12ab"}, "key 'vendor_id': '12ab' is not an integer"),
    ([1, 2], "must be a JSON object"),
], ids=["unknown", "per-device", "bad-int", "not-object"])
def test_bad_fields_file(cli, tmp_path, content, fragment):
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps(content))
    out = tmp_path / "lot"
    before = snapshot(tmp_path)
    result = cli("batch", "-o", out, "--count", "1", "--fields", fields, "--defaults", *FAST)
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and fragment in result.err, result.err
    assert snapshot(tmp_path) == before


class TerminalUI:
    """A UI whose stderr is a terminal: batch draws a live progress line."""

    def __init__(self):
        from matter_factory_data.ui import UI

        class Tty(io.StringIO):
            def isatty(self):
                return True

        self.ui = UI(out=io.StringIO(), err=Tty())


def test_progress_bar_on_a_terminal(tmp_path):
    from matter_factory_data.cli.app import build_parser, run

    argv = ["batch", "-o", str(tmp_path / "lot"), "--count", "5", "--defaults", *FAST]
    terminal = TerminalUI()
    assert run(build_parser(argv).parse_args(argv), terminal.ui) == 0
    drawn = terminal.ui.err.getvalue()
    assert drawn.startswith("\r[") and drawn.endswith("\n")
    last = drawn.rstrip("\n").split("\r")[-1]
    assert "5/5 devices" in last and "/s" in last and "ETA" in last
    assert "#" * 30 in last  # the bar is full at the end


def test_progress_lines_without_a_terminal(cli, tmp_path):
    result = cli("batch", "-o", tmp_path / "lot", "--count", "3", "--defaults", *FAST)
    assert result.code == 0, result
    assert "\r" not in result.err + result.out
    assert "3/3 devices" in result.err and "devices  " not in result.out  # progress: stderr
    assert result.out.splitlines()[-1].startswith("made 3 devices in ")
    assert not (tmp_path / "lot" / ".lock").exists()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "lot" / "manifest.csv").read_text())))
    assert [r["sn"] for r in rows] == ["T1", "T2", "T3"]


def test_csv_passcodes_with_leading_zeros_and_a_private_manifest(cli, tmp_path):
    """Spreadsheets keep leading zeros; the manifest's codes encode passcodes, so it is 0600."""
    from matter_factory_data.core.onboarding import parse_qr_code

    table = tmp_path / "devices.csv"
    table.write_text("sn,passcode\r\nA-1,00012345\r\nA-2,20202022\r\n")
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--csv", table, "--defaults", "--spake2_it", "1000",
                 "--qr", "none", "--jobs", "1")
    assert result.code == 0, result
    rows = list(csv.DictReader(io.StringIO((out / "manifest.csv").read_text())))
    assert [parse_qr_code(r["qr_payload"]).passcode for r in rows] == [12345, 20202022]
    assert (out / "manifest.csv").stat().st_mode & 0o777 == 0o600
