"""Devicetree partitions (issue #9): the factory data partition read with Zephyr's
python-devicetree from a zephyr.dts or an edt.pickle, absolute through nested ``ranges`` and
the flash node, and checked with its sibling partitions like a pm_static.yml."""

import pickle
import shutil

import pytest
from conftest import REPO_ROOT

from matter_factory_data.errors import InputError
from matter_factory_data.zephyr.devicetree import find_partition

DT = REPO_ROOT / "tests" / "data" / "devicetree"
edtlib = pytest.importorskip("devicetree.edtlib")


@pytest.mark.parametrize("name, found_by, address, size, flash_base", [
    ("nrf52840_good.dts", "node label factory_data_partition", 0xF7000, 0x1000, 0),
    ("nrf52840_alias.dts", "alias factory-data", 0xF7000, 0x1000, 0),
    # the node label wins over the alias (here pointing at another partition)
    ("nrf52840_label_and_alias.dts", "node label factory_data_partition", 0xF7000, 0x1000, 0),
    # a child of a container with ranges = <0x0 0x16a000 ...>: reg 0x8000 -> 0x172000
    ("nrf54l15_nested_ranges.dts", "node label factory_data_partition", 0x172000, 0x1000, 0),
    # the same under a flash node at 0xe000000 (MRAM-like): the partitions are relative to it
    ("mram_base_nested.dts", "node label factory_data_partition", 0xE172000, 0x1000,
     0xE000000),
])
def test_absolute_address(name, found_by, address, size, flash_base):
    layout = find_partition(DT / name)
    assert (layout.found_by, layout.node.address, layout.node.size, layout.flash_base) == \
        (found_by, address, size, flash_base)


def test_siblings_and_containers():
    layout = find_partition(DT / "nrf54l15_nested_ranges.dts")
    rows = {p.name: (p.address, p.size, p.children) for p in layout.partitions}
    assert rows == {
        "boot_partition": (0x0, 0x10000, ()),
        "slot0_partition": (0x10000, 0x14A000, ()),
        "storage_partition": (0x15A000, 0x10000, ()),
        "secure_storage": (0x16A000, 0x13000, ("factory_data_partition", "tfm_its_partition")),
        "factory_data_partition": (0x172000, 0x1000, ()),
        "tfm_its_partition": (0x16B000, 0x2000, ()),
    }


def test_edt_pickle_gives_the_same_as_the_source(tmp_path):
    """A pickled edtlib.EDT (what a build writes to zephyr/edt.pickle) reads the same; edtlib's
    own reg translation agrees with ours."""
    edt = edtlib.EDT(str(DT / "nrf54l15_nested_ranges.dts"), [])
    assert edt.label2node["factory_data_partition"].regs[0].addr == 0x172000
    path = tmp_path / "edt.pickle"
    path.write_bytes(pickle.dumps(edt))
    assert find_partition(path) == find_partition(DT / "nrf54l15_nested_ranges.dts")._replace(
        source=str(path))


def test_no_partition_is_none_and_bad_files_are_one_line(tmp_path):
    assert find_partition(DT / "nrf52840_none.dts") is None
    bad = tmp_path / "edt.pickle"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(InputError, match=r"edt.pickle: cannot read the pickled devicetree"):
        find_partition(bad)
    with pytest.raises(InputError, match=r"no such devicetree file"):
        find_partition(tmp_path / "missing.dts")


# --- check --devicetree: every layout rule, one line each --------------------------------

CHECK_CASES = {
    "good": ("nrf52840_good.dts", "nrf52840", (), 0, None),
    "overlap-storage": (
        "nrf52840_overlap_storage.dts", "nrf52840", (), 1,
        "factory_data (0xfb000..0xfc000) overlaps storage_partition (0xf8000..0x100000); move "
        "one of them: factory_data must end at or before 0xf8000 or start at or after 0x100000"),
    "overlap-slot0": (
        "nrf52840_overlap_slot0.dts", "nrf52840", (), 1,
        "factory_data (0xf7000..0xf8000) overlaps slot0_partition (0xc000..0xf8000); move one of "
        "them: factory_data must end at or before 0xc000 or start at or after 0xf8000"),
    "outside": (
        "nrf52840_outside_flash.dts", "nrf52840", (), 1,
        "factory_data (0x100000..0x101000) is outside flash_primary of nrf52840 (0x0..0x100000, "
        "1024 KiB)"),
    "misaligned": (
        "nrf52840_misaligned.dts", "nrf52840", (), 1,
        "factory_data address 0xf7800 is not a multiple of the nrf52840 flash page (0x1000 = "
        "4 KiB); move it to 0xf7000 or 0xf8000"),
    "nested-good": ("nrf54l15_nested_ranges.dts", "nrf54l15", (), 0, None),
    "nested-overlap": (
        "nrf54l15_nested_overlap.dts", "nrf54l15", (), 1,
        "factory_data (0x16c000..0x16d000) overlaps tfm_its_partition (0x16b000..0x16d000)"),
    # nRF5340: 16 KiB fprotect block 0xf4000..0xf8000 ends where storage_partition starts
    "nrf5340-fprotect-ok": ("nrf52840_good.dts", "nrf5340", (), 0, None),
    "nrf5340-fprotect-storage": (
        "nrf52840_overlap_storage.dts", "nrf5340", (), 1,
        "factory_data (0xfb000..0xfc000) overlaps storage_partition"),
}


