"""The module's CMake as nRF Connect SDK runs it (issue #9), in the stand-ins: Partition
Manager in the image without sysbuild, sysbuild's own CMake run with the Partition Manager
hand-off, the image flasher, both spellings of Nordic's generator symbol, a devicetree with
nested ``ranges`` from an edt.pickle, and the module schema of Zephyr 3.6."""

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from intelhex import IntelHex
from test_cmake import (
    BASE_CONFIG,
    LAYOUT,
    REPO,
    STANDIN,
    _env,
    configure,
    needs_cmake,
    ninja,
    no_work,
    step_record,
)

DT = REPO / "tests" / "data" / "devicetree"
SYSBUILD_STANDIN = STANDIN / "sysbuild"


def app_dir(tmp_path: Path, pm_static: Path = LAYOUT / "nrf52840_pm_static.yml") -> Path:
    app = tmp_path / "app"
    app.mkdir()
    if pm_static is not None:
        shutil.copy(pm_static, app / "pm_static.yml")
    return app


def fatal_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if "matter-factory-data:" in line]
    assert len(lines) == 1, proc.stderr
    return lines[0].strip()


# --- zephyr/module.yml ----------------------------------------------------------------------

# The keys the module schema of Zephyr 3.6 (nRF Connect SDK 2.7, scripts/zephyr_module.py)
# defines; pykwalify refuses any other ("Key 'package-managers' was not defined").
ZEPHYR_36_SCHEMA = {
    "name": None, "tests": None, "samples": None, "boards": None, "blobs": None,
    "build": {"cmake": None, "kconfig": None, "cmake-ext": None, "kconfig-ext": None,
              "sysbuild-cmake": None, "sysbuild-kconfig": None, "sysbuild-cmake-ext": None,
              "sysbuild-kconfig-ext": None, "depends": None,
              "settings": {"board_root": None, "dts_root": None, "snippet_root": None,
                           "soc_root": None, "arch_root": None, "module_ext_root": None,
                           "sca_root": None}},
}


def _unknown_keys(data, schema, where=""):
    if not isinstance(data, dict):
        return []
    bad = [f"{where}{k}" for k in data if k not in schema]
    for key, sub in schema.items():
        if isinstance(sub, dict) and key in data:
            bad += _unknown_keys(data[key], sub, f"{where}{key}.")
    return bad


def test_module_yml_fits_the_zephyr_36_schema():
    module = yaml.safe_load((REPO / "zephyr" / "module.yml").read_text())
    assert _unknown_keys(module, ZEPHYR_36_SCHEMA) == []
    build = module["build"]
    for key in ("cmake", "sysbuild-cmake"):
        assert (REPO / build[key] / "CMakeLists.txt").is_file(), key
    for key in ("kconfig", "sysbuild-kconfig"):
        assert (REPO / build[key]).is_file(), key
    # the checker itself refuses what NCS 2.7 refused
    assert _unknown_keys({"name": "x", "package-managers": {}}, ZEPHYR_36_SCHEMA) == \
        ["package-managers"]


# --- Partition Manager in the image, no sysbuild (NCS <= 2.8 out-of-tree apps) -----------------

@needs_cmake
def test_pm_in_the_image_without_the_visible_symbol(tmp_path):
    """CONFIG_PARTITION_MANAGER_ENABLED is not set, but a pm_static.yml makes Partition
    Manager run in the image: the module hands it the hex instead of writing merged.hex too
    (ninja refused "multiple rules generate zephyr/merged.hex")."""
    app, build = app_dir(tmp_path), tmp_path / "build"
    partitions = tmp_path / "partitions.yml"
    shutil.copy(LAYOUT / "nrf52840_partitions.yml", partitions)
    configure(build, app, BASE_CONFIG, "-DSTANDIN_NCS=ON", f"-DMFD_PARTITIONS_YML={partitions}")
    hex_file, target = (build / "pm_properties.txt").read_text().splitlines()
    assert (hex_file, target) == (str(build / "zephyr" / "factory_data.hex"), "factory_data")
    assert "--merged-hex" not in step_record(build)
    ninja(build)
    merged = IntelHex(str(build / "zephyr" / "merged.hex"))  # Partition Manager's
    data = (build / "zephyr" / "factory_data.bin").read_bytes()
    assert merged.tobinstr(start=0xFB000, size=len(data)) == data
    assert (build / "runners_hex_file.txt").read_text().strip() == \
        str(build / "zephyr" / "merged.hex")
    no_work(build)


@needs_cmake
def test_pm_in_the_image_not_detected_stops_with_one_line(tmp_path):
    """Should Partition Manager make merged.hex where the module did not expect it, configure
    stops with one line rather than ninja's duplicate-rule error."""
    app, build = app_dir(tmp_path, None), tmp_path / "build"
    proc = configure(build, app, BASE_CONFIG, "-DSTANDIN_NCS=ON", "-DSTANDIN_PM_FORCE=ON",
                     "-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000", check=False)
    assert proc.returncode != 0
    assert fatal_line(proc) == (
        f"matter-factory-data: Partition Manager also writes {build / 'zephyr' / 'merged.hex'} "
        "in this build, but it was not detected when the module was configured; set "
        "CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE=n or report this build")


