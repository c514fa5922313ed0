"""`flash`: exact argv lists (dry run and fake tools on PATH), build-dir discovery, errors."""

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import NamedTuple, Optional

import pytest
from conftest import REPO_ROOT

from matter_factory_data.errors import FactoryDataError, InputError, MissingProgram
from matter_factory_data.station.flash import (
    FlashRequest,
    erase_ranges,
    flash_command,
    is_net_core_build,
)
from matter_factory_data.station.runner import CommandFailed, Runner
from matter_factory_data.zephyr import build_dir

BUILDS = REPO_ROOT / "tests" / "data" / "builds"
FAKE_BIN = REPO_ROOT / "tests" / "fake_bin"
PLAIN_HEX = BUILDS / "plain" / "zephyr" / "factory_data.hex"
SYSBUILD_HEX = BUILDS / "sysbuild" / "light_bulb" / "zephyr" / "factory_data.hex"
NRF54L_HEX = BUILDS / "nrf54l_no_pm" / "matter_factory_data" / "zephyr" / "factory_data.hex"
NET_BUILD = BUILDS / "nrf5340_cpunet"
NET_HEX = NET_BUILD / "zephyr" / "factory_data.hex"
OPTIONS = "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE,verify=VERIFY_READ"


class RecordingUI:
    def __init__(self, verbose=False):
        self.lines, self.verbose = [], verbose

    def info(self, message):
        self.lines.append(message)