@pytest.mark.parametrize("case", CHECK_CASES)
def test_check_devicetree(cli, case):
    name, soc, extra, code, message = CHECK_CASES[case]
    result = cli("check", "--devicetree", DT / name, "--soc", soc, *extra)
    assert result.code == code, result
    if message is None:
        assert result.err == ""
        assert result.out.splitlines()[-1].startswith("layout OK: factory_data")
        assert "factory_data (0x1000 - 4kB)" in result.out  # the drawn layout
    else:
        first = result.err.splitlines()[0]
        assert first.startswith(f"error: {DT / name}: {message}"), result.err


def test_write_protection_is_checked_by_default_and_skips_are_reported(cli, tmp_path):
    """The fprotect rule applies by default where the SoC has it (the firmware default is
    write protection on); the report says when and why it was skipped."""
    dts = tmp_path / "fprotect.dts"
    dts.write_text((DT / "nrf52840_good.dts").read_text()
                   .replace("<0xc000 0xeb000>", "<0xc000 0xe8000>")
                   .replace("partition@f7000", "partition@f4000")
                   .replace("<0xf7000 0x1000>", "<0xf4000 0x1000>")
                   .replace("partition@f8000", "partition@f5000")
                   .replace("<0xf8000 0x8000>", "<0xf5000 0xb000>"))
    result = cli("check", "--devicetree", dts, "--soc", "nrf5340", "-q")
    assert result.code == 1, result
    assert result.err.splitlines()[0] == (
        f"error: {dts}: with write protection the 16 KiB fprotect block 0xf4000..0xf8000 "
        "around factory_data (0xf4000..0xf5000) overlaps storage_partition (0xf5000..0x100000); "
        "start storage_partition at a 0x4000 boundary at or after 0xf8000 (or end it at or "
        "before 0xf4000), keeping its size a multiple of 16 KiB, or turn off "
        "CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT")
    # nRF52840: 4 KiB blocks, the same layout passes
    assert cli("check", "--devicetree", dts, "--soc", "nrf52840", "-q").code == 0

    skipped = cli("check", "--devicetree", DT / "nrf52840_good.dts", "--soc", "nrf5340",
                  "--no-write-protect")
    assert skipped.code == 0
    assert "write protection check skipped: --no-write-protect" in skipped.out
    nrf54l = cli("check", "--devicetree", DT / "nrf54l15_nested_ranges.dts", "--soc", "nrf54l15")
    assert nrf54l.code == 0 and nrf54l.err == ""
    assert "write protection check skipped: nrf54l15 has no factory data write protection " \
           "(nRF54L: CHIP_FACTORY_DATA_WRITE_PROTECT depends on !SOC_SERIES_NRF54L)" in nrf54l.out
    asked = cli("check", "--devicetree", DT / "nrf54l15_nested_ranges.dts", "--soc", "nrf54l15",
                "--write-protect", "-q")
    assert asked.code == 0
    assert asked.err.startswith(f"warning: {DT / 'nrf54l15_nested_ranges.dts'}: write "
                                "protection is not available on nrf54l15 "
                                "(CHIP_FACTORY_DATA_WRITE_PROTECT depends on "
                                "!SOC_SERIES_NRF54L")


def test_pm_static_fprotect_by_default(cli):
    """A layout file on an SoC with fprotect: the rule is checked without --write-protect."""
    bad = REPO_ROOT / "tests" / "data" / "layout" / "bad" / "nrf5340_fprotect_settings.yml"
    result = cli("check", "--pm-static", bad, "--soc", "nrf5340")
    assert result.code == 1
    assert "with write protection the 16 KiB fprotect block" in result.err


def test_check_build_dir_pm_and_devicetree_disagree(cli, tmp_path):
    """A build with partitions.yml (PM, 0xfb000) and a devicetree placing factory_data at
    0xf7000: both are named (the 0xFB000 -> 0xF7000 migration hazard)."""
    build = tmp_path / "build"
    (build / "zephyr").mkdir(parents=True)
    (build / "CMakeCache.txt").write_text("CMAKE_PROJECT_NAME:STATIC=app\n")
    (build / "zephyr" / ".config").write_text('CONFIG_SOC="nrf52840"\n')
    edt = edtlib.EDT(str(DT / "nrf52840_good.dts"), [])
    (build / "zephyr" / "edt.pickle").write_bytes(pickle.dumps(edt))
    shutil.copy(REPO_ROOT / "tests" / "data" / "layout" / "nrf52840_partitions.yml",
                build / "partitions.yml")
    result = cli("check", "-d", build, "-q")
    assert result.code == 1, result
    first = result.err.splitlines()[0]
    assert first.startswith(f"error: {build / 'partitions.yml'}: {build / 'partitions.yml'} "
                            "places factory_data at 0xfb000 (size 0x1000) but devicetree node "
                            "label factory_data_partition"), first
    assert "at 0xf7000 (size 0x1000); make them agree" in first

    (build / "partitions.yml").unlink()  # devicetree only: checked like the layout file
    result = cli("check", "-d", build)
    assert result.code == 0, result
    assert "layout OK: factory_data (0xf7000..0xf8000) on nrf52840" in result.out
