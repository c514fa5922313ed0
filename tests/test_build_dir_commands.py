"""`generate -d` and `show -d` on west build directories (plain and sysbuild), and one
`west factory-data` run of each build-directory command added with them.

The build directories are made in tmp_path the way the CMake module leaves them:
``zephyr/.config``, ``zephyr/zephyr.hex`` and ``zephyr/factory_data_step.json`` holding the
build-step arguments (absolute paths).
"""

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT, snapshot

PM_STATIC = REPO_ROOT / "tests" / "data" / "layout" / "nrf52840_pm_static.yml"
FD_ADDRESS, FD_SIZE = 0xFB000, 0x1000  # the factory_data partition of PM_STATIC

DOTCONFIG = """\
CONFIG_SOC_SERIES_NRF52X=y
CONFIG_SOC="nrf52840"
CONFIG_CHIP_FACTORY_DATA=y
CONFIG_CHIP_FACTORY_DATA_BUILD=y
CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE=y
CONFIG_CHIP_FACTORY_DATA_GENERATE_ONBOARDING_CODES=y
CONFIG_CHIP_FACTORY_DATA_USE_DEFAULT_CERTS=y
CONFIG_CHIP_FACTORY_DATA_GENERATE_SPAKE2_VERIFIER=y
CONFIG_CHIP_DEVICE_DISCRIMINATOR=0xabc
CONFIG_CHIP_DEVICE_SERIAL_NUMBER="BUILD-DIR-SN"
"""

#: What the build step writes and `generate -d` must write again.
STEP_OUTPUTS = ("factory_data.hex", "factory_data.bin", "factory_data.json", "factory_data.txt",
                "merged.hex")


def write_firmware(path: Path, segments=((0x0, 0x400),), start=0x100) -> Path:
    """A firmware hex with ``size`` bytes at each ``address`` (and a start address record)."""
    from intelhex import IntelHex

    image = IntelHex()
    for address, size in segments:
        image.frombytes(bytes((address + i) & 0xFF for i in range(size)), offset=address)
    if start is not None:
        image.start_addr = {"EIP": start}
    path.parent.mkdir(parents=True, exist_ok=True)
    image.write_hex_file(str(path))
    return path


def step_argv(app: Path) -> list:
    zephyr = app / "zephyr"
    return ["--dotconfig", str(zephyr / ".config"), "--out-dir", str(zephyr),
            "--pm-static", str(PM_STATIC), "--firmware-hex", str(zephyr / "zephyr.hex"),
            "--merged-hex", str(zephyr / "merged.hex")]


