"""--profile production refuses development and test material (issue #16): test vendor IDs,
connectedhomeip's published test roots, test CD signers, the enable key, a stored passcode --
through generate, partition, batch, verify (file and DIR) and provision. The development
profile (the default) says nothing about them (connectedhomeip's and Nordic's documented
examples use them); --include_passcode keeps its own warning."""

from pathlib import Path

import pytest
from test_attest import Pki

DATA = Path(__file__).parent / "data" / "connectedhomeip"
TEST_PAA = ("--paa_cert", DATA / "Chip-Test-PAA-FFF1-Cert.pem",
            "--paa_key", DATA / "Chip-Test-PAA-FFF1-Key.pem")
TEST_CD_SIGNER = ("--cert_declaration_cert", DATA / "Chip-Test-CD-Signing-Cert.pem",
                  "--cert_declaration_key", DATA / "Chip-Test-CD-Signing-Key.pem")


@pytest.fixture
def acme(tmp_path):
    return Pki(tmp_path / "acme")


def clean(acme, *, vid="0x1234", pki=None, cd=None):
    """generate options of a production device: its own PKI, no enable key, an official CD
    signed by its own CD signer, the passcode not stored."""
    pki = pki if pki is not None else acme.issuer_args()
    cd = cd if cd is not None else ("--gen_cd", "--cd_type", "2", "--cert_declaration_cert",
                                    acme.root / "cd_cert.der", "--cert_declaration_key",
                                    acme.root / "cd_key.der")
    return ("--defaults", "--vendor_id", vid, "--product_id", "0x8001", "--date", "2024-01-01",
            "--enable_key", "", *pki, *cd)


def refused(result, rule, *fragments):
    assert result.code == 2, result
    assert f"production rule '{rule}'" in result.err, result.err
    assert "refused by --profile=production" in result.err
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_a_production_device_passes_and_development_material_is_silent(cli, tmp_path, acme):
    ok = cli("generate", "-o", tmp_path / "p" / "fd", *clean(acme), "--profile", "production")
    assert ok.code == 0, ok
    assert "production rule" not in ok.err
    dev = cli("generate", "--defaults", "-o", tmp_path / "d" / "fd")  # FFF1, enable key
    assert dev.code == 0, dev
    assert "production rule" not in dev.err


@pytest.mark.parametrize("case, rule, fragment", [
    ("test vid", "test-vendor-id", "--vendor_id: the vendor ID is 0xFFF1, a test vendor ID"),
    ("enable key", "enable-key", "--enable_key: the factory data holds a test event trigger"),
    ("passcode", "passcode-stored", "--include_passcode: the setup passcode is stored"),
    ("test paa", "test-paa", "6B7A5841DE2503CE410680A4431329877A061DF0"),
    ("test cd signer", "test-cd-signer", "the CD: the CD is signed by the Matter Test CD "
                                         "Signing Authority"),
    ("cd type 0", "test-cd-signer", "the CD: the CD's certification_type is 0"),
])
@pytest.mark.parametrize("image_format", ["nrf-cbor", "stm32-tlv"])
def test_generate_refuses_each_in_production_only(cli, tmp_path, acme, case, rule, fragment,
                                                  image_format):
    args = list(clean(acme))
    if case == "test vid":
        args = list(clean(acme, vid="0xFFF1", pki=Pki(tmp_path / "t", vendor_id=0xFFF1)
                          .issuer_args()))
    elif case == "enable key":
        args[args.index("--enable_key") + 1] = "00112233445566778899AABBCCDDEEFF"
    elif case == "passcode":
        args.append("--include_passcode")
    elif case == "test paa":
        args = list(clean(acme, pki=TEST_PAA))
    elif case == "test cd signer":
        args = list(clean(acme, cd=("--gen_cd", "--cd_type", "2", *TEST_CD_SIGNER)))
    elif case == "cd type 0":
        args[args.index("--cd_type") + 1] = "0"
    if image_format == "stm32-tlv":
        if case == "enable key":
            pytest.skip("ST's providers do not read the enable key; --defaults leaves it out")
        args += ["--format", "stm32-tlv"]
    out = tmp_path / "out"
    refused(cli("generate", "-o", out / "fd", *args, "--profile", "production"), rule, fragment)
    assert not out.exists() or not any(out.iterdir())
    dev = cli("generate", "-o", tmp_path / "dev" / "fd", *args)
    assert dev.code == 0, dev
    assert "production rule" not in dev.err