@pytest.fixture
def empty_path(tmp_path, monkeypatch):
    """PATH holding no programmer at all."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Install tests/fake_bin/* first on PATH; returns a reader of the recorded argv lists."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    log = tmp_path / "fake-tools.log"

    def install(*names):
        for name in names:
            text = (FAKE_BIN / name).read_text(encoding="utf-8").split("\n", 1)[1]
            target = bin_dir / name
            target.write_text(f"#!{sys.executable}\n{text}", encoding="utf-8")
            target.chmod(0o755)

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]

    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("MFD_FAKE_LOG", str(log))
    monkeypatch.delenv("MFD_FAKE_EXIT", raising=False)
    calls.install = install
    return calls


# --- the truth table: tool x snr x family x reset -------------------------------

class Case(NamedTuple):
    tool: str
    snr: Optional[str]
    family: str
    reset: bool
    expected: list


def _cases():
    hx = str(PLAIN_HEX)
    for family in ("NRF52", "NRF53", "NRF91"):
        for snr in (None, "683999535"):
            for reset in (True, False):
                sel = ["-f", family] + (["--snr", snr] if snr else [])
                nrfjprog = [["nrfjprog", "--program", hx, "--sectorerase", "--verify", *sel]]
                if reset:
                    nrfjprog.append(["nrfjprog", "--reset", *sel])
                yield Case("nrfjprog", snr, family, reset, nrfjprog)
    for family in ("NRF52", "NRF53", "NRF91", "NRF54L"):
        for snr in (None, "1050065027"):
            for reset in (True, False):
                # the expected family (nrfutil's detection option): nRF54L included
                sel = (["--serial-number", snr] if snr else []) + ["--family", family.lower()]
                nrfutil = [["nrfutil", "device", "program", "--firmware", hx, "--options",
                            OPTIONS, *sel]]
                if reset:
                    nrfutil.append(["nrfutil", "device", "reset", *sel])
                yield Case("nrfutil", snr, family, reset, nrfutil)


CASES = list(_cases())
IDS = [f"{c.tool}-{c.family}-{'snr' if c.snr else 'nosnr'}-{'reset' if c.reset else 'noreset'}"
       for c in CASES]


def _argv(case: Case, *extra):
    argv = ["flash", "--hex", PLAIN_HEX, "--tool", case.tool, "--family", case.family, *extra]
    if case.snr:
        argv += ["--snr", case.snr]
    if not case.reset:
        argv.append("--no-reset")
    return argv


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dry_run_prints_exact_commands(cli, case, empty_path):
    result = cli(*_argv(case, "--dry-run"))
    assert result.code == 0, result
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[:2] == [f"factory data: {PLAIN_HEX} (1367 bytes at 0xfb000)",
                         "pages to erase: 0xfb000..0xfbfff (1 page of 4 KiB)"]
    assert [shlex.split(line) for line in lines[2:]] == case.expected


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fake_tool_receives_exact_argv(cli, case, fake_tools):
    fake_tools.install(case.tool)
    result = cli(*_argv(case))
    assert result.code == 0, result
    assert fake_tools() == case.expected
    assert result.out.splitlines()[-1] == ("factory data flashed; device reset" if case.reset
                                           else "factory data flashed")


def test_dev_id_is_an_alias_of_snr(cli, empty_path):
    result = cli("flash", "--hex", PLAIN_HEX, "--tool", "nrfutil", "--dev-id", "42", "--dry-run")
    assert result.out.splitlines()[-1] == "nrfutil device reset --serial-number 42"


def test_family_is_case_insensitive(cli, empty_path):
    result = cli("flash", "--hex", PLAIN_HEX, "--tool", "nrfjprog", "--family", "nrf53",
                 "--dry-run", "--no-reset")
    assert result.out.splitlines()[-1].endswith("--verify -f NRF53")


# --- tool choice ------------------------------------------------------------------

def test_default_tool_is_nrfutil_even_with_nrfjprog_on_path(cli, fake_tools):
    """nrfutil by default (issue #9: nRF Command Line Tools are archived)."""
    fake_tools.install("nrfjprog", "nrfutil")
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52")
    assert result.code == 0, result
    assert [call[:3] for call in fake_tools()] == [["nrfutil", "device", "program"],
                                                   ["nrfutil", "device", "reset"]]


def test_nrfjprog_when_nrfutil_is_absent(cli, fake_tools):
    fake_tools.install("nrfjprog")
    assert cli("flash", "-d", BUILDS / "plain").code == 0
    assert [call[:2] for call in fake_tools()] == [["nrfjprog", "--program"],
                                                   ["nrfjprog", "--reset"]]


def test_default_tool_is_nrfutil_without_nrfjprog(cli, fake_tools):
    fake_tools.install("nrfutil")
    assert cli("flash", "-d", BUILDS / "plain").code == 0
    assert [call[:3] for call in fake_tools()] == [["nrfutil", "device", "program"],
                                                   ["nrfutil", "device", "reset"]]


def test_dry_run_needs_no_tool(cli, empty_path):
    result = cli("flash", "-d", BUILDS / "sysbuild", "--dry-run")
    assert result.code == 0, result
    assert shlex.split(result.out.splitlines()[-2])[:3] == ["nrfutil", "device", "program"]


# --- failures -----------------------------------------------------------------------

@pytest.mark.parametrize("status, guidance", [
    (1, ""),
    (16, " (the device is protected (APPROTECT); 'nrfjprog --recover' unlocks it but erases "
         "the whole chip, firmware included)"),
    (55, " (verification failed: the flash does not hold the hex contents after programming)"),
], ids=["plain", "protected", "verify"])
def test_nrfjprog_failure_is_one_line(cli, fake_tools, monkeypatch, status, guidance):
    fake_tools.install("nrfjprog")
    monkeypatch.setenv("MFD_FAKE_EXIT", str(status))
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52")
    assert result.code == 1
    cmd = shlex.join(["nrfjprog", "--program", str(PLAIN_HEX), "--sectorerase", "--verify",
                      "-f", "NRF52"])
    assert result.err == f"error: command exited with status {status}: {cmd}{guidance}\n"
    assert len(fake_tools()) == 1  # no reset after a failed program


def test_nrfutil_failure_is_one_line(cli, fake_tools, monkeypatch):
    fake_tools.install("nrfutil")
    monkeypatch.setenv("MFD_FAKE_EXIT", "3")
    result = cli("flash", "--hex", PLAIN_HEX, "--snr", "7")
    assert result.code == 1
    assert result.err == ("error: command exited with status 3: nrfutil device program "
                          f"--firmware {PLAIN_HEX} --options {OPTIONS} --serial-number 7\n")


@pytest.mark.parametrize("argv, message", [
    (["--tool", "nrfjprog", "--family", "NRF52"],
     "nrfjprog not found on PATH; install nRF Command Line Tools or use --tool nrfutil"),
    ([], "nrfutil not found on PATH; install nRF Util and its device command "
         "('nrfutil install device') or use --tool nrfjprog"),
], ids=["nrfjprog", "default-nrfutil"])
def test_missing_tool_is_one_line(cli, empty_path, argv, message):
    result = cli("flash", "--hex", PLAIN_HEX, *argv)
    assert (result.code, result.out, result.err) == (2, "", f"error: {message}\n")


@pytest.mark.parametrize("argv, message", [
    (["--hex", "missing.hex"], "hex file missing.hex: cannot read the file"),
    (["--hex", "empty.hex", "--tool", "nrfutil"],
     "empty.hex: the hex file holds no data; nothing to flash"),
    (["--hex", "unaligned.hex", "--tool", "nrfutil"],
     "unaligned.hex: data starts at 0xfb010, not on a 4 KiB page boundary; the page erase "
     "would also wipe 0xfb000..0xfb010 (the factory_data partition must be page-aligned)"),
    (["--hex", "garbage.hex", "--tool", "nrfutil"], "garbage.hex: not a valid Intel HEX file"),
    (["--hex", "factory_data.hex", "--tool", "nrfjprog"],
     "nrfjprog needs the SoC family: give --family (NRF52, NRF53, NRF91) or -d BUILD_DIR"),
    (["--hex", "factory_data.hex", "--tool", "nrfjprog", "--family", "NRF54L"],
     "nrfjprog cannot program NRF54L devices; use --tool nrfutil"),
    (["-d", BUILDS / "nrf54l_no_pm", "--tool", "nrfjprog"],
     "nrfjprog cannot program NRF54L devices; use --tool nrfutil"),
    (["-d", "nowhere"], "build directory nowhere does not exist"),
    ([], "no Zephyr build directory found (tried build and .: no CMakeCache.txt naming "
         "ZEPHYR_BASE); give -d BUILD_DIR or --hex FILE"),
    (["-d", BUILDS / "no_factory_data"],
     f"no factory data hex in the build (tried "
     f"{BUILDS / 'no_factory_data' / 'zephyr' / 'factory_data.hex'}, "
     f"{BUILDS / 'no_factory_data' / 'matter_factory_data' / 'zephyr' / 'factory_data.hex'}); "
     "build with factory data generation enabled (SB_CONFIG_MATTER_FACTORY_DATA_GENERATE / "
     "CONFIG_CHIP_FACTORY_DATA_BUILD) or give --hex FILE"),
], ids=["missing", "empty", "unaligned", "garbage", "no-family", "nrfjprog-54l",
        "nrfjprog-54l-build", "no-dir", "no-build", "no-hex"])
def test_input_errors_are_one_line(cli, empty_path, argv, message):
    Path("empty.hex").write_text(":00000001FF\n")
    Path("unaligned.hex").write_text(f":02000004000FEB\n{_record(0xB010)}\n:00000001FF\n")
    Path("garbage.hex").write_text("hello\n")
    shutil.copy(PLAIN_HEX, "factory_data.hex")
    result = cli("flash", *argv, "--dry-run")
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.startswith(f"error: {message}") and result.err.count("\n") == 1


def _record(address16: int) -> str:
    """One Intel HEX data record of 4 bytes at ``address16`` (upper address 0x000f)."""
    body = bytes([4, address16 >> 8, address16 & 0xFF, 0, 0xDE, 0xAD, 0xBE, 0xEF])
    return f":{body.hex().upper()}{(-sum(body)) & 0xFF:02X}"


def test_unaligned_record_helper_targets_0xfb010():
    text = f":02000004000FEB\n{_record(0xB010)}\n:00000001FF\n"
    from matter_factory_data.formats.hexfile import from_hex_text

    assert from_hex_text(text) == [(0xFB010, b"\xde\xad\xbe\xef")]


# --- build directories --------------------------------------------------------------

@pytest.mark.parametrize("build, hex_file, family, pages", [
    ("plain", PLAIN_HEX, "NRF52", "0xfb000..0xfbfff (1 page of 4 KiB)"),
    ("sysbuild", SYSBUILD_HEX, "NRF53", "0xf7000..0xf8fff (2 pages of 4 KiB)"),
    ("nrf54l_no_pm", NRF54L_HEX, "NRF54L", "0x172000..0x172fff (1 page of 4 KiB)"),
    ("nrf5340_cpunet", NET_HEX, "NRF53", "0x103e800..0x103f7ff (2 pages of 2 KiB)"),
])
def test_build_dir_gives_hex_and_family(cli, empty_path, build, hex_file, family, pages):
    result = cli("flash", "-d", BUILDS / build, "--tool", "nrfutil", "--dry-run")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith(f"factory data: {hex_file} (")
    assert lines[1] == f"pages to erase: {pages}"
    app = build_dir.app_build_dir(BUILDS / build)
    assert build_dir.build_family(app) == family
    assert build_dir.factory_data_hex(app) == hex_file


def test_default_build_dir_is_build_in_cwd(cli, empty_path):
    shutil.copytree(BUILDS / "plain", "build")
    result = cli("flash", "--tool", "nrfjprog", "--dry-run", "--no-reset")
    assert result.code == 0, result
    assert result.out.splitlines()[-1] == (f"nrfjprog --program {Path.cwd()}/build/zephyr/"
                                           "factory_data.hex --sectorerase --verify -f NRF52")


def test_cwd_is_used_when_it_is_a_build(tmp_path, monkeypatch):
    shutil.copytree(BUILDS / "plain", tmp_path / "b")
    monkeypatch.chdir(tmp_path / "b")
    assert build_dir.find_build_dir(None) == Path(".")


def test_family_option_overrides_the_build(cli, empty_path):
    result = cli("flash", "-d", BUILDS / "plain", "--tool", "nrfjprog", "--family", "NRF91",
                 "--dry-run", "--no-reset")
    assert result.out.splitlines()[-1].endswith("-f NRF91")


def test_domains_yaml_recorded_build_dir_wins_when_it_exists(tmp_path):
    top = tmp_path / "build"
    shutil.copytree(BUILDS / "sysbuild", top)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(BUILDS / "sysbuild" / "light_bulb", elsewhere)
    (top / "domains.yaml").write_text(
        f"default: light_bulb\nbuild_dir: {top}\ndomains:\n- name: light_bulb\n"
        f"  build_dir: {elsewhere}\nflash_order:\n- light_bulb\n")
    assert build_dir.app_build_dir(top) == elsewhere


def test_domains_yaml_missing_default_domain(tmp_path):
    (tmp_path / "domains.yaml").write_text("default: app\ndomains:\n- name: app\n"
                                           "  build_dir: /nonexistent/app\n")
    with pytest.raises(InputError, match=r"default domain 'app' is missing \(tried "
                                         r"/nonexistent/app, .*app\)"):
        build_dir.app_build_dir(tmp_path)


def test_domains_yaml_malformed(tmp_path):
    (tmp_path / "domains.yaml").write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="not a sysbuild domains file"):
        build_dir.app_build_dir(tmp_path)


