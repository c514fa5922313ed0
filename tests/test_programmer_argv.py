"""Programmer argv that nothing can hijack (issue #14, item 4): files reach nrfutil, nrfjprog
and STM32_Programmer_CLI as absolute paths, probe serial numbers are checked before any tool
runs, ``flash --list`` lists the J-Link probes through the runner. Fake tools on PATH record
the exact argv they get."""

import json
import shutil

import pytest
from conftest import snapshot
from test_flash import OPTIONS, PLAIN_HEX, empty_path, fake_tools  # noqa: F401 (fixtures)
from test_stm32_program import FULL, LISTING, SN_WB, fake_cli  # noqa: F401 (fixture)

# --------------------------------------------------------------------------- flash


@pytest.mark.parametrize("tool, expected", [
    ("nrfjprog", [["nrfjprog", "--program", "{hex}", "--sectorerase", "--verify", "-f", "NRF52"],
                  ["nrfjprog", "--reset", "-f", "NRF52"]]),
    ("nrfutil", [["nrfutil", "device", "program", "--firmware", "{hex}", "--options", OPTIONS,
                  "--family", "nrf52"],
                 ["nrfutil", "device", "reset", "--family", "nrf52"]]),
])
def test_a_hex_named_like_an_option_reaches_the_tool_as_an_absolute_path(
        cli, tmp_path, monkeypatch, fake_tools, tool, expected):  # noqa: F811
    """`nrfjprog --program --recover` would erase the whole chip: the file is absolute."""
    fake_tools.install(tool)
    monkeypatch.chdir(tmp_path)
    shutil.copy(PLAIN_HEX, tmp_path / "--recover")
    result = cli("flash", "--hex=--recover", "--tool", tool, "--family", "NRF52", "--no-readback")
    assert result.code == 0, result
    wanted = [[a.format(hex=str(tmp_path / "--recover")) for a in argv] for argv in expected]
    assert fake_tools() == wanted


def test_a_relative_build_hex_is_made_absolute_too(cli, tmp_path, monkeypatch, empty_path):  # noqa: F811
    from test_flash import BUILDS

    shutil.copytree(BUILDS / "plain", tmp_path / "build")
    monkeypatch.chdir(tmp_path)
    result = cli("flash", "-d", "build", "--tool", "nrfutil", "--dry-run", "--no-reset")
    assert result.code == 0, result
    assert f"--firmware {tmp_path / 'build' / 'zephyr' / 'factory_data.hex'} " in result.out


# (value, tool, message): every spelling of the probe option, every hostile value.
BAD_SNR = [
    ("--recover", "nrfjprog", "--snr: '--recover' is not a J-Link serial number (accepted: "
                              "1..20 ASCII digits, as --list shows them)"),
    ("-e", "nrfutil", "--snr: '-e' is not a J-Link serial number"),
    ("683999535,1050065027", "nrfutil", "'683999535,1050065027' is not a J-Link serial number"),
    ("68399 9535", "nrfutil", "is not a J-Link serial number"),
    ("", "nrfutil", "--snr: '' is not a J-Link serial number"),
    ("\u0661\u0662", "nrfutil", "is not a J-Link serial number"),  # Arabic-Indic digits
    ("0x28c4b58f", "nrfjprog", "is not a J-Link serial number"),
    ("683999535\n", "nrfjprog", "'683999535\\n' is not a J-Link serial number"),
    ("9" * 21, "nrfutil", "is not a J-Link serial number"),
    ("4294967296", "nrfjprog", "--snr: 4294967296 is larger than the serial numbers nrfjprog "
                               "takes (at most 4294967295); use the nrfutil tool"),
]


@pytest.mark.parametrize("spelling", ["--snr", "--dev-id", "--serial-number"])
@pytest.mark.parametrize("value, tool, message", BAD_SNR, ids=[f"{c[1]}-{c[0]!r}"
                                                               for c in BAD_SNR])
