"""`merge`: firmware hex + factory data hex -> one hex; build-directory defaults; refusals."""

import json

import pytest
from conftest import snapshot
from intelhex import IntelHex
from test_build_dir_commands import FD_ADDRESS, FD_SIZE, make_build, step_argv, write_firmware

from matter_factory_data.errors import InputError, PartitionError
from matter_factory_data.formats.hexfile import to_hex_text
from matter_factory_data.zephyr.build_step import merged_hex
from matter_factory_data.zephyr.merge import merge_images, page_range

FACTORY = bytes(range(200)) + b"\x00"


def write_factory(path, address=FD_ADDRESS, data=FACTORY):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_hex_text(address, data))
    return path


def built(tmp_path, **kwargs):
    """A build directory after `west build`: zephyr.hex, factory_data.hex, merged.hex."""
    build, app = make_build(tmp_path / "build", **kwargs)
    write_factory(app / "zephyr" / "factory_data.hex")
    (app / "zephyr" / "merged.hex").write_text("stale\n")
    return build, app


# --- merge_images ------------------------------------------------------------------

def test_merge_images_is_byte_identical_to_the_build_step(tmp_path):
    firmware = write_firmware(tmp_path / "zephyr.hex", segments=((0, 0x300), (0x10000, 0x20)))
    factory = to_hex_text(FD_ADDRESS, FACTORY)
    ours = merge_images(firmware.read_text(), factory, FD_ADDRESS, FD_SIZE,
                        firmware_label="fw")
    assert ours == merged_hex(str(firmware), factory, FD_ADDRESS, FD_SIZE)
    image = IntelHex()
    image.loadhex(str(firmware))
    image.merge(IntelHex(_load(factory)), overlap="error")
    assert IntelHex(_load(ours.decode())).todict() == image.todict()


def _load(text):
    import io

    image = IntelHex()
    image.loadhex(io.StringIO(text))
    return image


@pytest.mark.parametrize("segments, first", [
    (((FD_ADDRESS - 0x10, 0x11),), FD_ADDRESS),  # last byte inside
    (((FD_ADDRESS + 0xFFF, 1),), FD_ADDRESS + 0xFFF),
    (((0, 0x200), (FD_ADDRESS + 0x800, 4)), FD_ADDRESS + 0x800),
], ids=["tail-into-start", "last-byte", "second-segment"])
def test_merge_images_refuses_firmware_inside_the_range(tmp_path, segments, first):
    firmware = write_firmware(tmp_path / "fw.hex", segments=segments).read_text()
    with pytest.raises(PartitionError, match=f"fw: the firmware has data at 0x{first:x}, inside "
                                             r"factory_data \(0xfb000..0xfc000\)"):
        merge_images(firmware, to_hex_text(FD_ADDRESS, FACTORY), FD_ADDRESS, FD_SIZE,
                     firmware_label="fw")


def test_merge_images_accepts_firmware_right_before_and_after(tmp_path):
    firmware = write_firmware(tmp_path / "fw.hex", segments=(
        (FD_ADDRESS - 0x10, 0x10), (FD_ADDRESS + FD_SIZE, 0x10))).read_text()
    merged = merge_images(firmware, to_hex_text(FD_ADDRESS, FACTORY), FD_ADDRESS, FD_SIZE,
                          firmware_label="fw")
    assert _load(merged.decode()).tobinstr(start=FD_ADDRESS, size=len(FACTORY)) == FACTORY


@pytest.mark.parametrize("factory, message", [
    ("garbage\n", "fd: not a valid Intel HEX file"),
    (":00000001FF\n", "fd: the Intel HEX file holds no data"),
    (to_hex_text(FD_ADDRESS - 0x10, FACTORY), "fd: data at 0xfaff0..0xfb0b9 lies outside"),
], ids=["not-hex", "empty", "outside-partition"])
def test_merge_images_refuses_bad_factory_data(tmp_path, factory, message):
    firmware = write_firmware(tmp_path / "fw.hex").read_text()
    with pytest.raises((InputError, PartitionError), match=message):
        merge_images(firmware, factory, FD_ADDRESS, FD_SIZE, firmware_label="fw",
                     factory_label="fd")


@pytest.mark.parametrize("segments, expected", [
    ([(0xFB000, 0xFB0C9)], (0xFB000, 0x1000)),
    ([(0xFB010, 0xFC001)], (0xFB000, 0x2000)),
    ([(0x172000, 0x173000)], (0x172000, 0x1000)),
    ([(0x1000, 0x1001), (0x3000, 0x3001)], (0x1000, 0x3000)),
], ids=["one-page", "straddling", "exact-page", "two-segments"])
def test_page_range(segments, expected):
    assert page_range(segments) == expected


# --- merge in a build directory -------------------------------------------------------

