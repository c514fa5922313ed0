"""`menuconfig`: a build's .config (only changed factory data lines), a .conf fragment,
--set validation, the swappable editor, and kconfiglib's real curses UI under a pty."""

import argparse
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, snapshot

from matter_factory_data.cli import app as cli_module
from matter_factory_data.errors import InputError
from matter_factory_data.zephyr import menuconfig as mc

CONFIGURED = REPO_ROOT / "tests" / "data" / "builds" / "configured"
SN_LINE = 'CONFIG_CHIP_DEVICE_SERIAL_NUMBER="SN-FROM-CMDLINE"\n'


class RecordingUI:
    def __init__(self):
        self.out, self.warnings = [], []

    def info(self, message):
        self.out.append(message)

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def build(tmp_path):
    """A copy of tests/data/builds/configured at ./build (the cwd of every test)."""
    target = tmp_path / "build"
    shutil.copytree(CONFIGURED, target)
    return target


def dotconfig(build: Path) -> list:
    return (build / "zephyr" / ".config").read_text().splitlines(keepends=True)


def parse(*argv):
    return cli_module.build_parser(["menuconfig"]).parse_args(["menuconfig", *map(str, argv)])


def run_with(editor, *argv):
    ui = RecordingUI()
    code = mc.menuconfig_command(parse(*argv), ui, edit=editor)
    return code, ui


def setter(**values):
    """A fake editor: sets ``values`` through kconfiglib as the UI would, then saves."""
    def edit(kconf):
        for name, value in values.items():
            assert kconf.syms[name].set_value(value), name
        return True

    return edit


# --- a build directory ----------------------------------------------------------------

def test_set_changes_only_the_changed_lines(cli, build):
    before = dotconfig(build)
    result = cli("menuconfig", "-d", build, "--set", "CHIP_DEVICE_VENDOR_ID=0xFFF2",
                 "--set", "CONFIG_CHIP_DEVICE_PRODUCT_NAME=\"Lamp \\\"A\\\"\"",
                 "--set", "CHIP_FACTORY_DATA_GENERATE_CD=y")
    assert result.code == 0, result
    after = dotconfig(build)
    changed = {i: line for i, line in enumerate(after) if line != before[i]}
    assert len(after) == len(before)
    assert sorted(changed.values()) == sorted([
        "CONFIG_CHIP_DEVICE_VENDOR_ID=65522\n",
        'CONFIG_CHIP_DEVICE_PRODUCT_NAME="Lamp \\"A\\""\n',
        "CONFIG_CHIP_FACTORY_DATA_GENERATE_CD=y\n"])
    config = build / "zephyr" / ".config"
    assert result.out.splitlines() == [
        f"{config}: CONFIG_CHIP_FACTORY_DATA_GENERATE_CD: n -> y",
        f"{config}: CONFIG_CHIP_DEVICE_VENDOR_ID: 65521 -> 65522",
        f'{config}: CONFIG_CHIP_DEVICE_PRODUCT_NAME: "not-specified" -> "Lamp \\"A\\""',
        f"the next `west build -d {build}` applies it"]
    assert result.err == ""


def test_dependents_are_written_and_unknown_symbols_kept(cli, build):
    before = dotconfig(build)
    uid = "00112233445566778899aabbccddeeff"
    result = cli("menuconfig", "--set", f"CHIP_DEVICE_ROTATING_DEVICE_UID={uid}",
                 "--set", "CHIP_DEVICE_GENERATE_ROTATING_DEVICE_UID=n",
                 "--set", "CHIP_ROTATING_DEVICE_ID=y")  # ./build found; any order works
    assert result.code == 0, result
    after = dotconfig(build)
    assert after[:after.index("CONFIG_CHIP_ROTATING_DEVICE_ID=y\n")] == \
        before[:before.index("# CONFIG_CHIP_ROTATING_DEVICE_ID is not set\n")]
    assert after[-2:] == ["# CONFIG_CHIP_DEVICE_GENERATE_ROTATING_DEVICE_UID is not set\n",
                          f'CONFIG_CHIP_DEVICE_ROTATING_DEVICE_UID="{uid}"\n']
    for line in ("CONFIG_ZEPHYR_MATTER_FACTORY_DATA_MODULE=y\n", "CONFIG_MAIN_STACK_SIZE=4096\n",
                 "# CONFIG_INPUT is not set\n", "CONFIG_FLASH_SIZE=1024\n"):
        assert line in after


