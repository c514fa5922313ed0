"""check: the factory_data partition layout checks (core/layout.py, layout_check.py)."""

import struct
from pathlib import Path

import pytest

from matter_factory_data.errors import InputError
from matter_factory_data.formats import hexfile
from matter_factory_data.zephyr.layout import (
    ERROR,
    SOCS,
    WARNING,
    LoadSection,
    Partition,
    check_layout,
    draw_report,
    parse_layout,
    soc_info,
)

DATA = Path(__file__).resolve().parent / "data" / "layout"
BAD = DATA / "bad"
NRF52840 = DATA / "nrf52840_pm_static.yml"


def check(cli, layout, soc="nrf52840", *extra):
    return cli("check", "--pm-static", layout, "--soc", soc, *extra)


def one_line(text: str, fragment: str) -> str:
    """The single line of ``text`` holding ``fragment``."""
    lines = [line for line in text.splitlines() if fragment in line]
    assert len(lines) == 1, text
    return lines[0]


# --- a tiny ELF32 (ARM, little endian) written by hand ---------------------------

def make_elf(sections) -> bytes:
    """``sections``: (name, vaddr, lma, size, sh_type) with sh_type 1 PROGBITS or 8 NOBITS.

    Each PROGBITS section gets its own PT_LOAD segment (vaddr -> lma); every section is
    SHF_ALLOC. A .shstrtab is added.
    """
    names = b"\0" + b"".join(s[0].encode() + b"\0" for s in sections) + b".shstrtab\0"
    loads = [s for s in sections if s[4] == 1]
    offset = 52 + 32 * len(loads)
    body, headers, phdrs = b"", [struct.pack("<10I", *[0] * 10)], b""
    name_at = 1
    for name, vaddr, lma, size, kind in sections:
        data_offset = offset + len(body)
        headers.append(struct.pack("<10I", name_at, kind, 0x2, vaddr, data_offset,
                                   size, 0, 0, 4, 0))
        if kind == 1:
            phdrs += struct.pack("<8I", 1, data_offset, vaddr, lma, size, size, 5, 4)
            body += b"\xaa" * size
        name_at += len(name) + 1
    strtab_offset = offset + len(body)
    headers.append(struct.pack("<10I", name_at, 3, 0, 0, strtab_offset, len(names), 0, 0, 1, 0))
    body += names + b"\0" * (-len(names) % 4)
    shoff = offset + len(body)
    ident = b"\x7fELF\x01\x01\x01" + b"\0" * 9
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, 0, 52 if loads else 0, shoff, 0,
                                 52, 32, len(loads), 40, len(headers), len(headers) - 1)
    return header + phdrs + body + b"".join(headers)


# --- good layouts ----------------------------------------------------------------

@pytest.mark.parametrize("option, layout, soc, extra", [
    ("--pm-static", NRF52840, "nrf52840", ()),
    ("--partitions", DATA / "nrf52840_partitions.yml", "nrf52840", ()),
    ("--partitions", DATA / "nrf5340_mcuboot_partitions.yml", "nrf5340", ("--write-protect",)),
    ("--partitions", DATA / "nrf5340_mcuboot_partitions.yml", "nRF5340_CPUAPP_QKAA", ()),
    ("--pm-static", DATA / "nrf54l15_pm_static.yml", "nrf54l15", ()),
    ("--pm-static", DATA / "nrf5340_cpunet_pm_static.yml", "nrf5340_cpunet", ()),
    ("--pm-static", NRF52840, "nrf52840", ("--write-protect",)),
    ("--pm-static", DATA / "nrf54l15_pm_static.yml", "nrf54l15/cpuapp", ()),
], ids=["nrf52840-static", "nrf52840-partitions", "nrf5340-mcuboot-wp", "nrf5340-old-soc-name",
        "nrf54l15", "nrf5340-netcore-2k", "nrf52840-wp", "nrf54l15-qualified"])
def test_good_layouts(cli, option, layout, soc, extra):
    result = cli("check", option, layout, "--soc", soc, *extra)
    assert result.code == 0, result.err
    assert result.err == ""
    assert "layout OK: factory_data (0x" in result.out