def test_is_zephyr_build(tmp_path):
    assert build_dir.is_zephyr_build(BUILDS / "plain")
    assert not build_dir.is_zephyr_build(tmp_path)
    (tmp_path / "CMakeCache.txt").write_text("CMAKE_GENERATOR:INTERNAL=Ninja\n")
    assert not build_dir.is_zephyr_build(tmp_path)


@pytest.mark.parametrize("config, family", [
    ({"CONFIG_SOC_SERIES_NRF52X": "y"}, "NRF52"),
    ({"CONFIG_SOC_SERIES_NRF53X": "y"}, "NRF53"),
    ({"CONFIG_SOC_SERIES_NRF91X": "y"}, "NRF91"),
    ({"CONFIG_SOC_SERIES_NRF54LX": "y"}, "NRF54L"),
    ({"CONFIG_SOC": "nrf52840"}, "NRF52"),
    ({"CONFIG_SOC": "nrf5340_cpuapp"}, "NRF53"),
    ({"CONFIG_SOC": "nrf9161"}, "NRF91"),
    ({"CONFIG_SOC": "nrf54l15"}, "NRF54L"),
    ({"CONFIG_SOC": "stm32wb55xx"}, None),
    ({}, None),
])
def test_soc_family(config, family):
    assert build_dir.soc_family(config) == family


