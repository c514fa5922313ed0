"""``stm32-program``: STM32CubeProgrammer argv tables with a fake STM32_Programmer_CLI on PATH."""

import json
import os
import sys
from pathlib import Path

import pytest

from matter_factory_data.station import cubeprogrammer
from matter_factory_data.station.runner import Runner

DATA = Path(__file__).parent / "data" / "stm32"
FULL = DATA / "full.bin"

#: STM32CubeProgrammer 2.18+ layout: ST-Link probe blocks, and the UART section that names
#: each probe's board and port (the part genFactoryData's regular expression reads).
LISTING = """\
      -------------------------------------------------------------------
                        STM32CubeProgrammer v2.18.0
      -------------------------------------------------------------------

=====  DFU Interface   =====

No STM32 device in DFU mode connected

===== STLink Interface =====

-------- Connected ST-LINK Probes List --------

ST-Link Probe 0 :
   ST-LINK SN  : 0670FF535651727067065821
   ST-LINK FW  : V2J37M26
   Access Port Number  : 2
   Board Name  : STM32WB5MM-DK
ST-Link Probe 1 :
   ST-LINK SN  : 003A00283132511838363431
   ST-LINK FW  : V3J15M7
   Access Port Number  : 2
   Board Name  : NUCLEO-WBA65RI
-----------------------------------------------------------------

=====  UART Interface  =====

Total number of serial ports available: 3

Port: ttyS0
Location: /dev/ttyS0
Description: n/a
Manufacturer: n/a

Board Name  : STM32WB5MM-DK
ST-LINK SN: 0670FF535651727067065821
Port: ttyACM0
Location: /dev/ttyACM0
Description: STLINK-V2
Manufacturer: STMicroelectronics

Board Name  : NUCLEO-WBA65RI
ST-LINK SN: 003A00283132511838363431
Port: ttyACM1
Location: /dev/ttyACM1
Description: STLINK-V3
Manufacturer: STMicroelectronics
"""
SN_WB, SN_WBA = "0670FF535651727067065821", "003A00283132511838363431"