def test_ok_line_names_partition_soc_and_image_use(cli, tmp_path):
    (tmp_path / "fd.bin").write_bytes(b"\xa0\x00" * 600)
    result = check(cli, NRF52840, "nrf52840", "--data", tmp_path / "fd.bin")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == ("layout OK: factory_data (0xfb000..0xfc000) on "
                                           "nrf52840, image 1200 of 4096 bytes")


def test_anchors_and_empty_gaps_are_understood():
    import yaml

    data = yaml.safe_load((DATA / "nrf5340_mcuboot_partitions.yml").read_text())
    parts = {p.name: p for p in parse_layout(data, source="partitions.yml")}
    assert parts["mcuboot_primary"].span == ("mcuboot_pad", "app")
    assert parts["mcuboot_primary_app"].span == ("app",)
    assert parts["EMPTY_0"] == Partition("EMPTY_0", 0xF5000, 0x3000)
    assert check_layout(list(parts.values()), soc="nrf5340", write_protect=True) == []


# --- bad layouts: exit code, the one line naming partitions and addresses, the fix --------

BAD_CASES = [
    # (layout, soc, extra, code, message fragment, fix fragment)
    ("missing_factory_data.yml", "nrf52840", (), 1,
     "no factory_data partition in the layout",
     "add 'factory_data: {address: 0xfb000, size: 0x1000}' to pm_static.yml"),
    ("misaligned_address.yml", "nrf52840", (), 1,
     "factory_data address 0xfb800 is not a multiple of the nrf52840 flash page "
     "(0x1000 = 4 KiB)", "move it to 0xfb000 or 0xfc000"),
    ("misaligned_size.yml", "nrf52840", (), 1,
     "factory_data size 0x800 (at 0xfb000) is not a multiple of the nrf52840 flash page "
     "(0x1000 = 4 KiB)", "use size 0x1000"),
    ("cpunet_1k.yml", "nrf5340_cpunet", (), 1,
     "factory_data size 0x400 (at 0x103ec00) is not a multiple of the nrf5340_cpunet flash "
     "page (0x800 = 2 KiB)", "use size 0x800"),
    ("cpunet_1k.yml", "nrf5340_cpunet", (), 1,
     "factory_data address 0x103ec00 is not a multiple of the nrf5340_cpunet flash page "
     "(0x800 = 2 KiB)", "move it to 0x103e800 or 0x103f000"),
    ("overlap_settings.yml", "nrf52840", (), 1,
     "factory_data (0xfb000..0xfc000) overlaps settings_storage (0xfb800..0x100000)",
     "factory_data must end at or before 0xfb800 or start at or after 0x100000"),
    ("overlap_app_partitions.yml", "nrf5340", (), 1,
     "factory_data (0x7f000..0x80000) overlaps app (0xc200..0x80000)",
     "factory_data must end at or before 0xc200 or start at or after 0x80000"),
    ("overlap_container.yml", "nrf5340", (), 1,
     "factory_data (0x7f000..0x80000) overlaps container mcuboot_primary (0xc000..0x80000) "
     "(span: mcuboot_pad, app)", "or list factory_data in the span of mcuboot_primary"),
    ("../nrf52840_pm_static.yml", "nrf52833", (), 1,
     "factory_data (0xfb000..0xfc000) is outside flash_primary of nrf52833 (0x0..0x80000, "
     "512 KiB)", "place it inside 0x0..0x80000"),
    ("size_64k.yml", "nrf52840", (), 1,
     "factory_data (0xe0000..0xf0000) is 0x10000 bytes (64 KiB); the device parser holds the "
     "partition size in 16 bits", "use size 0xf000 or less"),
    ("nrf5340_fprotect_settings.yml", "nrf5340", ("--write-protect",), 1,
     "with write protection the 16 KiB fprotect block 0xf8000..0xfc000 around factory_data "
     "(0xfa000..0xfb000) overlaps settings_storage (0xfb000..0x100000)",
     "start settings_storage at a 0x4000 boundary at or after 0xfc000"),
    ("malformed.yml", "nrf52840", (), 2,
     "malformed.yml: not valid YAML (while parsing a flow mapping at line 1, column 15: "
     "expected ',' or '}', but got ':' at line 2, column 17)", "fix the syntax"),
    ("missing_size.yml", "nrf52840", (), 2,
     "missing_size.yml: factory_data: missing size", "a static partition needs both address "
     "and size (e.g. 'address: 0xfb000, size: 0x1000')"),
    ("missing_address.yml", "nrf52840", (), 2,
     "missing_address.yml: factory_data: missing address", "needs both address and size"),
    ("non_int_address.yml", "nrf52840", (), 2,
     "non_int_address.yml: factory_data.address: 'fb000' is not an integer",
     "write it in hex, e.g. 'address: 0xfb000'"),
    ("end_address_mismatch.yml", "nrf52840", (), 2,
     "factory_data.end_address: 0xfd000 is not address 0xfb000 + size 0x1000 = 0xfc000",
     "fix end_address or size"),
    ("not_a_mapping.yml", "nrf52840", (), 2,
     "not_a_mapping.yml: expected a mapping of partition names to entries, got a YAML list",
     "write 'name: {address: ..., size: ...}' at the top level"),
    ("empty.yml", "nrf52840", (), 2, "empty.yml: the file is empty",
     "'factory_data: {address: 0xfb000, size: 0x1000}'"),
    ("does_not_exist.yml", "nrf52840", (), 2,
     "layout file", "does_not_exist.yml: cannot read the file (No such file or directory)"),
    ("../nrf52840_pm_static.yml", "nrf52999", (), 2,
     "--soc 'nrf52999': unknown SoC (accepted: nrf52805,", "nrf5340 means the application core"),
]