@needs_cmake
def test_plain_zephyr_keeps_its_own_merged_hex(tmp_path):
    """Without nRF Connect SDK a pm_static.yml means nothing to the build: merged.hex is ours."""
    app, build = app_dir(tmp_path), tmp_path / "build"
    configure(build, app, BASE_CONFIG, "-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000")
    assert "--merged-hex" in step_record(build)
    assert (build / "pm_properties.txt").read_text() == "\n\n"


# --- sysbuild's own CMake run ----------------------------------------------------------------

def configure_image(tmp_path, config, *defines, pm=True):
    top = tmp_path / "top"
    image = top / "light_bulb"
    app = app_dir(tmp_path)
    if pm:
        config += "CONFIG_PARTITION_MANAGER_ENABLED=y\n"
        shutil.copy(LAYOUT / "nrf52840_partitions.yml", top.parent / "partitions.yml")
        top.mkdir(parents=True, exist_ok=True)
        shutil.copy(LAYOUT / "nrf52840_partitions.yml", top / "partitions.yml")
    configure(image, app, config, "-DSYSBUILD=ON", *defines)
    return top, image


def configure_sysbuild(top, image, *defines, check=True):
    cmd = ["cmake", "-G", "Ninja", "-S", str(SYSBUILD_STANDIN), "-B", str(top / "sb"),
           f"-DIMAGE_DIR={image}", "-DDEFAULT_IMAGE=light_bulb",
           f"-DPYTHON_EXECUTABLE={sys.executable}", *defines]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@needs_cmake
def test_sysbuild_pm_hand_off_in_the_sysbuild_run(tmp_path):
    """The hand-off happens in sysbuild's CMake run (where Partition Manager runs), with
    factory_data.hex a declared byproduct: build/merged.hex holds the factory data."""
    top, image = configure_image(tmp_path, BASE_CONFIG)
    hex_path = image / "zephyr" / "factory_data.hex"
    cache = (image / "CMakeCache.txt").read_text()
    assert f"BYPRODUCT_MATTER_FACTORY_DATA_HEX_NAME:FILEPATH={hex_path}" in cache
    proc = configure_sysbuild(top, image, "-DSB_CONFIG_PARTITION_MANAGER=y")
    assert f"matter-factory-data: {hex_path} handed to Partition Manager" in proc.stdout
    ninja(top / "sb")  # a fresh build: the hex needs its byproduct rule
    merged = IntelHex(str(top / "sb" / "merged.hex"))
    data = (image / "zephyr" / "factory_data.bin").read_bytes()
    assert merged.tobinstr(start=0xFB000, size=len(data)) == data


@needs_cmake
@pytest.mark.parametrize("symbol", ["SB_CONFIG_MATTER_FACTORY_DATA_GENERATE",
                                    "SB_CONFIG_MATTER_ADD_ON_FACTORY_DATA_GENERATE"])
def test_nordic_generator_too_stops_at_configure(tmp_path, symbol):
    top, image = configure_image(tmp_path, BASE_CONFIG)
    proc = configure_sysbuild(top, image, "-DSB_CONFIG_PARTITION_MANAGER=y", f"-D{symbol}=y",
                              check=False)
    assert proc.returncode != 0
    assert fatal_line(proc) == (
        f"matter-factory-data: {symbol}=y and CONFIG_CHIP_FACTORY_DATA_BUILD=y in light_bulb: "
        "two factory data generators would write the same flash range; turn one of them off")


@needs_cmake
def test_sysbuild_without_the_step_does_nothing(tmp_path):
    config = BASE_CONFIG.replace("CONFIG_CHIP_FACTORY_DATA_BUILD=y",
                                 "# CONFIG_CHIP_FACTORY_DATA_BUILD is not set")
    top, image = configure_image(tmp_path, config)
    # Nordic's generator alone is fine
    proc = configure_sysbuild(top, image, "-DSB_CONFIG_PARTITION_MANAGER=y",
                              "-DSB_CONFIG_MATTER_FACTORY_DATA_GENERATE=y")
    assert "matter-factory-data" not in proc.stdout + proc.stderr