def make_build(root: Path, *, sysbuild: bool = False, step: bool = True,
               config: str = DOTCONFIG) -> tuple:
    """A configured (not yet built) west build directory; returns (build dir, app build dir)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "CMakeCache.txt").write_text("CMAKE_GENERATOR:INTERNAL=Ninja\n"
                                         "ZEPHYR_BASE:PATH=/home/user/ncs/zephyr\n")
    app = root
    if sysbuild:
        app = root / "light_switch"
        (root / "domains.yaml").write_text(
            "default: light_switch\nbuild_dir: /elsewhere/build\ndomains:\n"
            "- name: mcuboot\n  build_dir: /elsewhere/build/mcuboot\n"
            "- name: light_switch\n  build_dir: /elsewhere/build/light_switch\n")
        (root / "mcuboot" / "zephyr").mkdir(parents=True)
        (root / "mcuboot" / "zephyr" / "factory_data.hex").write_text(":00000001FF\n")
        (root / "zephyr").mkdir()
        (root / "zephyr" / ".config").write_text("SB_CONFIG_PARTITION_MANAGER=y\n")
        (app / "zephyr").mkdir(parents=True)
        (app / "CMakeCache.txt").write_text("ZEPHYR_BASE:PATH=/home/user/ncs/zephyr\n")
    (app / "zephyr").mkdir(parents=True, exist_ok=True)
    (app / "zephyr" / ".config").write_text(config)
    write_firmware(app / "zephyr" / "zephyr.hex")
    if step:
        (app / "zephyr" / "factory_data_step.json").write_text(json.dumps({"argv": step_argv(app)}))
    return root, app


def outputs_of(app: Path) -> dict:
    return {name: (app / "zephyr" / name).read_bytes() for name in STEP_OUTPUTS}


# --- generate -d -----------------------------------------------------------------------

@pytest.mark.parametrize("sysbuild", [False, True], ids=["plain", "sysbuild"])
def test_generate_d_writes_what_the_build_step_writes(cli, tmp_path, sysbuild):
    build, app = make_build(tmp_path / "build", sysbuild=sysbuild)
    first = cli("build-step", *step_argv(app))  # what the build ran
    assert first.code == 0, first
    built = outputs_of(app)
    for name in STEP_OUTPUTS:
        (app / "zephyr" / name).unlink()

    result = cli("generate", "-d", build)

    assert result.code == 0, result
    assert result.err == ""
    assert result.out == first.out  # the build step's own report
    assert outputs_of(app) == built  # same files, same bytes (the kept identity is reused)
    data = json.loads((app / "zephyr" / "factory_data.json").read_text())
    assert (data["sn"], data["discriminator"]) == ("BUILD-DIR-SN", 0xABC)


def test_bare_d_finds_build_in_the_current_directory(cli, tmp_path, monkeypatch):
    _, app = make_build(tmp_path / "proj" / "build")
    monkeypatch.chdir(tmp_path / "proj")
    result = cli("generate", "-d")
    assert result.code == 0, result
    assert (app / "zephyr" / "merged.hex").is_file()


def test_generate_d_verbose_prints_the_recorded_command(cli, tmp_path):
    build, app = make_build(tmp_path / "build")
    result = cli("generate", "-d", build, "-v")
    assert result.code == 0, result
    assert result.out.splitlines()[0] == "build-step " + " ".join(step_argv(app))


def test_generate_d_without_step_file_says_how_to_enable_it(cli, tmp_path):
    build, app = make_build(tmp_path / "build", step=False)
    before = snapshot(build)
    result = cli("generate", "-d", build)
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.splitlines()) == 1
    assert str(app / "zephyr" / "factory_data_step.json") in result.err
    assert "CONFIG_CHIP_FACTORY_DATA_BUILD=y" in result.err
    assert "older matter-factory-data module" in result.err
    assert snapshot(build) == before


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not a factory data step file"),
    ('{"argv": ["--dotconfig", "x"], "argv": []}', "not a factory data step file (not valid "
                                                  "JSON (key 'argv' appears twice in an "
                                                  "object)); reconfigure the build"),
    ('{"argv": ["--dotconfig", "\\udcba"]}', "not a factory data step file (key 'argv': not "
                                              "accepted: the text '\\udcba' holds a lone "
                                              "surrogate"),
    ('{"args": []}', "no 'argv' list of strings"),
    ('{"argv": ["--dotconfig", 3]}', "no 'argv' list of strings"),
    ('{"argv": ["--dotconfig", "x", "--out-dir", "y", "--bogus"]}',
     "the recorded build-step arguments are not accepted (unrecognized arguments: --bogus)"),
    ('{"argv": ["--out-dir", "y"]}', "the following arguments are required: --dotconfig"),
], ids=["json", "argv-twice", "surrogate", "no-argv", "not-strings", "unknown-option",
        "missing-option"])
def test_generate_d_bad_step_file_is_one_line(cli, tmp_path, content, fragment):
    build, app = make_build(tmp_path / "build")
    (app / "zephyr" / "factory_data_step.json").write_text(content)
    before = snapshot(build)
    result = cli("generate", "-d", build)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1 and fragment in result.err, result.err
    assert "Traceback" not in result.err
    assert snapshot(build) == before


@pytest.mark.parametrize("extra, option", [
    (["--sn", "X"], "--sn"), (["--out", "p"], "--output"), (["--defaults"], "--defaults"),
    (["--offset", "0x1000"], "--offset"), (["--cd_type", "0"], "--cd_type"),
    (["--gen_certs"], "--gen_certs"),
], ids=["sn", "output-prefix", "defaults", "offset", "cd-type", "gen-certs"])
def test_generate_d_refuses_field_options(cli, tmp_path, extra, option):
    build, _ = make_build(tmp_path / "build")
    before = snapshot(build)
    result = cli("generate", "-d", build, *extra)
    assert result.code == 2
    assert result.err == (f"error: generate: {option} cannot be combined with -d/--build-dir: "
                          "the build's values come from its zephyr/.config (change them in "
                          "prj.conf or with `menuconfig -d`); accepted with -d: -v\n")
    assert snapshot(build) == before


def test_generate_d_outside_a_build_is_one_line(cli, tmp_path):
    result = cli("generate", "-d")
    assert result.code == 2
    assert result.err.startswith("error: no Zephyr build directory found (tried build and .")
    assert result.err.rstrip().endswith("give -d BUILD_DIR")
    assert cli("generate", "-d", tmp_path / "missing").err == \
        f"error: build directory {tmp_path / 'missing'} does not exist\n"
    assert list(tmp_path.iterdir()) == []


def test_generate_without_d_is_unchanged(cli, tmp_path, golden):
    from conftest import golden_args

    result = cli("generate", *golden_args(golden, tmp_path / "out" / "fd"))
    assert result.code == 0, result
    assert (tmp_path / "out" / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()


def test_generate_parser_keeps_d_and_prefixes_apart():
    from matter_factory_data.cli import app as cli

    parser = cli.build_parser(["generate"])
    assert parser.parse_args(["generate"]).build_dir is None
    assert parser.parse_args(["generate", "-d"]).build_dir == cli.FIND_BUILD_DIR
    assert parser.parse_args(["generate", "-d", "b", "--disc", "5"]).build_dir == "b"
    args = parser.parse_args(["generate", "-d", "--out", "x"])
    assert (args.build_dir, args.output) == (cli.FIND_BUILD_DIR, "x")
    assert parser.parse_args(["generate", "--build", "b"]).build_dir == "b"


# --- show -d -------------------------------------------------------------------------

def golden_build(root: Path, golden: Path, *, sysbuild: bool = False) -> tuple:
    """A built build directory holding the golden factory data (at 0xF7000, so no step file:
    its partition would be PM_STATIC's)."""
    build, app = make_build(root, sysbuild=sysbuild, step=False)
    shutil.copy(golden / "factory_data.hex", app / "zephyr" / "factory_data.hex")
    return build, app


@pytest.mark.parametrize("sysbuild", [False, True], ids=["plain", "sysbuild"])
def test_show_d_decodes_the_build_hex(cli, tmp_path, golden, sysbuild):
    build, _ = golden_build(tmp_path / "build", golden, sysbuild=sysbuild)
    result = cli("show", "-d", build, "--json", "--show-secrets")
    assert result.code == 0, result
    assert result.out.strip() == (golden / "factory_data.json").read_text().strip()
    assert result.out == cli("show", golden / "factory_data.hex", "--json", "--show-secrets").out


def test_show_d_non_pm_location_and_bare_d(cli, tmp_path, golden, monkeypatch):
    build, app = make_build(tmp_path / "build")
    target = app / "matter_factory_data" / "zephyr" / "factory_data.hex"
    target.parent.mkdir(parents=True)
    shutil.copy(golden / "factory_data.hex", target)
    result = cli("show", "-d", "--pretty", "--show-secrets")
    assert result.code == 0, result
    assert json.loads(result.out) == json.loads((golden / "factory_data.json").read_text())


def test_show_d_warnings_name_the_build_file(cli, tmp_path, golden):
    build, app = golden_build(tmp_path / "build", golden)
    result = cli("show", "-d", build, "--size", "0x100", "--strict")
    assert result.code == 1
    assert f"error: {app / 'zephyr' / 'factory_data.hex'}: " in result.err


@pytest.mark.parametrize("argv, fragment", [
    (["show"], "one of the arguments FILE -d/--build-dir is required"),
    (["show", "x.hex", "-d", "build"], "argument -d/--build-dir: not allowed with argument FILE"),
], ids=["neither", "both"])
def test_show_needs_exactly_one_of_file_and_d(cli, argv, fragment):
    result = cli(*argv)
    assert result.code == 2
    assert result.err == f"matter-factory-data show: error: {fragment}\n"


def test_show_d_without_factory_data_is_one_line(cli, tmp_path):
    build, app = make_build(tmp_path / "build")
    result = cli("show", "-d", build)
    assert result.code == 2
    assert result.err.startswith(f"error: no factory data hex in the build (tried "
                                 f"{app / 'zephyr' / 'factory_data.hex'}, ")
    assert result.err.rstrip().endswith("or give FILE")


# --- west factory-data ----------------------------------------------------------------

def test_west_show_merge_generate_and_menuconfig_on_a_build(west_workspace, west, golden):
    from intelhex import IntelHex

    build, app = golden_build(west_workspace / "build", golden, sysbuild=True)

    code, out, err = west("factory-data", "show", "-d", "--json", "--show-secrets")  # bare -d
    assert code == 0, err
    assert out.strip() == (golden / "factory_data.json").read_text().strip()

    code, out, err = west("factory-data", "merge", "-d", build)
    assert code == 0, err
    merged = IntelHex(str(app / "zephyr" / "merged.hex"))
    assert merged.tobinstr(start=0xF7000, size=16) == \
        (golden / "factory_data.bin").read_bytes()[:16]

    code, out, err = west("factory-data", "menuconfig", "--set", "CHIP_DEVICE_PRODUCT_ID=32774")
    assert code == 0, err
    assert "CONFIG_CHIP_DEVICE_PRODUCT_ID=32774\n" in (app / "zephyr" / ".config").read_text()

    code, out, err = west("factory-data", "generate", "-d", build)
    assert code == 2
    assert "CONFIG_CHIP_FACTORY_DATA_BUILD=y" in err and "Traceback" not in err


# --- against the module's real CMake (tests/cmake_standin) ----------------------------

@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                    reason="cmake and ninja are needed")
def test_generate_and_merge_d_replay_a_real_cmake_build(cli, tmp_path):
    """The step record written by cmake/ is what `generate -d` and `merge -d` read: both
    remake the build's own files, byte for byte."""
    import os
    import subprocess
    import sys

    app, build = tmp_path / "app", tmp_path / "build"
    app.mkdir()
    shutil.copy(PM_STATIC, app / "pm_static.yml")
    (build / "zephyr").mkdir(parents=True)
    (build / "zephyr" / ".config").write_text(DOTCONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "PM_STATIC_YML_FILE")}
    for cmd in (["cmake", "-G", "Ninja", "-S", str(REPO_ROOT / "tests" / "cmake_standin"),
                 "-B", str(build), f"-DAPP_DIR={app}", f"-DPYTHON_EXECUTABLE={sys.executable}"],
                ["ninja", "-C", str(build)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    built = outputs_of(build)
    for name in STEP_OUTPUTS:
        (build / "zephyr" / name).unlink()

    result = cli("generate", "-d", build)
    assert result.code == 0, result
    assert outputs_of(build) == built

    (build / "zephyr" / "merged.hex").unlink()
    result = cli("merge", "-d", build)
    assert result.code == 0, result
    assert (build / "zephyr" / "merged.hex").read_bytes() == built["merged.hex"]