@pytest.mark.parametrize("layout, soc, extra, code, message, fix", BAD_CASES,
                         ids=[f"{c[0].split('/')[-1][:-4]}-{c[1]}-{c[4][:22]}" for c in BAD_CASES])
def test_bad_layouts(cli, layout, soc, extra, code, message, fix):
    result = check(cli, BAD / layout, soc, *extra)
    assert result.code == code, result
    line = one_line(result.err, message)
    assert line.startswith("error: ")
    assert fix in line


def test_errors_end_with_a_summary_and_keep_the_report(cli):
    result = check(cli, BAD / "overlap_settings.yml")
    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        f"error: {BAD / 'overlap_settings.yml'}: layout check failed with 1 error")
    assert "| 0xfb000: factory_data (0x1000 - 4kB)" in result.out
    assert "layout OK" not in result.out


def test_every_problem_is_reported_not_only_the_first(cli):
    result = check(cli, BAD / "cpunet_1k.yml", "nrf5340_cpunet")
    assert result.code == 1
    assert result.err.count("error: ") == 3  # address, size, summary
    assert "failed with 2 errors" in result.err


def test_write_protect_off_accepts_the_nrf5340_layout(cli):
    """Issue #9: a layout file is checked with write protection by default (the firmware's
    default); --no-write-protect turns it off and the report says so."""
    assert check(cli, BAD / "nrf5340_fprotect_settings.yml", "nrf5340").code == 1
    result = check(cli, BAD / "nrf5340_fprotect_settings.yml", "nrf5340", "--no-write-protect")
    assert result.code == 0
    assert "write protection check skipped: --no-write-protect" in result.out


def test_write_protect_on_nrf54l_is_a_warning(cli):
    result = check(cli, DATA / "nrf54l15_pm_static.yml", "nrf54l15", "--write-protect")
    assert result.code == 0
    assert one_line(result.err, "write protection is not available on nrf54l15").startswith(
        "warning: ")


def test_net_core_layout_is_outside_the_app_core_flash(cli):
    result = check(cli, DATA / "nrf5340_cpunet_pm_static.yml", "nrf5340")
    assert result.code == 1
    assert "is outside flash_primary of nrf5340_cpuapp (0x0..0x100000" in result.err


# --- the image size: the terminating byte counts; the exact boundary ------------

@pytest.mark.parametrize("size, code", [(0x1000, 0), (0x1001, 1), (1, 0)])
def test_image_size_boundary(cli, tmp_path, size, code):
    (tmp_path / "fd.bin").write_bytes(b"\xa0" * (size - 1) + b"\x00")
    result = check(cli, NRF52840, "nrf52840", "--data", tmp_path / "fd.bin")
    assert result.code == code, result.err
    if code:
        line = one_line(result.err, "does not fit")
        assert ("the factory data image (0x1001 = 4097 bytes with its terminating 0x00) does "
                "not fit factory_data (0xfb000..0xfc000), 0x1000 = 4096 bytes") in line
        assert "make factory_data at least 0x2000 bytes or leave out optional keys" in line