def test_sticky_cmake_value_gets_a_warning(cli, build):
    result = cli("menuconfig", "-d", build, "--set", "CHIP_DEVICE_SERIAL_NUMBER=SN-2",
                 "--set", "CHIP_DEVICE_HARDWARE_VERSION=3")
    assert result.code == 0, result
    assert result.err == (
        "warning: CONFIG_CHIP_DEVICE_SERIAL_NUMBER was given on the CMake command line "
        "(-DCONFIG_CHIP_DEVICE_SERIAL_NUMBER, kept in CMakeCache.txt) and that value overrides "
        f".config: change it with `west build -d {build} -- "
        "-DCONFIG_CHIP_DEVICE_SERIAL_NUMBER=...` instead\n")


def test_sysbuild_edits_the_default_image(cli, tmp_path):
    top = tmp_path / "build"
    shutil.copytree(CONFIGURED, top / "matter_app")
    (top / "CMakeCache.txt").write_text("ZEPHYR_BASE:PATH=/z\n"
                                        "matter_app_CONFIG_CHIP_DEVICE_PRODUCT_ID:STRING=5\n"
                                        "mcuboot_CONFIG_CHIP_DEVICE_VENDOR_ID:STRING=5\n")
    (top / "domains.yaml").write_text("default: matter_app\ndomains:\n- name: matter_app\n"
                                      "  build_dir: /gone/matter_app\n")
    (top / "zephyr").mkdir()
    (top / "zephyr" / ".config").write_text("SB_CONFIG_PARTITION_MANAGER=y\n")
    result = cli("menuconfig", "-d", top, "--set", "CHIP_DEVICE_PRODUCT_ID=6",
                 "--set", "CHIP_DEVICE_VENDOR_ID=7")
    assert result.code == 0, result
    assert "CONFIG_CHIP_DEVICE_PRODUCT_ID=6\n" in dotconfig(top / "matter_app")
    assert (top / "zephyr" / ".config").read_text() == "SB_CONFIG_PARTITION_MANAGER=y\n"
    warnings = result.err.splitlines()
    assert len(warnings) == 1 and "CONFIG_CHIP_DEVICE_PRODUCT_ID was given" in warnings[0]


def test_fake_editor_result_is_written(build):
    code, ui = run_with(setter(CHIP_DEVICE_DISCRIMINATOR="0xabc",
                               CHIP_FACTORY_DATA_CERT_SOURCE_GENERATED="y"), "-d", build)
    assert code == 0
    lines = dotconfig(build)
    assert "CONFIG_CHIP_DEVICE_DISCRIMINATOR=0xabc\n" in lines
    assert "CONFIG_CHIP_FACTORY_DATA_CERT_SOURCE_GENERATED=y\n" in lines
    assert "# CONFIG_CHIP_FACTORY_DATA_USE_DEFAULT_CERTS is not set\n" in lines
    assert ui.out[-1] == f"the next `west build -d {build}` applies it"


def test_editor_that_does_not_save_writes_nothing(build):
    def discard(kconf):
        kconf.syms["CHIP_DEVICE_VENDOR_ID"].set_value("1")
        return False

    before = snapshot(build)
    code, ui = run_with(discard, "-d", build)
    assert code == 0
    assert ui.out == [f"nothing saved; {build / 'zephyr' / '.config'} left as it was"]
    assert snapshot(build) == before


def test_saving_without_change_writes_nothing(build):
    before = snapshot(build)
    code, ui = run_with(setter(CHIP_DEVICE_VENDOR_ID="65521"), "-d", build)
    assert code == 0
    assert ui.out == [f"no factory data symbol changed; {build / 'zephyr' / '.config'} "
                      "left as it was"]
    assert snapshot(build) == before