@pytest.mark.parametrize("sysbuild", [False, True], ids=["plain", "sysbuild"])
def test_merge_d_replaces_the_builds_merged_hex(cli, tmp_path, sysbuild):
    build, app = built(tmp_path, sysbuild=sysbuild)
    zephyr = app / "zephyr"
    result = cli("merge", "-d", build)
    assert result.code == 0, result
    assert result.err == ""
    assert result.out == (f"merged {zephyr / 'zephyr.hex'} and {zephyr / 'factory_data.hex'} "
                          f"(factory data in 0xfb000..0xfc000) -> {zephyr / 'merged.hex'}\n")
    assert (zephyr / "merged.hex").read_bytes() == merged_hex(
        str(zephyr / "zephyr.hex"), (zephyr / "factory_data.hex").read_text(), FD_ADDRESS,
        FD_SIZE)


def test_merge_uses_the_files_the_step_recorded(cli, tmp_path):
    build, app = built(tmp_path)
    other_fw = write_firmware(tmp_path / "out" / "zephyr.signed.hex", segments=((0x200, 0x10),))
    argv = step_argv(app)
    argv[argv.index("--firmware-hex") + 1] = str(other_fw)
    argv[argv.index("--merged-hex") + 1] = str(tmp_path / "out" / "merged.hex")
    (app / "zephyr" / "factory_data_step.json").write_text(json.dumps({"argv": argv}))
    result = cli("merge")  # the build is ./build
    assert result.code == 0, result
    merged = IntelHex(str(tmp_path / "out" / "merged.hex"))
    assert merged.segments() == [(0x200, 0x210), (FD_ADDRESS, FD_ADDRESS + len(FACTORY))]
    assert (app / "zephyr" / "merged.hex").read_text() == "stale\n"


def test_merge_checks_against_the_builds_partition(cli, tmp_path):
    """Firmware after the factory data page is fine by the page rule but lies in a larger
    recorded partition (devicetree, 0x2000 bytes)."""
    build, app = built(tmp_path)
    write_firmware(app / "zephyr" / "zephyr.hex", segments=((0, 0x100), (FD_ADDRESS + 0x1800, 4)))
    argv = step_argv(app)
    at = argv.index("--pm-static")
    argv[at:at + 2] = ["--dt-address", hex(FD_ADDRESS), "--dt-size", "0x2000"]
    (app / "zephyr" / "factory_data_step.json").write_text(json.dumps({"argv": argv}))
    before = snapshot(build)
    result = cli("merge", "-d", build)
    assert result.code == 1
    assert result.err == (f"error: --firmware {app / 'zephyr' / 'zephyr.hex'}: the firmware has "
                          "data at 0xfc800, inside factory_data (0xfb000..0xfd000); the firmware "
                          "overlaps the partition\n")
    assert snapshot(build) == before

    (app / "zephyr" / "factory_data_step.json").unlink()  # without it: the page rule
    assert cli("merge", "-d", build).code == 0


def test_merge_in_a_partition_manager_build_says_what_it_wrote(cli, tmp_path):
    """With Partition Manager the build records no --merged-hex: PM makes the merged.hex
    west flash uses, so the app-only file written here comes with a note."""
    from conftest import REPO_ROOT

    build, app = built(tmp_path)
    partitions = REPO_ROOT / "tests" / "data" / "layout" / "nrf52840_partitions.yml"
    argv = step_argv(app)[:4] + ["--partitions", str(partitions)]
    (app / "zephyr" / "factory_data_step.json").write_text(json.dumps({"argv": argv}))
    result = cli("merge", "-d", build)
    assert result.code == 0, result
    assert result.out.splitlines()[1] == (
        "note: in this build Partition Manager merges the factory data into the merged.hex "
        "that west flash programs; the file written here holds only the application image and "
        "the factory data")
    assert IntelHex(str(app / "zephyr" / "merged.hex")).segments()[-1][0] == FD_ADDRESS
    assert len(cli("merge", "-d", build, "-o", "x.hex").out.splitlines()) == 1


def test_merge_without_step_file_uses_the_build_layout(cli, tmp_path):
    build, app = built(tmp_path, sysbuild=True, step=False)
    result = cli("merge", "-d", build)
    assert result.code == 0, result
    assert "(factory data in 0xfb000..0xfc000)" in result.out
    assert IntelHex(str(app / "zephyr" / "merged.hex")).segments()[-1] == \
        (FD_ADDRESS, FD_ADDRESS + len(FACTORY))


