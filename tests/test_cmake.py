"""The Zephyr module's CMake (cmake/), configured and built for real in a Zephyr stand-in.

tests/cmake_standin/ provides what the module uses of Zephyr's CMake interface. The number
of cmake runs is kept small (CI has two cores).
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from matter_factory_data.errors import InputError, PartitionError
from matter_factory_data.zephyr.build_dir import parse_dotconfig
from matter_factory_data.zephyr.build_step import merged_hex

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "cmake_standin"
LAYOUT = REPO / "tests" / "data" / "layout"

needs_cmake = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                                 reason="cmake and ninja are needed")

BASE_CONFIG = """\
CONFIG_SOC="nrf52840"
CONFIG_CHIP_FACTORY_DATA=y
CONFIG_CHIP_FACTORY_DATA_BUILD=y
CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE=y
CONFIG_CHIP_FACTORY_DATA_GENERATE_ONBOARDING_CODES=y
CONFIG_CHIP_FACTORY_DATA_USE_DEFAULT_CERTS=y
CONFIG_CHIP_FACTORY_DATA_GENERATE_SPAKE2_VERIFIER=y
CONFIG_CHIP_ROTATING_DEVICE_ID=y
CONFIG_CHIP_DEVICE_GENERATE_ROTATING_DEVICE_UID=y
CONFIG_CHIP_DEVICE_DISCRIMINATOR=0xf00
CONFIG_CHIP_DEVICE_PRODUCT_NAME="Lamp \\"A\\""
# CONFIG_CHIP_FACTORY_DATA_GENERATE_CD is not set
"""


def _env():
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "PM_STATIC_YML_FILE"):
        env.pop(var, None)
    return env


def configure(build: Path, app: Path, config: str, *defines: str, check=True):
    (build / "zephyr").mkdir(parents=True, exist_ok=True)
    (build / "zephyr" / ".config").write_text(config)
    cmd = ["cmake", "-G", "Ninja", "-S", str(STANDIN), "-B", str(build),
           f"-DAPP_DIR={app}", f"-DPYTHON_EXECUTABLE={sys.executable}", *defines]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def no_work(build: Path) -> None:
    """A rebuild now would run nothing (ninja's explanation in the failure message)."""
    out = ninja(build, "-n", "-d", "explain")
    assert "no work to do" in out, out


def touch(path: Path) -> None:
    """Give ``path`` the current time, after the outputs of the last build (never the future:
    outputs made next must be newer again)."""
    time.sleep(0.05)
    os.utime(path)


def step_record(build: Path) -> list:
    record = json.loads((build / "zephyr" / "factory_data_step.json").read_text())
    assert list(record) == ["argv"] and all(isinstance(a, str) for a in record["argv"])
    return record["argv"]


def lookup(app: Path, *defines: str, env: Optional[dict] = None, check=True):
    """The module's static layout lookup in script mode: (path or "", the process)."""
    full_env = _env()
    full_env.pop("PM_STATIC_YML_FILE", None)
    full_env.update(env or {})
    proc = subprocess.run(["cmake", f"-DAPPLICATION_SOURCE_DIR={app}", *defines, "-P",
                           str(STANDIN / "pm_static_lookup.cmake")],
                          capture_output=True, text=True, env=full_env)
    if check:
        assert proc.returncode == 0, proc.stderr
        found = [line for line in proc.stderr.splitlines() if line.startswith("pm_static=")]
        return found[0][len("pm_static="):], proc
    return None, proc


def ninja(build: Path, *args: str) -> str:
    proc = subprocess.run(["ninja", "-C", str(build), *args], capture_output=True, text=True,
                          env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def identity(build: Path) -> tuple:
    data = json.loads((build / "zephyr" / "factory_data.json").read_text())
    return data["rd_uid"], data["dac_cert"], data["pai_cert"], data["discriminator"]


def app_with(tmp_path: Path, pm_static: Path = LAYOUT / "nrf52840_pm_static.yml") -> Path:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(pm_static, app / "pm_static.yml")
    return app


@needs_cmake
def test_build_merge_no_op_and_identity(tmp_path, cli):
    from intelhex import IntelHex

    app, build = app_with(tmp_path), tmp_path / "build"
    dt = ("-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000")
    configure(build, app, BASE_CONFIG, *dt)
    ninja(build)
    zephyr = build / "zephyr"
    for name in ("json", "hex", "bin", "txt", "png"):
        assert (zephyr / f"factory_data.{name}").is_file(), name
    shown = cli("show", zephyr / "factory_data.hex", "--strict", "--json")
    assert shown.code == 0, shown
    decoded = json.loads(shown.out)
    assert decoded["discriminator"] == 0xF00 and decoded["product_name"] == 'Lamp "A"'
    assert "passcode" not in decoded  # --include_passcode is not passed

    # merged.hex = firmware + factory data at the partition address; west flash uses it
    merged, firmware = IntelHex(str(zephyr / "merged.hex")), IntelHex(str(zephyr / "zephyr.hex"))
    data = (zephyr / "factory_data.bin").read_bytes()
    assert merged.tobinstr(start=0, size=0x1000) == firmware.tobinstr(start=0, size=0x1000)
    assert merged.tobinstr(start=0xFB000, size=len(data)) == data
    assert (build / "runners_hex_file.txt").read_text().strip() == str(zephyr / "merged.hex")

    first = identity(build)
    no_work(build)
    ninja(build)
    assert identity(build) == first

    # a reconfigure changes nothing, the step record included
    record = zephyr / "factory_data_step.json"
    recorded = (step_record(build), record.stat().st_mtime_ns)
    configure(build, app, BASE_CONFIG, *dt)
    no_work(build)
    assert identity(build) == first
    assert (step_record(build), record.stat().st_mtime_ns) == recorded

    # an edit of pm_static.yml reruns the step (and a reconfigure), then nothing
    touch(app / "pm_static.yml")
    assert "Generating Matter factory data" in ninja(build)
    no_work(build)
    assert identity(build) == first

    # a changed Kconfig value reruns the step (ninja reconfigures), same identity otherwise
    (zephyr / ".config").write_text(BASE_CONFIG.replace("=0xf00", "=0xabc"))
    out = ninja(build)
    assert "Generating Matter factory data" in out
    again = identity(build)
    assert again[:3] == first[:3] and again[3] == 0xABC

    # the step turned off: its record goes, so `generate -d` cannot replay stale arguments
    (zephyr / ".config").write_text(BASE_CONFIG.replace(
        "CONFIG_CHIP_FACTORY_DATA_BUILD=y", "# CONFIG_CHIP_FACTORY_DATA_BUILD is not set"))
    ninja(build)
    assert not record.exists()


@needs_cmake
def test_partition_manager_registers_the_hex(tmp_path):
    app, build = tmp_path / "app", tmp_path / "build"
    app.mkdir()
    partitions = tmp_path / "partitions.yml"
    shutil.copy(LAYOUT / "nrf52840_partitions.yml", partitions)
    config = BASE_CONFIG + "CONFIG_PARTITION_MANAGER_ENABLED=y\n"
    configure(build, app, config, f"-DMFD_PARTITIONS_YML={partitions}")
    hex_file, target = (build / "pm_properties.txt").read_text().splitlines()
    assert hex_file == str(build / "zephyr" / "factory_data.hex") and target == "factory_data"
    assert (build / "runners_hex_file.txt").read_text().strip().endswith("zephyr.hex")
    ninja(build)
    assert (build / "zephyr" / "factory_data.hex").is_file()
    assert not (build / "zephyr" / "merged.hex").exists()  # PM merges it
    no_work(build)

    # an existing partitions.yml is a file dependency: an edit reruns the step, then nothing
    touch(partitions)
    assert "Generating Matter factory data" in ninja(build)
    no_work(build)


@needs_cmake
def test_sysbuild_partitions_at_the_top(tmp_path):
    """Under sysbuild Partition Manager writes <top>/partitions.yml after the image is
    configured: the step is given that file even though it does not exist yet."""
    top = tmp_path / "top"
    app, build = app_with(tmp_path), top / "light_bulb"
    config = BASE_CONFIG + "CONFIG_PARTITION_MANAGER_ENABLED=y\n"
    configure(build, app, config, "-DSYSBUILD=ON")
    partitions = top / "partitions.yml"
    assert step_record(build)[4:6] == ["--partitions", str(partitions)]
    shutil.copy(LAYOUT / "nrf52840_partitions.yml", partitions)  # sysbuild's PM, later
    assert f"at 0xfb000 ({partitions})" in ninja(build)
    no_work(build)


@needs_cmake
def test_partition_manager_target_made_later(tmp_path):
    """partitions.yml made by a partition_manager target defined after the module (as NCS does):
    the step depends on the target and the file, so it runs after it and again on an edit."""
    app, build = app_with(tmp_path), tmp_path / "build"  # factory_data comes from pm_static
    layout = tmp_path / "layout.yml"
    shutil.copy(LAYOUT / "nrf52840_partitions.yml", layout)
    config = BASE_CONFIG + "CONFIG_PARTITION_MANAGER_ENABLED=y\n"
    configure(build, app, config, f"-DSTANDIN_PM_LAYOUT={layout}")
    partitions = build / "partitions.yml"
    assert not partitions.exists()  # only at build time
    assert step_record(build)[4:8] == ["--partitions", str(partitions),
                                       "--pm-static", str(app / "pm_static.yml")]
    # ninja's graph: the file is an input, the target an order-only dependency
    inputs = [line.strip() for line in
              ninja(build, "-t", "query", "zephyr/factory_data.hex").splitlines()]
    assert "partitions.yml" in inputs and "|| partition_manager" in inputs, inputs

    out = ninja(build, "-j", "8")
    assert out.index("partitions.yml") < out.index("Generating Matter factory data"), out
    assert f"at 0xfb000 ({partitions})" in out, out  # the source the step used
    no_work(build)

    with layout.open("a") as f:
        f.write("# edited\n")
    touch(layout)
    assert "Generating Matter factory data" in ninja(build)
    no_work(build)


@needs_cmake
@pytest.mark.parametrize("case, expected", [
    ("bad_kconfig", "CONFIG_CHIP_DEVICE_DISCRIMINATOR=0x1000: out of range"),
    ("misaligned", "pm_static.yml"),
    ("disagree", "devicetree node factory_data_partition"),
    ("override_missing", "PM_STATIC_YML_FILE=layouts/pm_static.yml: no such file "),
])
def test_configure_fails_with_one_line(tmp_path, case, expected):
    config, defines = BASE_CONFIG, ["-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000"]
    pm_static = LAYOUT / "nrf52840_pm_static.yml"
    if case == "bad_kconfig":
        config = BASE_CONFIG.replace("=0xf00", "=0x1000")
    elif case == "misaligned":
        pm_static, defines = LAYOUT / "bad" / "misaligned_address.yml", []
    elif case == "override_missing":  # read with zephyr_get (here: the cache)
        defines.append("-DPM_STATIC_YML_FILE=layouts/pm_static.yml")
    else:
        defines = ["-DSTANDIN_DT_ADDR=0xfa000", "-DSTANDIN_DT_SIZE=0x1000"]
    build = tmp_path / "build"
    app = app_with(tmp_path, pm_static)
    proc = configure(build, app, config, *defines, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "matter-factory-data:" in line]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    if case == "override_missing":
        assert lines[0].endswith(f"{app / 'layouts' / 'pm_static.yml'}; fix the path or unset "
                                 "PM_STATIC_YML_FILE"), lines[0]
    for name in ("factory_data.hex", "factory_data_step.json"):
        assert not (build / "zephyr" / name).exists(), name


@needs_cmake
def test_board_specific_layout_and_step_record_replay(tmp_path):
    """HWMv2 board + FILE_SUFFIX: pm_static_<board>_<suffix>.yml is used (pm_static.yml, a bad
    layout here, is not); the recorded arguments reproduce the build's factory data."""
    app, build = tmp_path / "app", tmp_path / "build"
    app.mkdir()
    board_file = app / "pm_static_nrf52840dk_nrf52840_release.yml"
    shutil.copy(LAYOUT / "nrf52840_pm_static.yml", board_file)
    shutil.copy(LAYOUT / "bad" / "misaligned_address.yml", app / "pm_static.yml")
    configure(build, app, BASE_CONFIG, "-DBOARD=nrf52840dk", "-DBOARD_QUALIFIERS=/nrf52840",
              "-DNORMALIZED_BOARD_TARGET=nrf52840dk_nrf52840", "-DFILE_SUFFIX=release",
              "-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000")
    zephyr = build / "zephyr"
    argv = step_record(build)
    assert argv == ["--dotconfig", str(zephyr / ".config"), "--out-dir", str(zephyr),
                    "--pm-static", str(board_file), "--dt-address", "0xfb000",
                    "--dt-size", "0x1000", "--firmware-hex", str(zephyr / "zephyr.hex"),
                    "--merged-hex", str(zephyr / "merged.hex")]
    ninja(build)
    built = {name: (zephyr / name).read_bytes() for name in ("factory_data.bin",
                                                              "factory_data.hex", "merged.hex")}

    # replay, as `generate -d` will: the same factory data
    for name in built:
        (zephyr / name).unlink()
    env = _env()
    env["PYTHONPATH"] = str(REPO / "west_ext")
    proc = subprocess.run([sys.executable, "-m", "matter_factory_data", "build-step", *argv],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {name: (zephyr / name).read_bytes() for name in built} == built

    # an edit of the board-specific layout reruns the step, then nothing
    board_file.write_text(board_file.read_text() + "# edited\n")
    touch(board_file)
    assert "Generating Matter factory data" in ninja(build)
    no_work(build)


# --- the static layout lookup (script mode, one cmake -P per case) ----------------------

HWM2 = ("-DBOARD=nrf5340dk", "-DBOARD_QUALIFIERS=/nrf5340/cpuapp",
        "-DNORMALIZED_BOARD_TARGET=nrf5340dk_nrf5340_cpuapp", "-DBOARD_REVISION=0.9.0")
LOOKUP_CASES = {
    # FILE_SUFFIX (NCS >= 2.7), hardware model v2 with a revision
    "suffix": (HWM2 + ("-DFILE_SUFFIX=release",), [
        "pm_static_nrf5340dk_nrf5340_cpuapp_0_9_0_release.yml",
        "pm_static_nrf5340dk_nrf5340_cpuapp_0_9_0.yml",
        "pm_static_nrf5340dk_nrf5340_cpuapp_release.yml",
        "pm_static_nrf5340dk_nrf5340_cpuapp.yml",
        "pm_static_release.yml",
        "pm_static.yml",
    ], ["pm_static_nrf5340dk_release.yml", "pm_static_nrf5340dk.yml", "pm_static_debug.yml",
        "pm_static_nrf5340dk_nrf5340_cpuapp_debug.yml"]),
    # FILE_SUFFIX wins over the older build type
    "suffix_over_build_type": (HWM2 + ("-DFILE_SUFFIX=release",
                                       "-DCONF_FILE_BUILD_TYPE=debug"), [
        "pm_static_nrf5340dk_nrf5340_cpuapp_release.yml",
        "pm_static_release.yml",
        "pm_static.yml",
    ], ["pm_static_nrf5340dk_nrf5340_cpuapp_debug.yml", "pm_static_debug.yml"]),
    # CONF_FILE_BUILD_TYPE (older NCS), HWMv1 board name: no pm_static_<board>.yml step
    "build_type": (("-DBOARD=nrf52840dk_nrf52840", "-DBOARD_REVISION=1.0.0",
                    "-DCONF_FILE_BUILD_TYPE=release"), [
        "pm_static_nrf52840dk_nrf52840_1_0_0_release.yml",
        "pm_static_nrf52840dk_nrf52840_release.yml",
        "pm_static_release.yml",
        "pm_static.yml",
    ], ["pm_static_nrf52840dk_nrf52840.yml", "pm_static_nrf52840dk_nrf52840_1_0_0.yml"]),
    # neither: board (normalized from BOARD + BOARD_QUALIFIERS) with and without revision
    "plain": (("-DBOARD=nrf52840dk", "-DBOARD_QUALIFIERS=/nrf52840", "-DBOARD_REVISION=1.1.0"), [
        "pm_static_nrf52840dk_nrf52840_1_1_0.yml",
        "pm_static_nrf52840dk_nrf52840.yml",
        "pm_static.yml",
    ], ["pm_static_nrf52840dk.yml", "pm_static_1_1_0.yml", "pm_static_.yml"]),
    # a full board target in BOARD is normalized too
    "board_target": (("-DBOARD=nrf54l15dk/nrf54l15/cpuapp",), [
        "pm_static_nrf54l15dk_nrf54l15_cpuapp.yml",
        "pm_static.yml",
    ], ["pm_static_nrf54l15dk.yml"]),
    # no board known at all
    "no_board": ((), ["pm_static.yml"], ["pm_static_release.yml"]),
}


@needs_cmake
@pytest.mark.parametrize("case", LOOKUP_CASES)
def test_pm_static_lookup_order(tmp_path, case):
    """Every step of the order: with all candidates present the first wins; remove it and the
    next one does; files of other boards/suffixes/build types are never taken."""
    defines, order, decoys = LOOKUP_CASES[case]
    app = tmp_path / "app"
    app.mkdir()
    for name in order + decoys:
        (app / name).write_text("{}\n")
    for name in order:
        assert lookup(app, *defines)[0] == str(app / name)
        (app / name).unlink()
    assert lookup(app, *defines)[0] == ""


@needs_cmake
def test_pm_static_lookup_directories_and_override(tmp_path):
    app, conf, board = tmp_path / "app", tmp_path / "conf", tmp_path / "board"
    for d in (app, conf, board):
        d.mkdir()
    defines = ("-DBOARD=nrf52840dk_nrf52840", f"-DBOARD_DIR={board}",
               "-DCONFIG_PARTITION_MANAGER_ENABLED=y")
    (app / "pm_static.yml").write_text("{}\n")
    (board / "pm_static_nrf52840dk_nrf52840.yml").write_text("{}\n")
    # the board's files count only with Partition Manager (NCS reads them only then)
    assert lookup(conf, *defines[:2])[0] == ""
    # the application source dir beats the board dir, even less specific
    assert lookup(app, *defines)[0] == str(app / "pm_static.yml")
    # APPLICATION_CONFIG_DIR replaces the source dir; without a file there, the board dir
    assert lookup(app, *defines, f"-DAPPLICATION_CONFIG_DIR={conf}")[0] == \
        str(board / "pm_static_nrf52840dk_nrf52840.yml")
    (conf / "pm_static.yml").write_text("{}\n")
    assert lookup(app, *defines, f"-DAPPLICATION_CONFIG_DIR={conf}")[0] == \
        str(conf / "pm_static.yml")

    # PM_STATIC_YML_FILE (here from the environment: no zephyr_get in script mode) beats all;
    # relative to the config dir; ${VAR} references expanded
    (conf / "layouts").mkdir()
    chosen = conf / "layouts" / "mine.yml"
    chosen.write_text("{}\n")
    for value in (str(chosen), "layouts/mine.yml", "${APPLICATION_CONFIG_DIR}/layouts/mine.yml"):
        found, _ = lookup(app, *defines, f"-DAPPLICATION_CONFIG_DIR={conf}",
                          env={"PM_STATIC_YML_FILE": value})
        assert found == str(chosen), value

    # one line naming it when it does not exist or is a directory; nothing else printed
    for value, message in (
            ("layouts/none.yml", f"PM_STATIC_YML_FILE=layouts/none.yml: no such file "
                                 f"{conf / 'layouts' / 'none.yml'}; fix the path or unset "
                                 "PM_STATIC_YML_FILE"),
            ("layouts", f"PM_STATIC_YML_FILE=layouts: {conf / 'layouts'} is a directory; give "
                        "the static layout file (pm_static.yml) or unset PM_STATIC_YML_FILE")):
        _, proc = lookup(app, *defines, f"-DAPPLICATION_CONFIG_DIR={conf}",
                         env={"PM_STATIC_YML_FILE": value}, check=False)
        assert proc.returncode != 0
        lines = [line for line in proc.stderr.splitlines() if "matter-factory-data:" in line]
        assert lines == [f"   matter-factory-data: {message}"], proc.stderr
        assert "pm_static=" not in proc.stderr


# --- build_step pieces without cmake ---------------------------------------------------

def test_parse_dotconfig():
    values = parse_dotconfig('CONFIG_A=y\nCONFIG_B="x \\"q\\" \\\\ y"\n# CONFIG_C is not set\n'
                             "CONFIG_D=0x10\n# comment\n")
    assert values == {"CONFIG_A": "y", "CONFIG_B": 'x "q" \\ y', "CONFIG_C": "n",
                      "CONFIG_D": "0x10"}
    with pytest.raises(InputError, match="CONFIG_E"):
        parse_dotconfig('CONFIG_E="open\n')


def test_merged_hex_refuses_firmware_inside_the_partition(tmp_path):
    from intelhex import IntelHex

    from matter_factory_data.formats.hexfile import to_hex_text

    firmware = IntelHex()
    firmware.frombytes(b"\x01" * 0x20, offset=0xFB010)
    path = tmp_path / "zephyr.hex"
    firmware.write_hex_file(str(path))
    with pytest.raises(PartitionError, match="0xfb010, inside factory_data"):
        merged_hex(str(path), to_hex_text(0xFB000, b"\xa0\x00"), 0xFB000, 0x1000)


GOLDEN = REPO / "tests" / "data" / "golden"
USER_CERTS_CONFIG = BASE_CONFIG.replace("CONFIG_CHIP_FACTORY_DATA_USE_DEFAULT_CERTS=y\n",
                                        "") + f"""\
CONFIG_CHIP_FACTORY_DATA_CERT_SOURCE_USER=y
CONFIG_CHIP_FACTORY_DATA_USER_CERTS_DAC_CERT="{GOLDEN}/Matter-Development-DAC-FFF1-8006-Cert.der"
CONFIG_CHIP_FACTORY_DATA_USER_CERTS_DAC_KEY="{GOLDEN}/Matter-Development-DAC-FFF1-8006-Key.der"
CONFIG_CHIP_FACTORY_DATA_USER_CERTS_PAI_CERT="{GOLDEN}/Matter-Development-PAI-FFF1-noPID-Cert.der"
CONFIG_CHIP_DEVICE_VENDOR_ID=65521
CONFIG_CHIP_DEVICE_PRODUCT_ID=32774
CONFIG_CHIP_DEVICE_MANUFACTURING_DATE="2022-02-02"
"""


@needs_cmake
def test_the_production_profile_symbol_reaches_the_step_and_its_record(tmp_path, cli):
    """Nordic's documented DAC (valid from 2022-02-05) made on 2022-02-02: a build warning
    under the development profile; CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y is passed
    as --profile production, recorded, and stops the build (and its replay) naming the rule."""
    app, build = app_with(tmp_path), tmp_path / "build"
    dt = ("-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000")
    configure(build, app, USER_CERTS_CONFIG, *dt)
    assert "--profile" not in step_record(build)
    out = ninja(build)
    assert "rule 'dac-valid-at-manufacturing-date'" in out, out
    assert "accepted by the development profile " \
           "(CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y refuses it)" in out, out
    zephyr = build / "zephyr"
    assert (zephyr / "factory_data.bin").is_file()

    production = USER_CERTS_CONFIG + "CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y\n"
    configure(build, app, production, *dt)
    argv = step_record(build)
    assert argv[argv.index("--profile") + 1] == "production"
    proc = subprocess.run(["ninja", "-C", str(build)], capture_output=True, text=True,
                          env=_env())
    assert proc.returncode != 0
    assert "rule 'dac-valid-at-manufacturing-date'" in proc.stdout + proc.stderr
    assert "refused by CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y" in proc.stdout + proc.stderr

    replay = cli("generate", "-d", build)  # the recorded step, profile included
    assert replay.code == 2, replay
    assert "refused by CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y" in replay.err


@needs_cmake
def test_a_production_rule_in_a_build_names_the_kconfig_symbol(tmp_path):
    """The production rules' findings name their input in the build's vocabulary: the test
    vendor ID of the default identity is CONFIG_CHIP_DEVICE_VENDOR_ID=..., never the
    generator's --vendor_id."""
    app, build = app_with(tmp_path), tmp_path / "build"
    dt = ("-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000")
    configure(build, app, BASE_CONFIG + "CONFIG_CHIP_DEVICE_VENDOR_ID=0xFFF1\n"
              "CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y\n", *dt)
    proc = subprocess.run(["ninja", "-C", str(build)], capture_output=True, text=True,
                          env=_env())
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    [line] = [line for line in text.splitlines() if "rule 'test-vendor-id'" in line]
    assert "error: CONFIG_CHIP_DEVICE_VENDOR_ID=0xFFF1: the vendor ID is 0xFFF1" in line, line
    assert "--vendor_id" not in line
    assert "refused by CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y" in line