def test_unknown_family_names_the_config(tmp_path):
    (tmp_path / "zephyr").mkdir()
    (tmp_path / "zephyr" / ".config").write_text('CONFIG_SOC="stm32wb55xx"\n')
    with pytest.raises(InputError, match=r"zephyr/\.config: no nRF SoC series found"):
        build_dir.build_family(tmp_path)


# --- pages and the runner itself ------------------------------------------------------

@pytest.mark.parametrize("segments, ranges", [
    ([(0xFB000, b"x")], [(0xFB000, 0xFC000)]),
    ([(0xFB000, b"x" * 0x1000)], [(0xFB000, 0xFC000)]),
    ([(0xFB000, b"x" * 0x1001)], [(0xFB000, 0xFD000)]),
    ([(0xFB000, b"x"), (0xFB800, b"y")], [(0xFB000, 0xFC000)]),
    ([(0xF0000, b"x"), (0xFB000, b"y")], [(0xF0000, 0xF1000), (0xFB000, 0xFC000)]),
])
def test_erase_ranges(segments, ranges):
    assert erase_ranges(segments) == ranges


def test_runner_dry_run_prints_quoted_and_runs_nothing():
    ui = RecordingUI()
    Runner(True, ui, which=lambda _: None).run(["nrfjprog", "--program", "a b.hex"])
    assert ui.lines == ["nrfjprog --program 'a b.hex'"]