def test_editor_sees_the_builds_values_and_soc(tmp_path):
    build = tmp_path / "build"
    shutil.copytree(CONFIGURED, build)
    config = build / "zephyr" / ".config"
    config.write_text(config.read_text().replace("CONFIG_SOC_SERIES_NRF52X=y",
                                                 "CONFIG_SOC_SERIES_NRF54LX=y"))
    seen = {}

    def look(kconf):
        seen["sn"] = kconf.syms["CHIP_DEVICE_SERIAL_NUMBER"].str_value
        seen["wp"] = kconf.syms["CHIP_FACTORY_DATA_WRITE_PROTECT"].visibility
        seen["title"] = kconf.mainmenu_text
        return False

    run_with(look, "-d", build)
    assert seen == {"sn": "SN-FROM-CMDLINE", "wp": 0,  # nRF54L: no write protection
                    "title": f"Matter factory data: {config}"}


def test_build_warnings_only_for_factory_data_symbols(build):
    config = build / "zephyr" / ".config"
    config.write_text(config.read_text().replace("CONFIG_CHIP_DEVICE_PRODUCT_ID=32768",
                                                 "CONFIG_CHIP_DEVICE_PRODUCT_ID=lots")
                      + "CONFIG_OTHER_THING=whatever\nCONFIG_OTHER_THING=twice\n"
                      + "CONFIG_CHIP_DEVICE_VENDOR_ID=1\n")
    code, ui = run_with(lambda kconf: False, "-d", build)
    assert code == 0
    assert len(ui.warnings) == 2
    assert ui.warnings[0].startswith(f"{config}: the value 'lots' is invalid for "
                                     "CHIP_DEVICE_PRODUCT_ID")
    assert ui.warnings[1].startswith(f"{config}:50: CHIP_DEVICE_VENDOR_ID (defined at ")
    assert ui.warnings[1].endswith('set more than once. Old value "65521", new value "1".')


def test_build_without_dotconfig(cli, tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "CMakeCache.txt").write_text("ZEPHYR_BASE:PATH=/z\n")
    result = cli("menuconfig", "--set", "CHIP_DEVICE_VENDOR_ID=1")
    assert result.code == 2
    assert result.err == (f"error: {Path('build') / 'zephyr' / '.config'}: no such file; the "
                          "build was never configured (run west build first)\n")
    assert cli("menuconfig", "-d", "--set", "X=1", "--conf", "a.conf").code == 2


# --- --set validation ------------------------------------------------------------------

SET_ERRORS = [
    ("CHIP_DEVICE_VENDORID=1", "CHIP_DEVICE_VENDORID is not a factory data symbol (did you "
                               "mean CHIP_DEVICE_VENDOR_ID?)"),
    ("CONFIG_SOC=nrf52840", "SOC is not a factory data symbol (accepted: CHIP_FACTORY_DATA, "
                            "CHIP_FACTORY_DATA_BUILD, "),
    ("CHIP_FACTORY_DATA_VERSION=2", "CHIP_FACTORY_DATA_VERSION has no prompt and cannot be set "
                                    "(it is 1)"),
    ("CHIP_FACTORY_DATA_BUILD=yes", "CHIP_FACTORY_DATA_BUILD is a bool (accepted: y or n)"),
    ("CHIP_DEVICE_VENDOR_ID=ten", "CHIP_DEVICE_VENDOR_ID is an int (accepted: an integer "
                                  "(decimal or 0x..) in 0..65535)"),
    ("CHIP_DEVICE_DISCRIMINATOR=0xg", "CHIP_DEVICE_DISCRIMINATOR is a hex (accepted: a hex "
                                      "number (0x.. or bare hex digits) in 0..0xFFF)"),
    ("CHIP_DEVICE_SPAKE2_PASSCODE=99999999", "CHIP_DEVICE_SPAKE2_PASSCODE is out of range "
                                             "(accepted: 1..99999998)"),
    ("CHIP_DEVICE_DISCRIMINATOR=1000", "CHIP_DEVICE_DISCRIMINATOR is out of range (accepted: "
                                       "0..0xFFF)"),
    ("CHIP_DEVICE_ROTATING_DEVICE_UID=00", "not applied: CHIP_DEVICE_ROTATING_DEVICE_UID "
                                           "depends on CHIP_ROTATING_DEVICE_ID, which is not met"),
    ("CHIP_FACTORY_DATA_USE_DEFAULT_CERTS=n",
     "CHIP_FACTORY_DATA_USE_DEFAULT_CERTS is part of the choice CHIP_FACTORY_DATA_CERT_SOURCE: "
     "select another of it instead (CHIP_FACTORY_DATA_CERT_SOURCE_GENERATED=y or "
     "CHIP_FACTORY_DATA_CERT_SOURCE_USER=y)"),
    ("CHIP_DEVICE_VENDOR_ID", "expected SYMBOL=VALUE"),
    ("=5", "expected SYMBOL=VALUE"),
]