def test_hex_image_at_the_wrong_address(cli, tmp_path):
    (tmp_path / "fd.hex").write_text(hexfile.to_hex_text(0xF7000, b"\xa0\x00"))
    result = check(cli, NRF52840, "nrf52840", "--data", tmp_path / "fd.hex")
    assert result.code == 1
    line = one_line(result.err, "starts at 0xf7000")
    assert "but factory_data (0xfb000..0xfc000) starts at 0xfb000" in line
    assert "regenerate it with --offset 0xfb000 --size 0x1000" in line


def test_hex_image_at_the_right_address(cli, tmp_path):
    (tmp_path / "fd.hex").write_text(hexfile.to_hex_text(0xFB000, b"\xa0" * 99 + b"\x00"))
    result = check(cli, NRF52840, "nrf52840", "--data", tmp_path / "fd.hex")
    assert result.code == 0, result.err
    assert "image 100 of 4096 bytes" in result.out


def test_json_is_not_an_image(cli, tmp_path):
    (tmp_path / "fd.json").write_text("{}")
    result = check(cli, NRF52840, "nrf52840", "--data", tmp_path / "fd.json")
    assert result.code == 2
    assert "give the .bin or .hex image, not the JSON" in result.err


# --- the firmware ELF -------------------------------------------------------------

def test_elf_section_inside_factory_data(cli, tmp_path):
    (tmp_path / "zephyr.elf").write_bytes(make_elf([
        (".text", 0x0, 0x0, 0x100, 1), (".rodata", 0xFB100, 0xFB100, 0x40, 1)]))
    result = check(cli, NRF52840, "nrf52840", "--elf", tmp_path / "zephyr.elf")
    assert result.code == 1
    line = one_line(result.err, ".rodata")
    assert ("firmware section .rodata (0xfb100..0xfb140) lies inside factory_data "
            "(0xfb000..0xfc000)") in line
    assert "rebuild so that app ends at or before 0xfb000" in line
    assert ".text" not in result.err


def test_elf_data_section_is_checked_at_its_load_address(cli, tmp_path):
    (tmp_path / "zephyr.elf").write_bytes(make_elf([(".data", 0x20000000, 0xFBFF0, 0x20, 1)]))
    result = check(cli, NRF52840, "nrf52840", "--elf", tmp_path / "zephyr.elf")
    assert result.code == 1
    assert "firmware section .data (0xfbff0..0xfc010) lies inside factory_data" in result.err


def test_elf_outside_the_partition_and_nobits_are_fine(cli, tmp_path):
    (tmp_path / "zephyr.elf").write_bytes(make_elf([
        (".text", 0x0, 0x0, 0x100, 1), (".bss", 0xFB000, 0xFB000, 0x1000, 8)]))
    result = check(cli, NRF52840, "nrf52840", "--elf", tmp_path / "zephyr.elf")
    assert result.code == 0, result.err


def test_elf_that_is_not_an_elf(cli, tmp_path):
    (tmp_path / "zephyr.elf").write_bytes(b"not an elf at all")
    result = check(cli, NRF52840, "nrf52840", "--elf", tmp_path / "zephyr.elf")
    assert result.code == 2
    assert one_line(result.err, "zephyr.elf: not a readable ELF file").endswith(
        "give the firmware's zephyr.elf")


# --- the report -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nrf52840_partitions", "nrf5340_mcuboot_partitions"])
def test_report_matches_partition_manager_report(cli, name):
    expected = (DATA / f"{name}.report.txt").read_text()
    result = cli("check", "--partitions", DATA / f"{name}.yml", "--soc", "nrf5340")
    assert expected.rstrip("\n") in result.out
    assert "\033[" not in result.out


def test_draw_report_unit():
    parts = [Partition("app", 0, 0xFB000), Partition("factory_data", 0xFB000, 0x1000),
             Partition("settings_storage", 0xFC000, 0x4000),
             Partition("sram_primary", 0x20000000, 0x40000, "sram_primary")]
    assert draw_report(parts) == (DATA / "nrf52840_partitions.report.txt").read_text()