def test_runner_require():
    runner = Runner(False, RecordingUI(), which=lambda p: "/opt/x/" + p if p == "nrfutil" else None)
    assert runner.require("nrfutil") == "/opt/x/nrfutil"
    with pytest.raises(MissingProgram, match="^nrfjprog not found on PATH; install nRF Command "
                                             "Line Tools or use --tool nrfutil$"):
        runner.require("nrfjprog")
    with pytest.raises(FileNotFoundError, match="STM32_Programmer_CLI not found on PATH"):
        runner.require("STM32_Programmer_CLI")
    assert Runner(True, RecordingUI(), which=lambda _: None).require("nrfjprog") == "nrfjprog"


def test_runner_runs_without_a_shell_and_reports_status():
    ui = RecordingUI(verbose=True)
    runner = Runner(False, ui)
    runner.run([sys.executable, "-c", "import sys; sys.exit(0)"])
    with pytest.raises(CommandFailed) as info:
        runner.run([sys.executable, "-c", "import sys; sys.exit(len(sys.argv[1]))", "a;b"])
    assert isinstance(info.value, FactoryDataError)
    assert info.value.returncode == 3
    assert str(info.value) == (f"command exited with status 3: {shlex.quote(sys.executable)} "
                               "-c 'import sys; sys.exit(len(sys.argv[1]))' 'a;b'")
    assert ui.lines[0].startswith("running: ")


# --- the nRF5340 network core ----------------------------------------------------------
#
# Addressed as the network coprocessor (nrfjprog --coprocessor CP_NETWORK, nrfutil --core
# Network), 2 KiB pages, its own flash 0x1000000..0x1040000; the reset stays a whole-device
# reset. NET_HEX: 2100 bytes at 0x103e800, i.e. two 2 KiB pages.

NET_LINES = [f"factory data: {NET_HEX} (2100 bytes at 0x103e800, nRF5340 network core)",
             "pages to erase: 0x103e800..0x103f7ff (2 pages of 2 KiB)"]


def _net_cases():
    hx = str(NET_HEX)
    for snr in (None, "683999535"):
        for reset in (True, False):
            sel = ["-f", "NRF53"] + (["--snr", snr] if snr else [])
            nrfjprog = [["nrfjprog", "--program", hx, "--sectorerase", "--verify", *sel,
                         "--coprocessor", "CP_NETWORK"]]
            if reset:
                nrfjprog.append(["nrfjprog", "--reset", *sel])
            yield Case("nrfjprog", snr, "NRF53", reset, nrfjprog)
            sel = (["--serial-number", snr] if snr else []) + ["--family", "nrf53"]
            nrfutil = [["nrfutil", "device", "program", "--firmware", hx, "--core", "Network",
                        "--options", OPTIONS, *sel]]
            if reset:
                nrfutil.append(["nrfutil", "device", "reset", *sel])
            yield Case("nrfutil", snr, "NRF53", reset, nrfutil)