@pytest.mark.parametrize("assignment, message", SET_ERRORS, ids=[a for a, _ in SET_ERRORS])
def test_set_refusals_are_one_line_and_write_nothing(cli, build, assignment, message):
    before = snapshot(build)
    result = cli("menuconfig", "-d", build, "--set", "CHIP_DEVICE_VENDOR_ID=2",
                 "--set", assignment)
    assert result.code == 2
    assert result.out == ""
    shown = assignment.replace("=99999999", "=(not shown)")  # the passcode is not printed
    assert result.err.startswith(f"error: --set {shown}: {message}"), result.err
    assert "99999999" not in result.err
    assert len(result.err.splitlines()) == 1
    assert snapshot(build) == before


@pytest.mark.parametrize("value, line", [
    ("0x10", "CONFIG_CHIP_DEVICE_PRODUCT_ID=16"), ("42", "CONFIG_CHIP_DEVICE_PRODUCT_ID=42"),
], ids=["hex-spelling", "decimal"])
def test_set_int_spellings(cli, build, value, line):
    assert cli("menuconfig", "-d", build, "--set", f"CHIP_DEVICE_PRODUCT_ID={value}").code == 0
    assert line + "\n" in dotconfig(build)


@pytest.mark.parametrize("value", ["F01", "0xF01", "0xf01"])
def test_set_hex_spellings(cli, build, value):
    assert cli("menuconfig", "-d", build, "--set", f"CHIP_DEVICE_DISCRIMINATOR={value}").code == 0
    assert "CONFIG_CHIP_DEVICE_DISCRIMINATOR=0xf01\n" in dotconfig(build)


def test_no_terminal_and_no_set_is_refused(cli, build):
    before = snapshot(build)
    result = cli("menuconfig", "-d", build)
    assert result.code == 2
    assert result.err == ("error: menuconfig needs a terminal (stdin and stdout are not both "
                          "one); set values without the UI with --set SYMBOL=VALUE\n")
    assert snapshot(build) == before


# --- a .conf fragment ----------------------------------------------------------------------

def test_fragment_holds_only_values_that_differ_from_the_defaults(cli, tmp_path):
    result = cli("menuconfig", "--set", "CHIP_FACTORY_DATA_BUILD=y",
                 "--set", "CHIP_DEVICE_SERIAL_NUMBER=A-1", "--set", "CHIP_DEVICE_VENDOR_ID=65521",
                 "--set", "CHIP_FACTORY_DATA_WRITE_PROTECT=n")  # no build here: the default file
    assert result.code == 0, result
    conf = tmp_path / "factory_data.conf"
    assert conf.read_text() == mc.FRAGMENT_HEADER + (
        "CONFIG_CHIP_FACTORY_DATA_BUILD=y\n"
        "# CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT is not set\n"
        'CONFIG_CHIP_DEVICE_SERIAL_NUMBER="A-1"\n')
    assert result.out.splitlines()[-1] == (
        "wrote factory_data.conf (3 symbols differ from the defaults); use it with: "
        f"west build -b <board> <app> -- -DEXTRA_CONF_FILE={conf}")


def test_fragment_round_trip_and_back_to_default(cli, tmp_path):
    conf = tmp_path / "fd.conf"
    assert cli("menuconfig", "--conf", conf, "--set", "CHIP_DEVICE_PRODUCT_ID=7",
               "--set", "CHIP_DEVICE_HARDWARE_VERSION=2").code == 0
    result = cli("menuconfig", "--conf", conf, "--set", "CHIP_DEVICE_HARDWARE_VERSION=0")
    assert result.code == 0, result
    assert conf.read_text() == mc.FRAGMENT_HEADER + "CONFIG_CHIP_DEVICE_PRODUCT_ID=7\n"
    assert result.out.splitlines()[0] == \
        f"{conf}: CONFIG_CHIP_DEVICE_HARDWARE_VERSION: 2 -> default"
    again = cli("menuconfig", "--conf", conf, "--set", "CHIP_DEVICE_PRODUCT_ID=7")
    assert again.out == f"{conf} unchanged\n"