def test_draw_report_domain_and_colours():
    text = draw_report([Partition("factory_data", 0x1000000, 0x800)], "CPUNET", colour=True)
    assert text.startswith("\033[94m CPUNET flash_primary (0x800 - 2kB): \033[0m\n")
    assert "| \033[93m0x1000000: factory_data (0x800 - 2kB)\033[0m |" in text


def test_quiet_prints_only_problems(cli):
    assert check(cli, NRF52840, "nrf52840", "-q").out == ""


# --- build directories ----------------------------------------------------------

def make_build(root: Path, layout: Path, config: str, app: str = "") -> Path:
    app_dir = root / app if app else root
    (app_dir / "zephyr").mkdir(parents=True)
    (root / "partitions.yml").write_text(layout.read_text())
    (app_dir / "zephyr" / ".config").write_text(config)
    if app:
        (root / "domains.yaml").write_text(
            f"default: {app}\nbuild_dir: {root}\ndomains:\n- name: {app}\n"
            f"  build_dir: /elsewhere/{app}\nflash_order:\n- {app}\n")
    return app_dir


def test_build_dir_reads_soc_write_protect_and_image(cli, tmp_path):
    app = make_build(tmp_path / "build", BAD / "nrf5340_fprotect_settings.yml",
                     'CONFIG_SOC="nrf5340"\nCONFIG_SOC_NRF5340_CPUAPP=y\n'
                     "CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT=y\n")
    (app / "zephyr" / "factory_data.bin").write_bytes(b"\0" * 0x1001)
    result = cli("check", "-d", tmp_path / "build")
    assert result.code == 1
    assert "16 KiB fprotect block" in result.err
    assert "does not fit factory_data (0xfa000..0xfb000)" in result.err
    assert "for nrf5340_cpuapp (image " in result.out


def test_build_dir_write_protect_can_be_turned_off(cli, tmp_path):
    make_build(tmp_path / "build", BAD / "nrf5340_fprotect_settings.yml",
               'CONFIG_SOC="nrf5340"\nCONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT=y\n')
    assert cli("check", "-d", tmp_path / "build", "--no-write-protect").code == 0


def test_sysbuild_dir_uses_the_default_image_and_draws_every_domain(cli, tmp_path):
    build = tmp_path / "build"
    app = make_build(build, DATA / "nrf5340_mcuboot_partitions.yml",
                     'CONFIG_SOC="nRF5340_CPUAPP_QKAA"\n', app="light_bulb")
    (build / "partitions_CPUNET.yml").write_text(
        "app:\n  address: 0x1000000\n  end_address: 0x1040000\n  region: flash_primary\n"
        "  size: 0x40000\n")
    (app / "zephyr" / "zephyr.elf").write_bytes(make_elf([(".text", 0xC200, 0xC200, 0x100, 1)]))
    result = cli("check", "-d", build)
    assert result.code == 0, result.err
    assert f"firmware {app / 'zephyr' / 'zephyr.elf'}" in result.out
    assert " CPUNET flash_primary (0x40000 - 256kB): " in result.out
    assert "| 0x1000000: app (0x40000 - 256kB) |" in result.out


def test_build_dir_without_partition_manager(cli, tmp_path):
    (tmp_path / "build" / "zephyr").mkdir(parents=True)
    result = cli("check", "-d", tmp_path / "build")
    assert result.code == 2
    assert "no partitions.yml" in result.err and "--pm-static FILE --soc SOC" in result.err


def test_build_dir_without_soc(cli, tmp_path):
    make_build(tmp_path / "build", NRF52840, "CONFIG_FOO=y\n")
    result = cli("check", "-d", tmp_path / "build")
    assert result.code == 2
    assert "no CONFIG_SOC to tell the SoC; give --soc" in result.err
    assert cli("check", "-d", tmp_path / "build", "--soc", "nrf52840").code == 0


def test_layout_file_needs_a_soc(cli):
    result = cli("check", "--pm-static", NRF52840)
    assert result.code == 2
    assert "give --soc too (e.g. --soc nrf52840" in result.err