NET_CASES = list(_net_cases())
NET_IDS = [f"{c.tool}-{'snr' if c.snr else 'nosnr'}-{'reset' if c.reset else 'noreset'}"
           for c in NET_CASES]


def _net_build_argv(case: Case, *extra):
    argv = ["flash", "-d", NET_BUILD, "--tool", case.tool, *extra]
    if case.snr:
        argv += ["--snr", case.snr]
    if not case.reset:
        argv.append("--no-reset")
    return argv


@pytest.mark.parametrize("case", NET_CASES, ids=NET_IDS)
def test_net_core_build_dry_run_prints_exact_commands(cli, case, empty_path):
    """A network core build (CONFIG_SOC_NRF5340_CPUNET=y) needs no option at all."""
    result = cli(*_net_build_argv(case, "--dry-run"))
    assert result.code == 0, result
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[:2] == NET_LINES
    assert [shlex.split(line) for line in lines[2:]] == case.expected


@pytest.mark.parametrize("case", NET_CASES, ids=NET_IDS)
def test_net_core_build_fake_tool_receives_exact_argv(cli, case, fake_tools):
    fake_tools.install(case.tool)
    result = cli(*_net_build_argv(case))
    assert result.code == 0, result
    assert fake_tools() == case.expected
    assert result.out.splitlines()[:2] == NET_LINES


def flash_args(**given) -> FlashRequest:
    """The flash command's typed request (``core`` included)."""
    return FlashRequest(**given)


@pytest.mark.parametrize("case", NET_CASES, ids=NET_IDS)
@pytest.mark.parametrize("core", ["net", "Network"])
def test_hex_with_core_net(case, core, fake_tools):
    """--hex FILE --core net: the same commands (family NRF53 implied), dry run and real."""
    fake_tools.install(case.tool)
    common = dict(hex=str(NET_HEX), tool=case.tool, snr=case.snr, no_reset=not case.reset,
                  core=core)
    ui = RecordingUI()
    assert flash_command(flash_args(dry_run=True, **common), ui) == 0
    assert ui.lines[:2] == NET_LINES
    assert [shlex.split(line) for line in ui.lines[2:]] == case.expected
    assert fake_tools() == []

    ui = RecordingUI()
    assert flash_command(flash_args(**common), ui) == 0
    assert fake_tools() == case.expected
    assert ui.lines[:2] == NET_LINES


def test_core_app_is_the_default_and_explicit(empty_path):
    for core in (None, "app", "application"):
        ui = RecordingUI()
        flash_command(flash_args(hex=str(PLAIN_HEX), tool="nrfjprog", family="NRF53",
                                 dry_run=True, no_reset=True, core=core), ui)
        assert ui.lines == [f"factory data: {PLAIN_HEX} (1367 bytes at 0xfb000)",
                            "pages to erase: 0xfb000..0xfbfff (1 page of 4 KiB)",
                            f"nrfjprog --program {PLAIN_HEX} --sectorerase --verify -f NRF53"]


@pytest.mark.parametrize("given, message", [
    (dict(hex=str(PLAIN_HEX), core="net"),
     f"{PLAIN_HEX}: data at 0xfb000 is outside the nRF5340 network core flash "
     "(0x1000000..0x1040000), but the network core was chosen (--core net); program it with "
     "--core app"),
    (dict(hex=str(NET_HEX), core="app", family="NRF53"),
     f"{NET_HEX}: data at 0x103e800 is in the nRF5340 network core flash (0x1000000..0x1040000); "
     "program it with --core net"),
    (dict(hex=str(NET_HEX)),  # no family, no core: the hint rather than a 4 KiB page error
     f"{NET_HEX}: data at 0x103e800 is in the nRF5340 network core flash (0x1000000..0x1040000); "
     "program it with --core net"),
    (dict(hex=str(NET_HEX), core="net", family="NRF52"),
     "only the nRF5340 (NRF53) has a network core, but the family is NRF52 (--core net); drop "
     "--core net or fix --family"),
    (dict(hex=str(NET_HEX), core="radio"),
     "--core radio: unknown core; give --core app (application core) or --core net (nRF5340 "
     "network core)"),
    (dict(build_dir=str(NET_BUILD), core="app"),
     f"{NET_HEX}: data at 0x103e800 is in the nRF5340 network core flash (0x1000000..0x1040000); "
     "program it with --core net"),
], ids=["app-hex-as-net", "net-hex-as-app", "net-hex-no-core", "net-on-nrf52", "unknown-core",
        "net-build-as-app"])
