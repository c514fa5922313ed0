"""The STM32 image's Certification Declaration (tag 1) is checked as a commissioner reads it,
in generate, batch and verify, under every profile: another product's CD, or bytes that are
not a CD, are refused (issue #16: verify passed a PID 0x8004 image with a CD for 0x8005, or a
5-byte one; generate --certification_declaration took another product's CD)."""

import pytest
from test_attest import Pki

FIVE_BYTES = b"\x30\x03\x02\x01\x01"


@pytest.fixture
def acme(tmp_path):
    return Pki(tmp_path / "acme")


def stm32_args(acme, out, *extra):
    return ("generate", "--defaults", "--format", "stm32-tlv", "-o", out, "--vendor_id", "0x1234",
            "--product_id", "0x8004", "--date", "2024-01-01", *acme.issuer_args(), *extra)


@pytest.mark.parametrize("profile", ["development", "production"])
def test_generate_refuses_another_products_cd(cli, tmp_path, acme, profile):
    cd = acme.sign_cd(tmp_path / "cd8005.der", vendor_id=0x1234, product_ids=(0x8005,))
    out = tmp_path / "out" / "fd"
    result = cli(*stm32_args(acme, out, "--certification_declaration", cd,
                             "--profile", profile))
    assert result.code == 2, result
    assert result.err.startswith("error: --certification_declaration: the CD covers product "
                                 "ID(s) 0x8005 but not the device's 0x8004"), result.err
    assert "a commissioner refuses a device whose CD does not cover it" in result.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_generate_refuses_a_cd_of_another_vendor_and_a_five_byte_cd(cli, tmp_path, acme):
    vendor = acme.sign_cd(tmp_path / "vendor.der", vendor_id=0x1235, product_ids=(0x8004,))
    result = cli(*stm32_args(acme, tmp_path / "a" / "fd", "--certification_declaration", vendor))
    assert result.code == 2 and "the CD is for vendor ID 0x1235 but the device's vendor ID is " \
        "0x1234" in result.err, result
    short = tmp_path / "short.der"
    short.write_bytes(FIVE_BYTES)
    result = cli(*stm32_args(acme, tmp_path / "b" / "fd", "--certification_declaration", short))
    assert result.code == 2, result
    assert result.err.startswith("error: --certification_declaration: the CD ") \
        and "CMS" in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
    good = acme.sign_cd(tmp_path / "good.der", vendor_id=0x1234, product_ids=(0x8003, 0x8004))
    assert cli(*stm32_args(acme, tmp_path / "c" / "fd", "--certification_declaration",
                           good)).code == 0


def test_batch_refuses_another_products_cd(cli, tmp_path, acme):
    cd = acme.sign_cd(tmp_path / "cd8005.der", vendor_id=0x1234, product_ids=(0x8005,))
    result = cli("batch", "-o", tmp_path / "lot", "--count", "2", "--spake2_it", "1000",
                 "--defaults", "--qr", "none", "--format", "stm32-tlv", "--vendor_id", "0x1234",
                 "--product_id", "0x8004", "--date", "2024-01-01", *acme.issuer_args(),
                 "--certification_declaration", cd)
    assert result.code == 2, result
    assert "the CD covers product ID(s) 0x8005 but not the device's 0x8004" in result.err
    assert not (tmp_path / "lot" / "manifest.csv").exists()


@pytest.mark.parametrize("replacement, reason", [
    ("cd8005", "CERTIFICATION_DECLARATION covers product ID(s) 0x8005 but not the device's "
               "0x8004"),
    ("five", "CERTIFICATION_DECLARATION is not a readable CMS structure"),
])
def test_verify_fails_an_image_whose_cd_does_not_cover_it(cli, tmp_path, acme, replacement,
                                                          reason):
    from matter_factory_data.formats import get_format

    out = tmp_path / "out" / "fd"
    assert cli(*stm32_args(acme, out, *acme.cd_args())).code == 0
    assert cli("verify", f"{out}.bin", "--format", "stm32-tlv").code == 0
    fmt = get_format("stm32-tlv", None)
    records = dict(fmt.decode((tmp_path / "out" / "fd.bin").read_bytes(), "fd"))
    records["CERTIFICATION_DECLARATION"] = FIVE_BYTES if replacement == "five" else \
        acme.sign_cd(tmp_path / "cd8005.der", vendor_id=0x1234, product_ids=(0x8005,)) \
        .read_bytes()
    image = tmp_path / "bad.bin"
    image.write_bytes(fmt.encode(records))
    for profile in ("development", "production"):
        result = cli("verify", image, "--format", "stm32-tlv", "--profile", profile)
        assert result.code == 1, result
        failed = [line for line in result.out.splitlines() if line.startswith("FAIL")]
        assert any(reason in line for line in failed), result.out
