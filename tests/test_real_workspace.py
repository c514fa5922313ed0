"""Opt-in: build sample_app in a real Zephyr / nRF Connect SDK workspace and check the hex
that `west flash` would program (issue #9).

Skipped unless the workspace is given:

* ``MFD_ZEPHYR_WORKSPACE`` (upstream Zephyr >= 3.7, hardware model v2): plain and sysbuild;
* ``MFD_NCS_WORKSPACE`` (nRF Connect SDK 2.x with Partition Manager): ``--no-sysbuild`` and
  ``--sysbuild``.

``MFD_ZEPHYR_ENV`` / ``MFD_NCS_ENV`` may name a shell script sourced before ``west build``
(virtualenv, ZEPHYR_BASE, toolchain variables); otherwise the current environment is used.
``MFD_DEVPARSE`` may name the nRF Connect device parser harness (``devparse IMAGE`` printing
one JSON line with ``ok``): the partition bytes of the programmed hex must parse there too.
``MFD_BOARD`` overrides the board (default ``nrf52840dk/nrf52840``). Each build takes about a
minute on two cores.
"""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from intelhex import IntelHex

SAMPLE = REPO_ROOT / "sample_app"
BOARD = os.environ.get("MFD_BOARD", "nrf52840dk/nrf52840")

CASES = [
    ("MFD_ZEPHYR_WORKSPACE", "MFD_ZEPHYR_ENV", "--no-sysbuild"),
    ("MFD_ZEPHYR_WORKSPACE", "MFD_ZEPHYR_ENV", "--sysbuild"),
    ("MFD_NCS_WORKSPACE", "MFD_NCS_ENV", "--no-sysbuild"),
    ("MFD_NCS_WORKSPACE", "MFD_NCS_ENV", "--sysbuild"),
]


def west_build(workspace: str, env_script: str, build: Path, mode: str, *extra: str,
               app: Path = SAMPLE):
    command = ["west", "build", "-p", "-b", BOARD, "-d", str(build), str(app), mode, "--",
               f"-DZEPHYR_EXTRA_MODULES={REPO_ROOT}", *extra]
    script = (f"source {shlex.quote(env_script)} && " if env_script else "") + \
        f"cd {shlex.quote(workspace)} && {shlex.join(command)}"
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)


def flashed_hex(build: Path) -> Path:
    """The hex `west flash` programs: the default domain's runners.yaml hex_file."""
    app = build
    domains = build / "domains.yaml"
    if domains.is_file():
        app = build / yaml.safe_load(domains.read_text())["default"]
    runners = yaml.safe_load((app / "zephyr" / "runners.yaml").read_text())
    hex_file = Path(runners["config"]["hex_file"])
    return hex_file if hex_file.is_absolute() else app / "zephyr" / hex_file


@pytest.mark.parametrize("variable, env_variable, mode", CASES,
                         ids=["zephyr-plain", "zephyr-sysbuild", "ncs-no-sysbuild",
                              "ncs-sysbuild"])
def test_sample_app_programs_factory_data(tmp_path, cli, variable, env_variable, mode):
    workspace = os.environ.get(variable)
    if not workspace:
        pytest.skip(f"{variable} is not set")
    build = tmp_path / "build"
    proc = west_build(workspace, os.environ.get(env_variable, ""), build, mode)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    made = re.search(r"factory data: \d+ of (\d+) bytes at (0x[0-9a-f]+) \((.*?)\) -> (\S+?)"
                     r"(?:,|\n|$)", proc.stdout)
    assert made, proc.stdout[-4000:]
    size, address = int(made.group(1)), int(made.group(2), 16)
    factory_hex = Path(made.group(4))
    data = factory_hex.with_suffix(".bin").read_bytes()

    programmed = flashed_hex(build)
    image = IntelHex(str(programmed))
    assert image.tobinstr(start=address, size=len(data)) == data, \
        f"{programmed} does not hold the factory data at 0x{address:x}"
    partition = image.tobinstr(start=address, size=size)  # erased bytes read as 0xff
    (tmp_path / "partition.bin").write_bytes(partition)
    shown = cli("show", tmp_path / "partition.bin", "--strict", "--json")
    assert shown.code == 0, shown
    assert json.loads(shown.out)["sn"] == "SAMPLE-0001"

    devparse = os.environ.get("MFD_DEVPARSE")
    if devparse:
        parsed = json.loads(subprocess.run([devparse, str(tmp_path / "partition.bin")],
                                           capture_output=True, text=True).stdout)
        assert parsed["ok"] is True and parsed["version"] == 1, parsed
        assert bytes.fromhex(parsed["sn"]) == b"SAMPLE-0001"

    # the layout check of the built directory passes too (devicetree or partitions.yml)
    checked = cli("check", "-d", build, "-q")
    assert checked.code == 0, checked


@pytest.mark.parametrize("variable, env_variable", [("MFD_ZEPHYR_WORKSPACE", "MFD_ZEPHYR_ENV"),
                                                    ("MFD_NCS_WORKSPACE", "MFD_NCS_ENV")],
                         ids=["zephyr", "ncs"])
def test_bad_devicetree_stops_configure(tmp_path, variable, env_variable):
    """The sample without pm_static.yml and its factory_data_partition moved into the
    board's storage_partition (0xf8000..0x100000): configure stops with one line."""
    import shutil

    workspace = os.environ.get(variable)
    if not workspace:
        pytest.skip(f"{variable} is not set")
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    (app / "pm_static.yml").unlink()
    overlay = app / "boards" / "nrf52840dk_nrf52840.overlay"
    overlay.write_text(overlay.read_text().replace("partition@f7000", "partition@fb000")
                       .replace("<0x000f7000 0x00001000>", "<0x000fb000 0x00001000>"))
    proc = west_build(workspace, os.environ.get(env_variable, ""), tmp_path / "build",
                      "--no-sysbuild", app=app)
    assert proc.returncode != 0
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
             if "matter-factory-data:" in line]
    assert len(lines) == 1, (proc.stdout + proc.stderr)[-3000:]
    assert lines[0].startswith("matter-factory-data: devicetree node label "
                               "factory_data_partition")
    assert "factory_data (0xfb000..0xfc000) overlaps storage_partition (0xf8000..0x100000)" \
        in lines[0]


@pytest.mark.parametrize("variable, env_variable, mode", CASES)
def test_the_production_profile_refuses_the_sample_development_identity(tmp_path, variable,
                                                                       env_variable, mode):
    """CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y in a real build: the sample's development
    identity (test VID 0xFFF1) stops the build at the factory data step with one error line
    naming the Kconfig symbols (never the generator's options), and nothing is merged."""
    workspace = os.environ.get(variable)
    if not workspace:
        pytest.skip(f"{variable} is not set")
    build = tmp_path / "build"
    proc = west_build(workspace, os.environ.get(env_variable, ""), build, mode,
                      "-DCONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y")
    assert proc.returncode != 0
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
             if "production rule" in line or "profile rule" in line]
    assert len(lines) == 1, (proc.stdout + proc.stderr)[-3000:]
    assert re.match(r"error: CONFIG_CHIP_DEVICE_VENDOR_ID=(65521|0xFFF1): the vendor ID is "
                    r"0xFFF1, a test vendor ID \(production rule 'test-vendor-id'", lines[0]), \
        lines[0]
    assert "refused by CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y" in lines[0]
    assert "--vendor_id" not in lines[0]
    assert not list(build.rglob("factory_data.hex"))