def test_fragment_with_other_symbols_is_refused(cli, tmp_path):
    conf = tmp_path / "prj.conf"
    conf.write_text("CONFIG_CHIP_DEVICE_PRODUCT_ID=7\nCONFIG_LOG=y\n")
    result = cli("menuconfig", "--conf", conf, "--set", "CHIP_DEVICE_PRODUCT_ID=8")
    assert result.code == 2
    assert result.err == (f"error: --conf {conf}: holds CONFIG_LOG, not a factory data symbol; "
                          "this command rewrites the file with factory data symbols only: give "
                          "a separate file\n")
    assert conf.read_text() == "CONFIG_CHIP_DEVICE_PRODUCT_ID=7\nCONFIG_LOG=y\n"


def test_fragment_warnings_are_forwarded(tmp_path):
    conf = tmp_path / "fd.conf"
    conf.write_text("CONFIG_CHIP_DEVICE_PRODUCT_ID=0x7\n")
    code, ui = run_with(setter(), "--conf", conf)
    assert code == 0
    assert [w.split(": ", 1)[1][:22] for w in ui.warnings] == ["the value '0x7' is inv"]


def test_fragment_not_saved_is_not_created(tmp_path):
    code, ui = run_with(lambda kconf: False, "--conf", tmp_path / "new.conf")
    assert code == 0
    assert ui.out == [f"nothing saved; {tmp_path / 'new.conf'} not written"]
    assert not (tmp_path / "new.conf").exists()


def test_kconfig_not_found(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(mc, "KCONFIG_CANDIDATES", (tmp_path / "a", tmp_path / "b"))
    result = cli("menuconfig", "--set", "CHIP_DEVICE_PRODUCT_ID=7")
    assert result.code == 2
    assert result.err == ("error: the factory data Kconfig is not installed (tried "
                          f"{tmp_path / 'a'}, {tmp_path / 'b'}); give --kconfig "
                          "<module>/kconfig/Kconfig\n")
    assert cli("menuconfig", "--kconfig", "nope", "--set", "X=1").err == \
        "error: --kconfig nope: no such file\n"
    alt = tmp_path / "Kconfig"
    shutil.copy(REPO_ROOT / "kconfig" / "Kconfig", alt)
    assert cli("menuconfig", "--kconfig", alt, "--set", "CHIP_DEVICE_PRODUCT_ID=7").code == 0


# --- units ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, lines, expected", [
    ("A=1\nCONFIG_X=1\nB\n", {"X": "CONFIG_X=2\n"}, "A=1\nCONFIG_X=2\nB\n"),
    ("# CONFIG_X is not set\n", {"X": "CONFIG_X=y\n"}, "CONFIG_X=y\n"),
    ("CONFIG_X=y\nCONFIG_XY=1\n", {"X": "# CONFIG_X is not set\n"},
     "# CONFIG_X is not set\nCONFIG_XY=1\n"),
    ("CONFIG_X=1\nCONFIG_Y=1\n", {"X": ""}, "CONFIG_Y=1\n"),
    ("CONFIG_Y=1", {"X": "CONFIG_X=1\n"}, "CONFIG_Y=1\nCONFIG_X=1\n"),
    ("CONFIG_X=1\r\nCONFIG_X=3\n", {"X": "CONFIG_X=2\n"}, "CONFIG_X=2\n"),
    ("#CONFIG_X=1\n  CONFIG_X=1\n", {"X": "CONFIG_X=2\n"},
     "#CONFIG_X=1\n  CONFIG_X=1\nCONFIG_X=2\n"),
], ids=["replace", "unset-to-set", "prefix-name-kept", "remove", "append-no-newline",
        "duplicates", "not-assignments"])
def test_rewrite_dotconfig(text, lines, expected):
    assert mc.rewrite_dotconfig(text, lines) == expected


