"""The SoC table (zephyr/layout.py) through `check`: every nRF SoC nRF Connect SDK 3.4
supports for Matter, with its non-volatile memory, base, size, erase unit and write
protection; an unknown SoC is one line listing the known ones."""

import pytest

from matter_factory_data.zephyr.layout import SOCS, soc_info

KIB = 1024

# name: (memory, base, size, erase unit, fprotect exists)
MATTER_SOCS = {
    "nrf52840": ("flash", 0, 1024 * KIB, 4 * KIB, True),
    "nrf5340_cpuapp": ("flash", 0, 1024 * KIB, 4 * KIB, True),
    "nrf5340_cpunet": ("flash", 0x01000000, 256 * KIB, 2 * KIB, False),
    "nrf54l15": ("RRAM", 0, 1524 * KIB, 4 * KIB, False),
    "nrf54l10": ("RRAM", 0, 1012 * KIB, 4 * KIB, False),
    "nrf54l05": ("RRAM", 0, 500 * KIB, 4 * KIB, False),
    "nrf54lm20a": ("RRAM", 0, 2036 * KIB, 4 * KIB, False),
    "nrf54h20": ("MRAM", 0x0E000000, 2048 * KIB, 4 * KIB, False),
}


@pytest.mark.parametrize("name", MATTER_SOCS)
def test_every_matter_soc_of_ncs_3_4_is_in_the_table(name):
    info = SOCS[name]
    assert (info.memory, info.flash_base, info.flash_size, info.page_size,
            info.write_protect) == MATTER_SOCS[name]


@pytest.mark.parametrize("spelling, name", [
    ("nrf54lm20", "nrf54lm20a"), ("nRF54LM20A", "nrf54lm20a"), ("nrf54lm20a/cpuapp", "nrf54lm20a"),
    ("nrf54h20", "nrf54h20"), ("nrf54h20/cpuapp", "nrf54h20"), ("nrf5340", "nrf5340_cpuapp"),
    ("nrf5340/cpunet", "nrf5340_cpunet"), ("nRF54L05", "nrf54l05"), ("nrf54l10", "nrf54l10")])
def test_spellings(spelling, name):
    assert soc_info(spelling).name == name


def layout(tmp_path, text):
    path = tmp_path / "pm_static.yml"
    path.write_text(text)
    return path


NRF54LM20 = """\
app: {address: 0x0, size: 0x1f0000}
factory_data: {address: 0x1f0000, size: 0x1000}
settings_storage: {address: 0x1f1000, size: 0xc000}
"""


def test_ncs_3_4_nrf54lm20_layout_passes(cli, tmp_path):
    result = cli("check", "--pm-static", layout(tmp_path, NRF54LM20), "--soc", "nrf54lm20a")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1].startswith(
        "layout OK: factory_data (0x1f0000..0x1f1000) on nrf54lm20a")


def test_nrf54lm20_rram_page_and_end(cli, tmp_path):
    misaligned = NRF54LM20.replace("factory_data: {address: 0x1f0000",
                                   "factory_data: {address: 0x1f0800")
    result = cli("check", "--pm-static", layout(tmp_path, misaligned), "--soc", "nrf54lm20")
    assert result.code == 1
    assert "not a multiple of the nrf54lm20a RRAM page (its devicetree erase-block-size) " \
           "(0x1000 = 4 KiB)" in result.err, result.err
    beyond = "factory_data: {address: 0x1fd000, size: 0x1000}\n"
    result = cli("check", "--pm-static", layout(tmp_path, beyond), "--soc", "nrf54lm20a")
    assert result.code == 1 and "0x1fd000" in result.err, result.err


def test_nrf54h20_mram_and_no_write_protection(cli, tmp_path):
    mram = "factory_data: {address: 0xe1f0000, size: 0x1000}\n"
    result = cli("check", "--pm-static", layout(tmp_path, mram), "--soc", "nrf54h20")
    assert result.code == 0, result.err
    result = cli("check", "--pm-static", layout(tmp_path, mram), "--soc", "nrf54h20",
                 "--write-protect")
    assert "write protection is not available on nrf54h20" in result.out + result.err
    outside = "factory_data: {address: 0x1f0000, size: 0x1000}\n"  # relative, base not added
    result = cli("check", "--pm-static", layout(tmp_path, outside), "--soc", "nrf54h20")
    assert result.code == 1 and "0xe000000" in result.err, result.err


def test_an_unknown_soc_is_one_line_listing_the_known_ones(cli, tmp_path):
    result = cli("check", "--pm-static", layout(tmp_path, NRF54LM20), "--soc", "nrf54x99")
    assert result.code == 2
    assert result.err.count("\n") == 1
    for name in ("nrf52840", "nrf5340_cpuapp", "nrf5340_cpunet", "nrf54l05", "nrf54l10",
                 "nrf54l15", "nrf54lm20a", "nrf54h20"):
        assert name in result.err
