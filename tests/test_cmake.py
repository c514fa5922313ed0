"""The Zephyr module's CMake (cmake/), configured and built for real in a Zephyr stand-in.

tests/cmake_standin/ provides what the module uses of Zephyr's CMake interface. The number
of cmake runs is kept small (CI has two cores).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from matter_factory_data.build_dir import parse_dotconfig
from matter_factory_data.build_step import merged_hex
from matter_factory_data.errors import InputError, PartitionError

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
    env.pop("MAKEFLAGS", None)
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
    shown = cli("show", zephyr / "factory_data.hex", "--strict")
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
    assert "no work to do" in ninja(build, "-n", "-d", "explain")
    ninja(build)
    assert identity(build) == first

    # a reconfigure changes nothing
    configure(build, app, BASE_CONFIG, *dt)
    assert "no work to do" in ninja(build, "-n", "-d", "explain")
    assert identity(build) == first

    # a changed Kconfig value reruns the step (ninja reconfigures), same identity otherwise
    (zephyr / ".config").write_text(BASE_CONFIG.replace("=0xf00", "=0xabc"))
    out = ninja(build)
    assert "Generating Matter factory data" in out
    again = identity(build)
    assert again[:3] == first[:3] and again[3] == 0xABC


@needs_cmake
def test_partition_manager_registers_the_hex(tmp_path):
    app, build = tmp_path / "app", tmp_path / "build"
    app.mkdir()
    config = BASE_CONFIG + "CONFIG_PARTITION_MANAGER_ENABLED=y\n"
    configure(build, app, config, f"-DMFD_PARTITIONS_YML={LAYOUT / 'nrf52840_partitions.yml'}")
    hex_file, target = (build / "pm_properties.txt").read_text().splitlines()
    assert hex_file == str(build / "zephyr" / "factory_data.hex") and target == "factory_data"
    assert (build / "runners_hex_file.txt").read_text().strip().endswith("zephyr.hex")
    ninja(build)
    assert (build / "zephyr" / "factory_data.hex").is_file()
    assert not (build / "zephyr" / "merged.hex").exists()  # PM merges it


@needs_cmake
@pytest.mark.parametrize("case, expected", [
    ("bad_kconfig", "CONFIG_CHIP_DEVICE_DISCRIMINATOR=0x1000: out of range"),
    ("misaligned", "pm_static.yml"),
    ("disagree", "devicetree node factory_data_partition"),
])
def test_configure_fails_with_one_line(tmp_path, case, expected):
    config, defines = BASE_CONFIG, ["-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000"]
    pm_static = LAYOUT / "nrf52840_pm_static.yml"
    if case == "bad_kconfig":
        config = BASE_CONFIG.replace("=0xf00", "=0x1000")
    elif case == "misaligned":
        pm_static, defines = LAYOUT / "bad" / "misaligned_address.yml", []
    else:
        defines = ["-DSTANDIN_DT_ADDR=0xfa000", "-DSTANDIN_DT_SIZE=0x1000"]
    build = tmp_path / "build"
    proc = configure(build, app_with(tmp_path, pm_static), config, *defines, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "matter-factory-data:" in line]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (build / "zephyr" / "factory_data.hex").exists()


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

    from matter_factory_data.core.hexfile import to_hex_text

    firmware = IntelHex()
    firmware.frombytes(b"\x01" * 0x20, offset=0xFB010)
    path = tmp_path / "zephyr.hex"
    firmware.write_hex_file(str(path))
    with pytest.raises(PartitionError, match="0xfb010, inside factory_data"):
        merged_hex(str(path), to_hex_text(0xFB000, b"\xa0\x00"), 0xFB000, 0x1000)