def test_merge_d_explicit_output_is_not_replaced_without_overwrite(cli, tmp_path):
    build, app = built(tmp_path)
    out = tmp_path / "mine.hex"
    out.write_text("keep\n")
    result = cli("merge", "-d", build, "-o", out)
    assert result.code == 2
    assert result.err == f"error: {out}: already exists; pass --overwrite to replace it\n"
    assert out.read_text() == "keep\n"
    assert cli("merge", "-d", build, "-o", out, "--overwrite").code == 0
    zephyr = app / "zephyr"
    assert out.read_bytes() == merged_hex(str(zephyr / "zephyr.hex"),
                                          (zephyr / "factory_data.hex").read_text(),
                                          FD_ADDRESS, FD_SIZE)
    assert (zephyr / "merged.hex").read_text() == "stale\n"


# --- merge of plain files ---------------------------------------------------------------

def test_merge_files_outside_a_build(cli, tmp_path):
    firmware = write_firmware(tmp_path / "fw.hex")
    factory = write_factory(tmp_path / "fd.hex")
    result = cli("merge", "--firmware", firmware, "--factory-data", factory, "-o", "m.hex")
    assert result.code == 0, result
    assert (tmp_path / "m.hex").read_bytes() == merged_hex(str(firmware), factory.read_text(),
                                                           FD_ADDRESS, FD_SIZE)
    again = cli("merge", "--firmware", firmware, "--factory-data", factory, "-o", "m.hex")
    assert again.code == 2
    assert again.err == "error: m.hex: already exists; pass --overwrite to replace it\n"
    assert cli("merge", "--firmware", firmware, "--factory-data", factory, "-o", "m.hex",
               "--overwrite").code == 0


def test_merge_refuses_firmware_in_the_factory_data_page(cli, tmp_path):
    firmware = write_firmware(tmp_path / "fw.hex", segments=((0, 0x10), (FD_ADDRESS + 0xF00, 8)))
    factory = write_factory(tmp_path / "fd.hex")
    result = cli("merge", "--firmware", firmware, "--factory-data", factory, "-o", "m.hex")
    assert result.code == 1
    assert result.err == (f"error: --firmware {firmware}: the firmware has data at 0xfbf00, "
                          "inside the factory data pages (0xfb000..0xfc000); the firmware "
                          "overlaps the partition\n")
    assert not (tmp_path / "m.hex").exists()


@pytest.mark.parametrize("which, content, message", [
    ("firmware", None, "error: --firmware {path}: cannot read the file (No such file or "
                       "directory)"),
    ("factory", None, "error: --factory-data {path}: cannot read the file (No such file or "
                      "directory)"),
    ("firmware", b"not hex\n", "error: --firmware {path}: not a valid Intel HEX file"),
    ("factory", b"\xff\xfe\n", "error: --factory-data {path}: not an Intel HEX file "
                               "(non-ASCII content)"),
    ("firmware", b":00000001FF\n", "error: --firmware {path}: the Intel HEX file holds no data"),
], ids=["no-firmware", "no-factory", "firmware-not-hex", "factory-binary", "firmware-empty"])
def test_merge_bad_input_is_one_line(cli, tmp_path, which, content, message):
    paths = {"firmware": tmp_path / "fw.hex", "factory": tmp_path / "fd.hex"}
    write_firmware(paths["firmware"])
    write_factory(paths["factory"])
    paths[which].unlink()
    if content is not None:
        paths[which].write_bytes(content)
    before = snapshot(tmp_path)
    result = cli("merge", "--firmware", paths["firmware"], "--factory-data", paths["factory"],
                 "-o", tmp_path / "m.hex")
    assert result.code == 2
    assert result.err.startswith(message.format(path=paths[which]))
    assert len(result.err.splitlines()) == 1
    assert snapshot(tmp_path) == before


def test_merge_without_files_or_build_is_one_line(cli, tmp_path):
    result = cli("merge", "--firmware", "fw.hex")
    assert result.code == 2
    assert result.err == ("error: no Zephyr build directory found (tried build and .: no "
                          "CMakeCache.txt naming ZEPHYR_BASE); give -d BUILD_DIR, or --firmware, "
                          "--factory-data and -o/--output\n")


def test_merge_in_a_build_without_factory_data(cli, tmp_path):
    build, app = make_build(tmp_path / "build")
    result = cli("merge", "-d", build)
    assert result.code == 2
    assert result.err.startswith("error: no factory data hex in the build (tried ")
    assert result.err.rstrip().endswith("or give --factory-data HEX")
    assert not (app / "zephyr" / "merged.hex").exists()


def test_merge_explicit_input_wins_over_the_build(cli, tmp_path):
    build, app = built(tmp_path)
    factory = write_factory(tmp_path / "other" / "fd.hex", data=b"\x01" * 16 + b"\x00")
    result = cli("merge", "-d", build, "--factory-data", factory)
    assert result.code == 0, result
    merged = IntelHex(str(app / "zephyr" / "merged.hex"))
    assert merged.tobinstr(start=FD_ADDRESS, size=17) == b"\x01" * 16 + b"\x00"
