"""``batch --format stm32-tlv``: N STM32 images with unique identities, resumable, verifiable."""

import csv
import json

from conftest import snapshot

from matter_factory_data.formats import get_format
from matter_factory_data.formats.base import ERROR


def rows(directory):
    with open(directory / "manifest.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_batch_makes_unique_stm32_images_that_verify(cli, scratch):
    out = scratch / "series"
    result = cli("batch", "--defaults", "--format", "stm32-tlv", "--board", "wb5mm-dk",
                 "--gen_cd", "--count", "12", "-o", out, "--jobs", "2", "--seed", "t")
    assert result.code == 0, result.err
    made = rows(out)
    assert len(made) == 12
    for key in ("sn", "dac_serial", "qr_payload", "image_sha256"):
        assert len({row[key] for row in made}) == 12, key
    fmt = get_format("stm32-tlv", "wb5mm-dk")
    cd = (out / "CD.der").read_bytes()
    for row in made:
        image = (out / row["image"]).read_bytes()
        records = fmt.decode(image, row["image"])
        assert not [p for p in fmt.lint(records) if p.severity == ERROR]
        assert records["SERIAL_NUMBER"].decode() == row["sn"]
        assert records["CERTIFICATION_DECLARATION"] == cd
        assert "MANUFACTURING_DATE" not in records
        stored = json.loads((out / row["image"]).with_name("factory_data.json").read_text())
        assert fmt.encode(fmt.from_json(stored, "json")) == image  # ST's JSON of the image
        hex_text = (out / row["image"]).with_name("factory_data.hex").read_text()
        assert hex_text.startswith(":02000004901C")
    result = cli("verify", out)
    assert result.code == 0, result.out
    assert "all 12 devices passed; no repeated identity" in result.out
    more = cli("batch", "--defaults", "--format", "stm32-tlv", "--board", "wb5mm-dk",
               "--gen_cd", "--count", "14", "-o", out, "--seed", "t")
    assert more.code == 0, more.err
    assert len(rows(out)) == 14


def test_wba_batch_leaves_the_key_out_and_a_tampered_image_fails_verify(cli, scratch):
    out = scratch / "wba"
    result = cli("batch", "--defaults", "--format", "stm32-tlv", "--board", "wba65", "--gen_cd",
                 "--count", "3", "-o", out, "--jobs", "1")
    assert result.code == 0, result.err
    image_path = out / rows(out)[1]["image"]
    fmt = get_format("stm32-tlv")
    records = fmt.decode(image_path.read_bytes(), "img")
    assert "DEVICE_ATTESTATION_PRIV_KEY" not in records
    assert "DEVICE_ATTESTATION_PUB_KEY" not in records
    records = dict(records, SETUP_DISCRIMINATOR=b"\x00\x00")
    image_path.chmod(0o600)
    image_path.write_bytes(fmt.encode(records))
    result = cli("verify", out, "--jobs", "1")
    assert result.code == 1
    assert "FAIL  device 2: devices/000002/factory_data.bin: SHA-256 differs" in result.out


def test_batch_refusals_write_nothing(cli, scratch):
    out = scratch / "none"
    cd = scratch / "CD.der"
    cd.write_bytes(b"0")
    result = cli("batch", "--defaults", "--format", "stm32-tlv", "--board", "wba65",
                 "--count", "2", "-o", out, "--gen_cd", "--certification_declaration", cd)
    assert result.code == 2
    assert result.err == ("error: give --certification_declaration (a CD file) or --gen_cd "
                          "(make one), not both\n")
    result = cli("batch", "--defaults", "--board", "wba65", "--count", "2", "-o", out)
    assert result.code == 2
    assert result.err == "error: --board applies to --format stm32-tlv, not to --format " \
                         "nrf-cbor\n"
    assert snapshot(out) == {}


def test_batch_defaults_make_the_cd_as_generate_defaults_do(cli, scratch):
    """--defaults with stm32-tlv makes a development CD (the device reads tag 1), as
    generate --defaults does; rerunning the same command finds the series complete."""
    out = scratch / "dev"
    argv = ("batch", "--defaults", "--format", "stm32-tlv", "--board", "wba65", "--count", "2",
            "-o", out, "--jobs", "1")
    result = cli(*argv)
    assert result.code == 0, result.err
    cd = (out / "CD.der").read_bytes()
    fmt = get_format("stm32-tlv", "wba65")
    for row in rows(out):
        assert fmt.decode((out / row["image"]).read_bytes(), "x")[
            "CERTIFICATION_DECLARATION"] == cd
    again = cli(*argv)
    assert again.code == 0 and "nothing to do" in again.out, again
