"""verify (image against credentials, verifier and codes) and codes (QR payload, manual code)."""

import json

import cbor2
import pytest
from conftest import golden_args


@pytest.fixture
def made(cli, golden, tmp_path):
    """The golden image plus its onboarding codes, made by generate."""
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--generate_onboarding")
    assert result.code == 0, result.err
    return tmp_path / "fd"


def test_golden_image_verifies_with_passcode_and_codes(cli, made):
    result = cli("verify", f"{made}.hex", "--passcode", "20202021",
                 "--allow_nonconformant_certs")
    assert result.code == 0, result.out
    assert "ok    DAC key matches the DAC certificate" in result.out
    assert "ok    DAC is signed by the PAI" in result.out
    assert "ok    DAC VID 0xFFF1 equals vendor_id 0xFFF1" in result.out
    assert "ok    spake2_verifier matches the passcode" in result.out
    assert "Manualcode: passcode matches" in result.out  # the .txt next to the image is read
    assert "20202021" not in result.out + result.err


def test_codes_are_checked_against_the_verifier_when_no_passcode_is_known(cli, made):
    result = cli("verify", f"{made}.bin", "--allow_nonconformant_certs")
    assert result.code == 0, result.out
    assert "QRCode: passcode matches the data's verifier" in result.out


def test_wrong_passcode_fails(cli, made):
    result = cli("verify", f"{made}.bin", "--passcode", "20202022")
    assert result.code == 1
    assert "FAIL  spake2_verifier does not match" in result.out
    assert "checks failed" in result.err


@pytest.mark.parametrize("qr, fragment", [
    ("MT:KAYA3EYF15ND8B1OA00", "vendor_id 4735 differs from the data's 65521"),
    ("MT:Y.K9042C00KA0648G00", "product_id 32768 differs from the data's 32774"),
    ("MT:NOT-A-CODE", "--qr:"),
], ids=["other-device", "other-pid", "garbage"])
def test_qr_that_does_not_belong_fails(cli, made, qr, fragment):
    result = cli("verify", f"{made}.bin", "--qr", qr)
    assert result.code == 1 and fragment in result.out, result.out


def test_manual_code_with_other_passcode_fails(cli, made):
    from matter_factory_data.core.onboarding import SetupPayload, manual_code

    other = manual_code(SetupPayload(0xFFF1, 0x8006, 0xF00, 20202022))
    result = cli("verify", f"{made}.bin", "--manual", other)
    assert result.code == 1
    assert "--manual: passcode does not match the data's verifier" in result.out


def test_tampered_image_fails(cli, made, golden, tmp_path):
    data = cbor2.loads(made.with_suffix(".bin").read_bytes()[:-1])
    data["dac_key"] = bytes(31) + b"\x01"
    data["vendor_id"] = 0xFFF2
    (tmp_path / "bad.bin").write_bytes(cbor2.dumps(data) + b"\0")
    result = cli("verify", tmp_path / "bad.bin", "--dac_cert",
                 golden / "Matter-Development-PAI-FFF1-noPID-Cert.der")
    assert result.code == 1
    out = result.out
    assert "FAIL" in out and "dac_key" in out
    assert "DAC VID 0xFFF1 differs from vendor_id 0xFFF2" in out
    assert "dac_cert differs from --dac_cert" in out


def test_verify_json_form(cli, golden):
    result = cli("verify", golden / "factory_data.json", "--passcode", "20202021",
                 "--allow_nonconformant_certs",
                 "--dac_cert", golden / "Matter-Development-DAC-FFF1-8006-Cert.der")
    assert result.code == 0, result.out
    assert "dac_cert equals --dac_cert" in result.out


def test_verify_reports_device_parser_errors(cli, golden, tmp_path):
    data = json.loads((golden / "factory_data.json").read_text())
    data["date"] = "20220202"
    (tmp_path / "fd.json").write_text(json.dumps(data))
    result = cli("verify", tmp_path / "fd.json")
    assert result.code == 1 and "FAIL  device parser: key 'date'" in result.out


@pytest.mark.parametrize("args, qr, manual", [
    (["--vendor_id", "0xFFF1", "--product_id", "0x8006", "--discriminator", "0xF00",
      "--passcode", "20202021"], "MT:8IXS142C00KA0648G00", "34970112332"),
    (["--vendor_id", "0xFFF1", "--product_id", "0x8000", "--discriminator", "3840",
      "--passcode", "20202021"], "MT:Y.K9042C00KA0648G00", "34970112332"),
    (["--vendor_id", "0x127F", "--product_id", "0xABCD", "--discriminator", "0xFED",
      "--passcode", "13243546", "--discovery", "ble"], "MT:KAYA3EYF15ND8B1OA00", "35442608082"),
], ids=["golden", "pid-8000", "upstream-test"])
def test_codes_vectors(cli, args, qr, manual):
    result = cli("codes", *args)
    assert result.code == 0, result.err
    assert result.out == f"QR code:     {qr}\nManual code: {manual}\n"


def test_codes_custom_flow_gives_long_manual_code(cli):
    result = cli("codes", "--vendor_id", "0xFFF1", "--product_id", "0x8001", "--discriminator",
                 "3840", "--passcode", "20202021", "--flow", "custom", "--discovery",
                 "ble,onnetwork")
    assert result.code == 0
    manual = result.out.split("Manual code: ")[1].strip()
    assert len(manual) == 21 and "65521" in manual and "32769" in manual


def test_codes_png(cli, tmp_path):
    args = ["--vendor_id", "1", "--product_id", "1", "--discriminator", "1",
            "--passcode", "1234567"]
    assert cli("codes", *args, "--png", tmp_path / "qr.png").code == 0
    assert (tmp_path / "qr.png").read_bytes()[:4] == b"\x89PNG"
    again = cli("codes", *args, "--png", tmp_path / "qr.png")  # exists: usage, exit 2
    assert again.code == 2 and "already exists; pass --overwrite" in again.err


@pytest.mark.parametrize("args, fragment", [
    (["--passcode", "11111111"], "forbidden"),
    (["--passcode", "100000000"], "passcode"),
    (["--discriminator", "4096"], "discriminator"),
    (["--discovery", "wifi"], "--discovery: 'wifi' is not accepted"),
], ids=["forbidden", "too-big", "disc", "discovery"])
def test_codes_bad_input(cli, args, fragment):
    base = {"--vendor_id": "1", "--product_id": "1", "--discriminator": "1",
            "--passcode": "1234567"}
    base.update(dict(zip(args[::2], args[1::2])))
    result = cli("codes", *[x for kv in base.items() for x in kv])
    assert result.code == 2 and fragment in result.err and len(result.err.splitlines()) == 1