def test_terminal_edit_keeps_what_was_saved(monkeypatch):
    """The real editor with kconfiglib's module replaced: it loads KCONFIG_CONFIG, the user
    changes two values but saves after the first only."""
    import types

    loaded = mc.load_kconfig(mc.kconfig_path(), "t")
    kconf = loaded.kconf
    seen = {}

    def fake_menuconfig(k):
        seen["loaded"] = k.load_config()  # as kconfiglib's menuconfig does
        k.syms["CHIP_DEVICE_PRODUCT_ID"].set_value("9")
        k.write_config(os.environ["KCONFIG_CONFIG"])  # 'S' + Enter
        k.syms["CHIP_DEVICE_VENDOR_ID"].set_value("9")  # then quit without saving
        print("Configuration saved to somewhere")

    monkeypatch.setitem(sys.modules, "menuconfig",
                        types.SimpleNamespace(menuconfig=fake_menuconfig))
    monkeypatch.setenv("KCONFIG_CONFIG", "outer")
    assert mc.terminal_edit(kconf) is True
    assert "factory_data.config" in seen["loaded"]
    assert kconf.syms["CHIP_DEVICE_PRODUCT_ID"].str_value == "9"
    assert kconf.syms["CHIP_DEVICE_VENDOR_ID"].str_value == "65521"
    assert os.environ["KCONFIG_CONFIG"] == "outer"

    monkeypatch.setitem(sys.modules, "menuconfig",
                        types.SimpleNamespace(menuconfig=lambda k: None))
    assert mc.terminal_edit(kconf) is False


# --- the real curses UI ---------------------------------------------------------------------

def _curses_ok() -> bool:
    try:
        import curses

        curses.setupterm("xterm", sys.__stdout__.fileno() if sys.__stdout__ else 1)
        return True
    except Exception:
        return False


@pytest.mark.skipif(sys.platform == "win32" or not _curses_ok(),
                    reason="curses (and a pty) are needed")
def test_real_menuconfig_under_a_pty(tmp_path):
    """Enter the menu, 'y' on its first entry (CHIP_FACTORY_DATA), 'S' + Enter to save,
    Enter to close the message, 'Q' to quit: the fragment holds CONFIG_CHIP_FACTORY_DATA=y."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    conf = tmp_path / "ui.conf"
    env = dict(os.environ, TERM="xterm", PYTHONPATH=str(REPO_ROOT / "west_ext"))
    env.pop("KCONFIG_CONFIG", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the pty
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "matter_factory_data", "menuconfig",
                                   "--conf", str(conf)], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    screen = bytearray()

    def read_until(marker: bytes, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while marker not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    screen.extend(os.read(fd, 65536))
                except OSError:
                    break
        assert marker in screen, bytes(screen[-2000:])

    def settle(quiet: float = 0.4, limit: float = 5) -> None:
        """Read until the UI has been quiet for ``quiet`` seconds (curses redraws by diff,
        so the screen text cannot be waited for piece by piece)."""
        deadline, last = time.monotonic() + limit, time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                screen.extend(chunk)
                last = time.monotonic()

    status = None
    try:
        read_until(b"Matter factory data")
        settle()
        for keys in (b"\n", b"y", b"S", b"\n", b"\n", b"Q"):
            os.write(fd, keys)
            settle()
        read_until(b"use it with")
        deadline = time.monotonic() + 15
        while status is None and time.monotonic() < deadline:  # never block forever
            settle(quiet=0.1, limit=0.2)
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        assert status is not None, "menuconfig did not exit: " + repr(bytes(screen[-500:]))
    finally:
        if status is None:  # stuck in the UI: end the child this test started
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.WEXITSTATUS(status) == 0, bytes(screen)
    assert conf.read_text() == mc.FRAGMENT_HEADER + "CONFIG_CHIP_FACTORY_DATA=y\n"
    assert f"{conf}: CONFIG_CHIP_FACTORY_DATA: default -> y".encode() in screen


def test_parser_synopsis():
    parser = cli_module.build_parser(["menuconfig"])
    args = parser.parse_args(["menuconfig", "--set", "A=1", "--set", "B=2"])
    assert (args.set, args.conf, args.build_dir) == (["A=1", "B=2"], None, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["menuconfig", "-d", "b", "--conf", "x"])
    assert isinstance(parse("-d"), argparse.Namespace)
    with pytest.raises(InputError):
        mc.kconfig_path("does-not-exist")