def test_probe_serial_numbers_are_checked_before_any_tool_runs(cli, tmp_path, fake_tools,  # noqa: F811
                                                               spelling, value, tool, message):
    fake_tools.install("nrfutil", "nrfjprog")
    before = snapshot(tmp_path)
    for extra in ([], ["--dry-run"]):
        result = cli("flash", "--hex", PLAIN_HEX, "--tool", tool, "--family", "NRF52",
                     f"{spelling}={value}", *extra)
        assert (result.code, result.out) == (2, ""), result
        assert message in result.err and result.err.count("\n") == 1, result.err
    assert fake_tools() == []
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("spelling", ["--snr", "--dev-id", "--serial-number"])
def test_every_spelling_of_the_probe_reaches_the_tool(cli, fake_tools, spelling):  # noqa: F811
    fake_tools.install("nrfutil")
    result = cli("flash", "--hex", PLAIN_HEX, spelling, "001050946562", "--no-reset",
                 "--no-readback")
    assert result.code == 0, result
    assert fake_tools() == [["nrfutil", "device", "program", "--firmware", str(PLAIN_HEX),
                             "--options", OPTIONS, "--serial-number", "001050946562"]]


def test_sn_is_never_a_probe_in_flash(cli, empty_path):  # noqa: F811
    """--sn is not taken as a prefix of --snr: it is the device serial number everywhere."""
    result = cli("flash", "--hex", PLAIN_HEX, "--sn", "001050946562", "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == ("error: --sn 001050946562: --sn is the device's serial number; the "
                          "J-Link probe is chosen with --snr SERIAL (or --dev-id, "
                          "--serial-number; see --list)\n")


# nrfutil --json device list: NDJSON events, the devices in the task_end event (as Zephyr's
# nrfutil runner reads them), one device per J-Link, a value nothing may take as an option.
NRFUTIL_LIST = "\n".join(json.dumps(event) for event in [
    {"type": "task_begin", "data": {"task": {"name": "list", "description": "Finding devices"}}},
    {"type": "task_end", "data": {"task": {"name": "list"}, "result": "success", "data": {
        "devices": [
            {"serialNumber": "001050946562", "traits": {"jlink": True, "devkit": True,
                                                       "seggerUsb": True, "usb": True,
                                                       "nordicUsb": False},
             "devkit": {"boardVersion": "PCA10056"},
             "serialPorts": [{"comName": "/dev/ttyACM0", "vcom": 0},
                             {"comName": "/dev/ttyACM1", "vcom": 1}]},
            {"serialNumber": "--recover", "traits": {"jlink": True}},
            {"serialNumber": "000683999535", "traits": {"jlink": True},
             "devkit": {"boardVersion": "PCA\x1b[31m10095"}},
        ]}}},
]) + "\n"


def test_flash_list_parses_nrfutil_device_list(cli, tmp_path, monkeypatch, fake_tools):  # noqa: F811
    fake_tools.install("nrfutil")
    listing = tmp_path / "list.ndjson"
    listing.write_text(NRFUTIL_LIST)
    monkeypatch.setenv("MFD_FAKE_STDOUT", str(listing))
    result = cli("flash", "--list")
    assert result.code == 0, result
    assert fake_tools() == [["nrfutil", "--json", "device", "list"]]
    assert result.out.splitlines() == [
        "001050946562  board PCA10056  ports /dev/ttyACM0, /dev/ttyACM1  traits devkit, jlink, "
        "seggerUsb, usb",
        "000683999535  board PCA\\x1b[31m10095  ports ?  traits jlink",
    ]


def test_flash_list_with_nrfjprog_and_dry_run(cli, tmp_path, monkeypatch, fake_tools):  # noqa: F811
    fake_tools.install("nrfjprog")
    listing = tmp_path / "ids.txt"
    listing.write_text("683999535\n1050065027\n-e\n")
    monkeypatch.setenv("MFD_FAKE_STDOUT", str(listing))
    result = cli("flash", "--list", "--tool", "nrfjprog")
    assert result.code == 0, result
    assert fake_tools() == [["nrfjprog", "--ids"]]
    assert [line.split()[0] for line in result.out.splitlines()] == ["683999535", "1050065027"]
    result = cli("flash", "--list", "--dry-run", "--tool", "nrfutil")
    assert (result.code, result.out) == (0, "nrfutil --json device list\n")
    assert len(fake_tools()) == 1  # the dry run ran nothing


def test_flash_list_without_probes(cli, tmp_path, monkeypatch, fake_tools):  # noqa: F811
    fake_tools.install("nrfutil")
    listing = tmp_path / "list.ndjson"
    listing.write_text(json.dumps({"type": "task_end", "data": {"data": {"devices": []}}}))
    monkeypatch.setenv("MFD_FAKE_STDOUT", str(listing))
    result = cli("flash", "--list")
    assert (result.code, result.out) == (0, "no J-Link probe found (connect the board over "
                                            "USB)\n")


# --------------------------------------------------------------------------- flash --hex