def test_one_source_is_required(cli):
    result = cli("check", "--soc", "nrf52840")
    assert result.code == 2
    assert ("one of the arguments -d/--build-dir --pm-static --partitions --devicetree is "
            "required") in result.err


# --- core/layout.py units ---------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("nrf52840", "nrf52840"), ("nRF52840_QIAA", "nrf52840"), ("nrf52833", "nrf52833"),
    ("nrf52832", "nrf52832"), ("nrf5340", "nrf5340_cpuapp"), ("nrf5340/cpuapp", "nrf5340_cpuapp"),
    ("nRF5340_CPUNET_QKAA", "nrf5340_cpunet"), ("nrf5340/cpunet", "nrf5340_cpunet"),
    ("nrf9160", "nrf9160"), ("nrf9161_ns", "nrf9161"), ("nrf54l15", "nrf54l15"),
    ("nrf54l15_cpuapp", "nrf54l15"),
])
def test_soc_names(name, expected):
    assert soc_info(name).name == expected


def test_soc_table_facts():
    assert (SOCS["nrf52840"].page_size, SOCS["nrf52840"].fprotect_block) == (0x1000, 0x1000)
    assert (SOCS["nrf5340_cpuapp"].fprotect_block, SOCS["nrf9160"].fprotect_block) == (
        0x4000, 0x8000)
    assert SOCS["nrf5340_cpunet"].page_size == 0x800
    assert not SOCS["nrf54l15"].write_protect and not SOCS["nrf5340_cpunet"].write_protect
    assert SOCS["nrf54l15"].flash_end == 0x17D000


def test_parse_accepts_hex_strings_and_computes_span_only_containers():
    parts = parse_layout({
        "mcuboot_pad": {"address": "0xc000", "size": "0x200"},
        "app": {"address": 0xC200, "size": 0x73E00},
        "mcuboot_primary": {"span": ["mcuboot_pad", "app"]},
        "outer": {"span": {"one_of": ["mcuboot_primary"]}, "region": "flash_primary"},
    }, source="pm_static.yml")
    by_name = {p.name: p for p in parts}
    assert by_name["mcuboot_pad"].address == 0xC000
    assert by_name["mcuboot_primary"][:3] == ("mcuboot_primary", 0xC000, 0x74000)
    assert by_name["outer"].end == 0x80000


def test_parse_refuses_an_unresolvable_container():
    with pytest.raises(InputError, match=r"pm_static.yml: mcuboot_primary: a container without "
                       r"address and size whose members \(mcuboot_pad, app\) are not all listed"):
        parse_layout({"mcuboot_primary": {"span": ["mcuboot_pad", "app"]}},
                     source="pm_static.yml")


@pytest.mark.parametrize("entry, fragment", [
    ({"address": True, "size": 0x1000}, "factory_data.address: True is not an integer"),
    ({"address": 1.5, "size": 0x1000}, "factory_data.address: 1.5 is not an integer"),
    ({"address": -4096, "size": 0x1000}, "factory_data.address: -4096 is negative"),
    ({"address": 0, "size": 0x1000, "region": 7}, "factory_data.region: 7 is not a name"),
    ({"address": 0, "size": 0x1000, "span": [1]}, "factory_data.span: [1] is not a list"),
    ("0xfb000", "factory_data: expected a mapping with address and size"),
])
def test_parse_errors_name_the_key(entry, fragment):
    with pytest.raises(InputError, match="^pm_static.yml: ") as info:
        parse_layout({"factory_data": entry}, source="pm_static.yml")
    assert fragment in str(info.value)


def test_factory_data_listed_in_a_container_is_not_an_overlap():
    parts = [Partition("app", 0, 0xFB000), Partition("factory_data", 0xFB000, 0x1000),
             Partition("image", 0, 0xFC000, span=("app", "factory_data"))]
    assert check_layout(parts, soc="nrf52840") == []


def test_other_regions_and_devices_do_not_overlap():
    parts = [Partition("factory_data", 0x0, 0x1000, "external_flash", device="MX25R64"),
             Partition("mcuboot", 0x0, 0xC000),
             Partition("mcuboot_secondary", 0x0, 0x1000, "external_flash", device="OTHER")]
    assert check_layout(parts, soc="nrf5340") == []