def test_core_errors(given, message, empty_path):
    with pytest.raises(InputError) as info:
        flash_command(flash_args(tool="nrfutil", dry_run=True, **given), RecordingUI())
    assert str(info.value) == message


def test_net_core_build_with_other_family_is_one_line(cli, empty_path):
    result = cli("flash", "-d", NET_BUILD, "--family", "NRF91", "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert result.err == ("error: only the nRF5340 (NRF53) has a network core, but the family "
                          f"is NRF91 ({NET_BUILD / 'zephyr' / '.config'}: "
                          "CONFIG_SOC_NRF5340_CPUNET=y); drop --core net or fix --family\n")


def test_core_option_on_the_command_line(cli, empty_path):
    """`flash --core net` as typed: the option is in the flash parser (a missing option is a
    failure here, not a skip)."""
    assert "--core {app,net}" in cli("flash", "--help").out
    result = cli("flash", "--hex", NET_HEX, "--core", "net", "--tool", "nrfjprog", "--dry-run",
                 "--no-reset")
    assert result.code == 0, result
    assert result.out.splitlines() == NET_LINES + [
        f"nrfjprog --program {NET_HEX} --sectorerase --verify -f NRF53 --coprocessor CP_NETWORK"]


def test_net_core_pages_are_2k():
    assert erase_ranges([(0x103E800, b"x")], 0x800) == [(0x103E800, 0x103F000)]
    assert erase_ranges([(0x103E800, b"x" * 0x801)], 0x800) == [(0x103E800, 0x103F800)]
    assert erase_ranges([(0x1000000, b"x"), (0x1000900, b"y")], 0x800) == \
        [(0x1000000, 0x1001000)]


@pytest.mark.parametrize("config, net", [
    ({"CONFIG_SOC": "nrf5340", "CONFIG_SOC_NRF5340_CPUNET": "y"}, True),  # HWMv2
    ({"CONFIG_SOC": "nRF5340_CPUNET_QKAA", "CONFIG_SOC_NRF5340_CPUNET_QKAA": "y"}, True),
    ({"CONFIG_SOC": "nrf5340_cpunet"}, True),
    ({"CONFIG_SOC": "nrf5340", "CONFIG_SOC_NRF5340_CPUAPP": "y",
      "CONFIG_SOC_NRF5340_CPUNET": "n"}, False),
    ({"CONFIG_SOC": "nrf5340_cpuapp"}, False),
    ({"CONFIG_SOC": "nrf52840"}, False),
])
def test_is_net_core_build(config, net):
    assert is_net_core_build(config) is net
    if config["CONFIG_SOC"].lower().startswith("nrf53"):
        assert build_dir.soc_family(config) == "NRF53"  # the family is NRF53 for both cores


# --- only factory data, never UICR (issue #9) -------------------------------------------

def _hex(tmp_path, name, blocks):
    from intelhex import IntelHex

    image = IntelHex()
    for address, data in blocks:
        image.frombytes(data, offset=address)
    path = tmp_path / name
    image.write_hex_file(str(path))
    return path


GOLDEN_BIN = REPO_ROOT / "tests" / "data" / "golden" / "factory_data.bin"