def test_flash_hex_names_a_firmware_vector_table(cli, tmp_path, empty_path):  # noqa: F811
    """Issue #14: a firmware whose initial SP starts with 0xB0 looked like a CBOR map."""
    from matter_factory_data.formats.hexfile import to_hex_text

    firmware = b"\xb0\xff\x03\x20" + (0x4D5).to_bytes(4, "little") + bytes(range(256)) * 4
    path = tmp_path / "zephyr.hex"
    path.write_text(to_hex_text(0x0, firmware))
    result = cli("flash", "--hex", path, "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"error: {path}: the data at 0x0 looks like a firmware image "
                                 "(vector table: SP 0x2003ffb0, reset 0x000004d5), not factory "
                                 "data; flash only the factory data hex")


# --------------------------------------------------------------------------- stm32-program


def test_an_image_named_like_an_option_reaches_cubeprogrammer_as_an_absolute_path(
        cli, tmp_path, monkeypatch, fake_cli):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    shutil.copy(FULL, tmp_path / "-e.bin")
    loader = tmp_path / "-rst.stldr"
    loader.write_text("")
    monkeypatch.chdir(tmp_path)
    result = cli("stm32-program", "--image=-e.bin", "--no-readback", "--board", "wb5mm-dk",
                 "--probe", SN_WB,
                 "--external-loader=-rst.stldr")
    assert result.code == 0, result
    assert fake_cli() == [["-c", "port=SWD", f"sn={SN_WB}", "mode=UR", "-el", str(loader), "-d",
                           str(tmp_path / "-e.bin"), "0x901C0000", "-v", "-rst"]]


BAD_PROBES = [
    ("-e", "--probe: '-e' is not an ST-LINK serial number (accepted: 4..48 hex digits, as "
           "--list shows them)"),
    ("0670FF53 port=USB1", "--probe: '0670FF53 port=USB1' is not an ST-LINK serial number"),
    ("0670FF53\n", "--probe: '0670FF53\\n' is not an ST-LINK serial number"),
    ("zzzz", "--probe: 'zzzz' is not an ST-LINK serial number"),
    ("", "--probe: '' is not an ST-LINK serial number"),
    ("A" * 49, "is not an ST-LINK serial number"),
]


@pytest.mark.parametrize("value, message", BAD_PROBES, ids=[c[0][:12] or "empty"
                                                            for c in BAD_PROBES])
def test_stm32_probe_serials_are_checked_before_any_tool_runs(cli, tmp_path, fake_cli,  # noqa: F811
                                                              value, message):
    before = snapshot(tmp_path)
    for extra in ([], ["--dry-run"], ["--list"]):
        argv = ["--image", FULL, "--board", "wba65"] if "--list" not in extra else []
        result = cli("stm32-program", *argv, f"--probe={value}", *extra)
        assert (result.code, result.out) == (2, ""), result
        assert message in result.err and result.err.count("\n") == 1, result.err
    assert fake_cli() == []
    assert snapshot(tmp_path) == before


def test_stm32_program_sn_is_refused_pointing_to_probe(cli, fake_cli):  # noqa: F811
    result = cli("stm32-program", "--image", FULL, "--board", "wba65", "--sn", SN_WB)
    assert (result.code, result.out) == (2, "")
    assert result.err == (f"error: --sn {SN_WB}: --sn is the device's serial number; the "
                          "ST-LINK probe is chosen with --probe SERIAL (see --list)\n")
    assert fake_cli() == []


def test_listed_serials_that_are_not_hex_are_never_programmed(cli, tmp_path, monkeypatch,
                                                              fake_cli):  # noqa: F811
    hostile = LISTING.replace("003A00283132511838363431", "-e")
    (tmp_path / "listing.txt").write_text(hostile)
    result = cli("stm32-program", "--image", FULL, "--board", "wba65", "--no-readback")
    assert result.code == 0, result
    assert [call for call in fake_cli() if call != ["-l"]] == [
        ["-c", "port=SWD", f"sn={SN_WB}", "mode=UR", "-d", str(FULL), "0x081EC000", "-v",
         "-rst"]]


def test_stm32_list_escapes_what_the_tool_prints(cli, tmp_path, fake_cli):  # noqa: F811
    (tmp_path / "listing.txt").write_text(LISTING.replace("NUCLEO-WBA65RI", "NUCLEO\x1b[2J"))
    result = cli("stm32-program", "--list")
    assert result.code == 0, result
    assert result.out.splitlines()[1] == ("003A00283132511838363431  board NUCLEO\\x1b[2J  "
                                          "port ttyACM1")