def test_partition_refuses_development_json_in_production(cli, tmp_path, acme):
    assert cli("generate", "--defaults", "-o", tmp_path / "d" / "fd").code == 0
    args = ("partition", "-i", tmp_path / "d" / "fd.json", "--offset", "0xf7000", "--size",
            "0x1000")
    refused(cli(*args, "-o", tmp_path / "p1", "--profile", "production"), "test-vendor-id",
            "and 3 more profile finding(s)")
    assert not (tmp_path / "p1.hex").exists()
    assert cli(*args, "-o", tmp_path / "p2").code == 0
    assert cli("generate", "-o", tmp_path / "c" / "fd", *clean(acme)).code == 0
    assert cli("partition", "-i", tmp_path / "c" / "fd.json", "--offset", "0xf7000", "--size",
               "0x1000", "-o", tmp_path / "p3", "--profile", "production").code == 0


def test_verify_reports_each_in_production(cli, tmp_path, acme):
    assert cli("generate", "-o", tmp_path / "c" / "fd", *clean(acme)).code == 0
    assert cli("verify", tmp_path / "c" / "fd.hex", "--profile", "production").code == 0
    assert cli("generate", "--defaults", "-o", tmp_path / "d" / "fd", "--include_passcode"
               ).code == 0
    dev = cli("verify", tmp_path / "d" / "fd.hex")
    assert dev.code == 0, dev
    strict = cli("verify", tmp_path / "d" / "fd.hex", "--profile", "production")
    assert strict.code == 1
    failed = [line for line in strict.out.splitlines() if line.startswith("FAIL")]
    for where, rule in (("the image vendor_id", "test-vendor-id"), ("dac_cert", "test-vendor-id"),
                        ("pai_cert", "test-vendor-id"), ("the image enable_key", "enable-key"),
                        ("the image passcode", "passcode-stored")):
        assert any(line.startswith(f"FAIL  {where}: ") and f"production rule '{rule}'" in line
                   for line in failed), (where, strict.out)


def test_batch_and_verify_dir(cli, tmp_path, acme):
    common = ("--count", "2", "--spake2_it", "1000", "--qr", "none", "--jobs", "1")
    refused(cli("batch", "-o", tmp_path / "dev", *common, "--defaults", "--profile",
                "production"), "test-vendor-id")
    assert not (tmp_path / "dev" / "manifest.csv").exists()
    assert cli("batch", "-o", tmp_path / "dev", *common, "--defaults").code == 0
    assert cli("verify", tmp_path / "dev").code == 0
    strict = cli("verify", tmp_path / "dev", "--profile", "production")
    assert strict.code == 1
    assert "FAIL  device 1: the image vendor_id: the vendor ID is 0xFFF1" in strict.out
    lot = clean(acme)
    refused(cli("batch", "-o", tmp_path / "p", *common, *lot, "--include_passcode",
                "--profile", "production"), "passcode-stored")
    refused(cli("batch", "-o", tmp_path / "p", *common, *clean(acme, pki=TEST_PAA),
                "--profile", "production"), "test-paa")
    ok = cli("batch", "-o", tmp_path / "p", *common, *lot, "--profile", "production")
    assert ok.code == 0, ok
    assert cli("verify", tmp_path / "p", "--profile", "production").code == 0


def test_provision_refuses_a_pai_from_a_test_root_at_station_start(cli, tmp_path):
    from matter_factory_data.core import certs

    paa_cert = certs.load_certificate((DATA / "Chip-Test-PAA-FFF1-Cert.pem").read_bytes(),
                                      source="PAA")
    paa_key = certs.load_private_key((DATA / "Chip-Test-PAA-FFF1-Key.pem").read_bytes(),
                                     source="PAA key")
    key = certs.new_key()
    pai = certs.make_pai(key=key, issuer_cert=paa_cert, issuer_key=paa_key,
                         common_name="Acme PAI", vendor_id=0x1234)
    (tmp_path / "pai.der").write_bytes(certs.cert_der(pai))
    (tmp_path / "pai_key.der").write_bytes(certs.key_der(key))
    args = ("provision", "--manifest", tmp_path / "m.csv", "--port", tmp_path / "ttyNONE",
            "--pai_cert", tmp_path / "pai.der", "--pai_key", tmp_path / "pai_key.der",
            "--vendor_id", "0x1234", "--product_id", "0x8001", "--timeout", "1")
    refused(cli(*args, "--profile", "production"), "test-paa", "Matter Test PAA FFF1")
    assert not (tmp_path / "m.csv").exists()
    dev = cli(*args)
    assert dev.code == 1  # the station ran: the port does not exist
    assert "production rule" not in dev.err