@pytest.mark.parametrize("blocks, message", [
    ([(0x0, b"\x00\x00\x04\x20" + bytes(60)), (0xF7000, b"\xb0\x00")],
     "2 separate blocks (0x0..0x40, 0xf7000..0xf7002), not one factory data image"),
    ([(0x0, b"\x00\x00\x04\x20" + bytes(0x2000))],
     "the data at 0x0 is not complete factory data as the device reads it: the image does "
     "not start with a CBOR map (first byte 0x00, an unsigned integer)"),
    # issue #14: an initial stack pointer whose low byte is 0xB0 reads as a CBOR map(16)
    ([(0x0, b"\xb0\xff\x03\x20\x99\x01\x00\x00" + bytes(0x2000))],
     "the data at 0x0 looks like a firmware image (vector table: SP 0x2003ffb0, reset "
     "0x00000199), not factory data"),
    ([(0x0, b"\x00\x00\x04\x20\xd5\x12\x00\x00" + bytes(0x2000))],
     "the data at 0x0 looks like a firmware image (vector table: SP 0x20040000, reset "
     "0x000012d5)"),
    ([(0xF7000, b"\xa0\x00")], "the data at 0xf7000 is not complete factory data as the "
                                "device reads it: key 'version': mandatory key is missing"),
    ([(0xF7000, GOLDEN_BIN.read_bytes()[:700])], "the data at 0xf7000 is not complete factory "
                                                 "data as the device reads it: the map is cut "
                                                 "off or malformed"),
    ([(0x10001000, b"\xb0\x00")], "data at 0x10001000 is outside the code flash (UICR/FICR"),
    ([(0x00FF8000, b"\xb0\x00")], "data at 0xff8000 is outside the code flash (UICR/FICR"),
    ([(0xF7000, b"\xb0\x00"), (0x10001208, b"\x00\x00\x00\x00")],
     "data at 0x10001208 is outside the code flash (UICR/FICR"),
    ([(0x20000, b"\xb0" + bytes(0x10000))],
     "65537 bytes at 0x20000, more than a factory data partition holds"),
], ids=["firmware-and-data", "firmware", "firmware-sp-like-a-map", "firmware-vector-table",
        "empty-map", "cut-off", "uicr-nrf52", "uicr-nrf53", "data-plus-uicr",
        "too-big"])
def test_refuses_what_is_not_factory_data(cli, tmp_path, fake_tools, blocks, message):
    fake_tools.install("nrfutil", "nrfjprog")
    path = _hex(tmp_path, "image.hex", blocks)
    before = path.read_bytes()
    for tool in ("nrfutil", "nrfjprog"):
        result = cli("flash", "--hex", path, "--tool", tool, "--family", "NRF52")
        assert (result.code, result.out) == (2, ""), result
        assert result.err.startswith(f"error: {path}: {message}"), result.err
        assert result.err.count("\n") == 1
    assert fake_tools() == []  # nothing ran
    assert path.read_bytes() == before


def test_build_dir_hex_must_be_in_the_build_partition(cli, tmp_path, fake_tools):
    """-d BUILD: the hex must lie in the partition the build recorded (here pm_static.yml at
    0xf7000), not merely look like factory data."""
    fake_tools.install("nrfutil")
    build = tmp_path / "build"
    shutil.copytree(BUILDS / "plain", build)
    layout = tmp_path / "pm_static.yml"
    layout.write_text("factory_data: {address: 0xf7000, size: 0x1000}\n")
    step = {"argv": ["--dotconfig", str(build / "zephyr" / ".config"), "--out-dir",
                     str(build / "zephyr"), "--pm-static", str(layout)]}
    (build / "zephyr" / "factory_data_step.json").write_text(json.dumps(step))
    result = cli("flash", "-d", build)
    assert (result.code, result.out) == (2, ""), result
    assert result.err == (f"error: {build / 'zephyr' / 'factory_data.hex'}: data at "
                          f"0xfb000..0xfb557 is not in the factory_data partition "
                          f"0xf7000..0xf8000 ({layout}); regenerate it for this build\n")
    assert fake_tools() == []
    layout.write_text("factory_data: {address: 0xfb000, size: 0x1000}\n")
    assert cli("flash", "-d", build).code == 0
    assert [c[:3] for c in fake_tools()] == [["nrfutil", "device", "program"],
                                             ["nrfutil", "device", "reset"]]


def test_golden_image_is_accepted(cli, tmp_path, empty_path):
    path = _hex(tmp_path, "fd.hex", [(0xF7000, GOLDEN_BIN.read_bytes())])
    result = cli("flash", "--hex", path, "--family", "NRF54L", "--dry-run")
    assert result.code == 0, result
    assert shlex.split(result.out.splitlines()[2]) == [
        "nrfutil", "device", "program", "--firmware", str(path), "--options", OPTIONS,
        "--family", "nrf54l"]
