"""--defaults writes for the sample's and nRF Connect SDK 3.4's nRF52840 partition
(0xf7000, 4 KiB); the sample, the README and guides, and the help say the same."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def hex_address(path: Path) -> int:
    """The address of an Intel HEX file's first data record (with its extended address)."""
    upper = 0
    for line in path.read_text().splitlines():
        kind = int(line[7:9], 16)
        if kind == 4:
            upper = int(line[9:13], 16) << 16
        elif kind == 0:
            return upper + int(line[3:7], 16)
    raise AssertionError("no data record")


def test_generate_defaults_writes_at_0xf7000(cli, tmp_path):
    result = cli("generate", "--defaults", "-o", tmp_path / "fd")
    assert result.code == 0, result.err
    assert " bytes at 0xf7000" in result.out and "of 4096 bytes" in result.out
    assert hex_address(tmp_path / "fd.hex") == 0xF7000


def test_batch_defaults_writes_at_0xf7000(cli, tmp_path):
    result = cli("batch", "-o", tmp_path / "b", "--count", "1", "--defaults", "--qr", "none",
                 "--seed", "layout")
    assert result.code == 0, result.err
    (hex_file,) = (tmp_path / "b").rglob("factory_data.hex")
    assert hex_address(hex_file) == 0xF7000


def test_the_sample_the_readme_and_the_help_agree_with_the_defaults(cli):
    from matter_factory_data.jobs.commands import DEFAULT_PARTITION, DEVELOPMENT_DEFAULTS

    assert DEFAULT_PARTITION == (0xF7000, 0x1000)
    assert (DEVELOPMENT_DEFAULTS["offset"], DEVELOPMENT_DEFAULTS["size"]) == DEFAULT_PARTITION
    pm = yaml.safe_load((REPO / "sample_app" / "pm_static.yml").read_text())
    assert (pm["factory_data"]["address"], pm["factory_data"]["size"]) == DEFAULT_PARTITION
    overlay = (REPO / "sample_app" / "boards" / "nrf52840dk_nrf52840.overlay").read_text()
    reg = re.search(r"factory_data_partition: partition@([0-9a-f]+) \{[^}]*reg = <(0x[0-9a-f]+) "
                    r"(0x[0-9a-f]+)>", overlay)
    assert reg and (int(reg.group(1), 16), int(reg.group(2), 16), int(reg.group(3), 16)) == \
        (0xF7000, *DEFAULT_PARTITION)
    docs = {p.name: p.read_text() for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")]}
    assert not [name for name, text in docs.items() if "0xfb000 --size" in text]
    assert "0xf7000, 4 KiB" in docs["options.md"]
    helped = cli("generate", "--help")
    assert "--offset 0xf7000 --size 0x1000" in " ".join(helped.out.split())