FAKE = """\
#!{python}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:] == ["-l"]:
    sys.stdout.write(open(os.environ["FAKE_LISTING"]).read())
    sys.exit(0)
for failing in os.environ.get("FAKE_FAIL_SN", "").split(","):
    if failing and "sn=" + failing in sys.argv:
        print("Error: ST-LINK error (DEV_USB_COMM_ERR)")
        sys.exit(1)
print("File download complete")
"""


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """A fake STM32_Programmer_CLI first on PATH; returns a reader of the argv it got."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    exe = bin_dir / "STM32_Programmer_CLI"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    log, listing = tmp_path / "calls.jsonl", tmp_path / "listing.txt"
    listing.write_text(LISTING)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_LISTING", str(listing))

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    calls.exe = str(exe)
    return calls


def test_parse_probes_of_a_listing():
    assert cubeprogrammer.parse_probes(LISTING) == [
        cubeprogrammer.Probe(SN_WB, "STM32WB5MM-DK", "ttyACM0"),
        cubeprogrammer.Probe(SN_WBA, "NUCLEO-WBA65RI", "ttyACM1")]


def test_parse_probes_of_an_older_listing_without_the_uart_triples():
    old = LISTING.split("=====  UART Interface  =====")[0]
    assert [p.port for p in cubeprogrammer.parse_probes(old)] == ["", ""]
    assert cubeprogrammer.parse_probes("=====  UART Interface  =====\nPort: COM1\n") == []


def test_list(cli, fake_cli):
    result = cli("stm32-program", "--list")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"{SN_WB}  board STM32WB5MM-DK  port ttyACM0",
                                       f"{SN_WBA}  board NUCLEO-WBA65RI  port ttyACM1"]
    assert fake_cli() == [["-l"]]


CASES = [
    ("wb5mm-dk external loader", ["--board", "wb5mm-dk", "--probe", "0A0B0C0D"], [
        ["-c", "port=SWD", "sn=0A0B0C0D", "mode=UR", "-el", "{loader}", "-d", "{image}",
         "0x901C0000", "-v", "-rst"]]),
    ("wba65 internal flash, no loader", ["--board", "wba65", "--probe", "0A0B0C0D"], [
        ["-c", "port=SWD", "sn=0A0B0C0D", "mode=UR", "-d", "{image}", "0x081EC000", "-v", "-rst"]]),
    ("no reset", ["--board", "wba65", "--probe", "0A0B0C0D", "--no-reset"], [
        ["-c", "port=SWD", "sn=0A0B0C0D", "mode=UR", "-d", "{image}", "0x081EC000", "-v"]]),
    ("own loader", ["--board", "wb5mm-dk", "--probe", "0A0B0C0D", "--external-loader",
                    "/x/my.stldr"], [
        ["-c", "port=SWD", "sn=0A0B0C0D", "mode=UR", "-el", "/x/my.stldr", "-d", "{image}",
         "0x901C0000", "-v", "-rst"]]),
    ("every listed probe", ["--board", "wba65"], [
        ["-l"],
        ["-c", "port=SWD", f"sn={SN_WB}", "mode=UR", "-d", "{image}", "0x081EC000", "-v",
         "-rst"],
        ["-c", "port=SWD", f"sn={SN_WBA}", "mode=UR", "-d", "{image}", "0x081EC000", "-v",
         "-rst"]]),
]


@pytest.mark.parametrize("options, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_argv_table(cli, fake_cli, options, expected):
    result = cli("stm32-program", "--image", FULL, *options)
    assert result.code == 0, result.err
    loader = str(Path(fake_cli.exe).parent / "ExternalLoader" / "S25FL128S_STM32WB5MM-DK.stldr")
    want = [[a.format(image=FULL, loader=loader) for a in argv] for argv in expected]
    assert fake_cli() == want


def test_dry_run_prints_the_same_commands_and_runs_nothing(cli, fake_cli):
    result = cli("stm32-program", "--image", FULL, "--board", "wb5mm-dk", "--probe", "0A0B0C0D",
                 "--dry-run")
    assert result.code == 0
    assert result.out.splitlines()[1] == (
        f"{fake_cli.exe} -c port=SWD sn=0A0B0C0D mode=UR -el "
        f"{Path(fake_cli.exe).parent}/ExternalLoader/S25FL128S_STM32WB5MM-DK.stldr -d {FULL} "
        "0x901C0000 -v -rst")
    assert fake_cli() == []


def test_a_failing_probe_is_one_line_and_the_others_are_programmed(cli, fake_cli, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL_SN", SN_WB)
    result = cli("stm32-program", "--image", FULL, "--board", "wba65")
    assert result.code == 1
    errors = result.err.splitlines()
    assert errors[0] == (f"error: ST-LINK {SN_WB}: command exited with status 1: "
                         f"{fake_cli.exe} -c port=SWD sn={SN_WB} mode=UR -d {FULL} 0x081EC000 "
                         "-v -rst")
    assert errors[1:] == ["error: 1 of 2 device(s) failed; the others are programmed"]
    assert f"ST-LINK {SN_WBA}: programmed and verified, reset" in result.out
    assert len(fake_cli()) == 3


def test_a_bad_image_is_refused_before_any_probe_is_touched(cli, fake_cli, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes.fromhex("15000000" "00000000" "16000000" "02000000" "f1ff" "acacacac"))
    result = cli("stm32-program", "--image", bad, "--board", "wba65", "--probe", "0A0B0C0D")
    assert result.code == 2
    assert result.err.startswith(f"error: --image {bad}: key 'VENDOR_NAME': at offset 0 is "
                                 "empty (length 0)")
    assert fake_cli() == []


@pytest.mark.parametrize("platform, present, expected", [
    ("linux", "~/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin/STM32_Programmer_CLI",
     "~/STMicroelectronics/STM32Cube/STM32CubeProgrammer/bin/STM32_Programmer_CLI"),
    ("linux", "/opt/st/stm32cubeprogrammer/bin/STM32_Programmer_CLI",
     "/opt/st/stm32cubeprogrammer/bin/STM32_Programmer_CLI"),
    ("darwin", "/Applications/STMicroelectronics/STM32Cube/STM32CubeProgrammer/"
               "STM32CubeProgrammer.app/Contents/MacOs/bin/STM32_Programmer_CLI", None),
    ("win32", r"C:\Program Files\STMicroelectronics\STM32Cube\STM32CubeProgrammer\bin"
              + os.sep + "STM32_Programmer_CLI.exe", None),
])
def test_cli_found_in_the_usual_install_locations(platform, present, expected):
    present = os.path.expanduser(present)
    runner = Runner(False, None, which=lambda name: None)
    found = cubeprogrammer.find_cli(None, runner, platform=platform,
                                    exists=lambda path: path == present)
    assert found == (os.path.expanduser(expected) if expected else present)


def test_cli_option_takes_the_program_or_its_directory(tmp_path):
    exe = tmp_path / "STM32_Programmer_CLI"
    exe.write_text("")
    runner = Runner(False, None, which=lambda name: "/on/path/STM32_Programmer_CLI")
    assert cubeprogrammer.find_cli(str(tmp_path), runner) == str(exe)
    assert cubeprogrammer.find_cli(str(exe), runner) == str(exe)
    assert cubeprogrammer.find_cli(None, runner) == "/on/path/STM32_Programmer_CLI"


def test_missing_cli_is_one_line(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = cli("stm32-program", "--image", FULL, "--board", "wba65", "--probe", "0A0B0C0D")
    assert result.code == 2  # not installed: usage, exit 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("error: STM32_Programmer_CLI not found on PATH nor in ")
    result = cli("stm32-program", "--list", "--cli", tmp_path / "nowhere")
    assert result.err == (f"error: --cli {tmp_path / 'nowhere'}: no STM32_Programmer_CLI there "
                          "(give the program or the bin directory of STM32CubeProgrammer)\n")