@needs_cmake
def test_image_flasher_for_devicetree_builds(tmp_path):
    """NCS 3.x, devicetree partitions: SB_CONFIG_MATTER_FACTORY_DATA_TOOL_FLASHER adds an
    image flasher (ERASE_MODE ranges) for the image's factory_data.hex and turns the step on
    in the image, which then leaves its runner on zephyr.hex."""
    top, image = configure_image(tmp_path, BASE_CONFIG, "-DMFD_IMAGE_FLASHER=ON",
                                 "-DSTANDIN_DT_ADDR=0xfb000", "-DSTANDIN_DT_SIZE=0x1000",
                                 pm=False)
    assert "--merged-hex" not in step_record(image)
    assert (image / "runners_hex_file.txt").read_text().strip().endswith("zephyr/zephyr.hex")
    configure_sysbuild(top, image, "-DSTANDIN_IMAGE_FLASHER=ON",
                       "-DSB_CONFIG_MATTER_FACTORY_DATA_TOOL_FLASHER=y")
    calls = (top / "sb" / "calls.txt").read_text().splitlines()
    assert calls == [
        f"add_image_flasher NAME matter_factory_data HEX_FILE {top / 'sb' / 'light_bulb'}"
        "/zephyr/factory_data.hex ERASE_MODE ranges",
        "sysbuild_add_dependencies FLASH matter_factory_data light_bulb",
        "set_config_bool light_bulb CONFIG_CHIP_FACTORY_DATA_BUILD y",
        "sysbuild_cache_set VAR MFD_IMAGE_FLASHER IMAGE light_bulb ON",
    ]
    # without add_image_flasher (upstream Zephyr, NCS 2.x): one line
    proc = configure_sysbuild(top, image, "-DSTANDIN_IMAGE_FLASHER=OFF",
                              "-DSB_CONFIG_MATTER_FACTORY_DATA_TOOL_FLASHER=y", check=False)
    assert proc.returncode != 0
    assert "needs add_image_flasher() of nRF Connect SDK 3.x" in fatal_line(proc)


# --- a devicetree with nested ranges, from an edt.pickle ------------------------------------

def edt_pickle(tmp_path, dts: Path) -> Path:
    edtlib = pytest.importorskip("devicetree.edtlib")
    path = tmp_path / "edt.pickle"
    path.write_bytes(pickle.dumps(edtlib.EDT(str(dts), [])))
    return path


NRF54L_CONFIG = BASE_CONFIG.replace('CONFIG_SOC="nrf52840"', 'CONFIG_SOC="nrf54l15"')


@needs_cmake
def test_edt_pickle_with_nested_ranges(tmp_path):
    app, build = app_dir(tmp_path, None), tmp_path / "build"
    pickle_path = edt_pickle(tmp_path, DT / "nrf54l15_nested_ranges.dts")
    configure(build, app, NRF54L_CONFIG, f"-DEDT_PICKLE={pickle_path}")
    argv = step_record(build)
    assert argv[argv.index("--edt-pickle") + 1] == str(pickle_path)
    out = ninja(build)
    assert "factory data: " in out and " at 0x172000 (devicetree node label " \
        "factory_data_partition (" in out, out
    merged = IntelHex(str(build / "zephyr" / "merged.hex"))
    data = (build / "zephyr" / "factory_data.bin").read_bytes()
    assert merged.tobinstr(start=0x172000, size=len(data)) == data
    no_work(build)


@needs_cmake
@pytest.mark.parametrize("dts, config, expected", [
    ("nrf54l15_nested_overlap.dts", NRF54L_CONFIG,
     "factory_data (0x16c000..0x16d000) overlaps tfm_its_partition (0x16b000..0x16d000)"),
    ("nrf52840_overlap_storage.dts", BASE_CONFIG,
     "factory_data (0xfb000..0xfc000) overlaps storage_partition (0xf8000..0x100000)"),
    ("nrf52840_outside_flash.dts", BASE_CONFIG,
     "factory_data (0x100000..0x101000) is outside flash_primary of nrf52840"),
    ("nrf52840_misaligned.dts", BASE_CONFIG,
     "factory_data address 0xf7800 is not a multiple of the nrf52840 flash page"),
])
def test_bad_devicetree_stops_configure_with_one_line(tmp_path, dts, config, expected):
    app, build = app_dir(tmp_path, None), tmp_path / "build"
    pickle_path = edt_pickle(tmp_path, DT / dts)
    proc = configure(build, app, config, f"-DEDT_PICKLE={pickle_path}", check=False)
    assert proc.returncode != 0
    line = fatal_line(proc)
    assert line.startswith("matter-factory-data: devicetree node label factory_data_partition")
    assert expected in line, line
    assert not (build / "zephyr" / "factory_data.hex").exists()


@needs_cmake
def test_pm_static_and_devicetree_disagree(tmp_path):
    """The 0xFB000 -> 0xF7000 migration hazard: both are named."""
    app, build = app_dir(tmp_path), tmp_path / "build"  # pm_static: 0xfb000
    pickle_path = edt_pickle(tmp_path, DT / "nrf52840_good.dts")  # devicetree: 0xf7000
    proc = configure(build, app, BASE_CONFIG, f"-DEDT_PICKLE={pickle_path}", check=False)
    assert proc.returncode != 0
    line = fatal_line(proc)
    assert "devicetree node label factory_data_partition" in line and \
        "places factory_data at 0xf7000 (size 0x1000) but " in line and \
        f"{app / 'pm_static.yml'} at 0xfb000 (size 0x1000); make them agree" in line, line