def test_external_flash_uses_the_4k_sector_and_no_bounds():
    parts = [Partition("factory_data", 0x800000, 0x800, "external_flash")]
    (finding,) = check_layout(parts, soc="nrf5340")
    assert "not a multiple of the external flash erase sector (0x1000 = 4 KiB)" in finding.line


def test_factory_data_in_ram_is_refused():
    (finding,) = check_layout([Partition("factory_data", 0x20000000, 0x1000, "sram_primary")],
                              soc="nrf52840")
    assert finding.line == ("factory_data (0x20000000..0x20001000) is in region sram_primary; "
                            "put it in flash_primary (internal flash) or external_flash")


def test_size_zero_is_refused():
    (finding,) = check_layout([Partition("factory_data", 0xFB000, 0)], soc="nrf52840")
    assert finding.line == ("factory_data at 0xfb000 has size 0; give it at least one page "
                            "(size: 0x1000)")


def test_fprotect_on_nrf91_is_32k_and_writable_partitions_warn():
    parts = [Partition("factory_data", 0xF8000, 0x1000),
             Partition("mcuboot_secondary", 0xF0000, 0x8000),  # ends where the block starts
             Partition("nvs_storage", 0xF9000, 0x1000),
             Partition("settings_storage", 0xFA000, 0x6000)]
    findings = check_layout(parts, soc="nrf9160", write_protect=True)
    assert [f.severity for f in findings] == [ERROR, WARNING]
    assert findings[0].message == (
        "with write protection the 32 KiB fprotect block 0xf8000..0x100000 around factory_data "
        "(0xf8000..0xf9000) overlaps settings_storage (0xfa000..0x100000)")
    assert findings[1].line == (
        "with write protection the 32 KiB fprotect block 0xf8000..0x100000 around factory_data "
        "(0xf8000..0xf9000) overlaps nvs_storage (0xf9000..0xfa000) (the "
        "firmware writes nvs_storage); keep nvs_storage outside 0xf8000..0x100000")


def test_fprotect_block_reaching_back_into_mcuboot_secondary_warns():
    parts = [Partition("mcuboot_secondary", 0x80000, 0x74000),
             Partition("factory_data", 0xF4000, 0x1000),
             Partition("settings_storage", 0xF8000, 0x8000)]
    assert check_layout(parts, soc="nrf5340", write_protect=True) == []
    shifted = [parts[0]._replace(size=0x75000), parts[1]._replace(address=0xF5000), parts[2]]
    (finding,) = check_layout(shifted, soc="nrf5340", write_protect=True)
    assert finding.severity == WARNING
    assert ("fprotect block 0xf4000..0xf8000 around factory_data (0xf5000..0xf6000) overlaps "
            "mcuboot_secondary (0x80000..0xf5000)") in finding.line


def test_direct_overlap_is_not_reported_twice_with_write_protect():
    parts = [Partition("factory_data", 0xFB000, 0x1000),
             Partition("settings_storage", 0xFB800, 0x4800)]
    findings = check_layout(parts, soc="nrf5340", write_protect=True)
    assert len(findings) == 1 and "fprotect" not in findings[0].line


def test_elf_segments_argument():
    parts = [Partition("factory_data", 0xFB000, 0x1000)]
    assert check_layout(parts, soc="nrf52840", elf_segments=[LoadSection("a", 0xFA000, 0x1000),
                                                             LoadSection("b", 0xFC000, 0x10),
                                                             LoadSection("c", 0xFB000, 0)]) == []
    (finding,) = check_layout(parts, soc="nrf52840",
                              elf_segments=[LoadSection("x", 0xFAFFF, 2)])
    assert "firmware section x (0xfafff..0xfb001)" in finding.message


def test_missing_factory_data_without_settings_gives_a_generic_example():
    (finding,) = check_layout([Partition("app", 0, 0x100000)], soc="nrf52840")
    assert "'factory_data: {address: 0x..., size: 0x1000}'" in finding.fix


def test_image_size_exactly_the_partition_fits():
    parts = [Partition("factory_data", 0xFB000, 0x1000)]
    assert check_layout(parts, soc="nrf52840", image_size=0x1000) == []
    assert check_layout(parts, soc="nrf52840", image_size=0x1001)[0].severity == ERROR
