"""core/attest.py: the constants against connectedhomeip's published certificates, and the
production findings and CD rules on their own."""

from pathlib import Path

from matter_factory_data.core import attest, cd, certs, certview

DATA = Path(__file__).parent / "data" / "connectedhomeip"


def view(name):
    return certview.parse_certificate((DATA / name).read_bytes(), source=name)


def test_the_test_root_and_cd_signer_key_ids_are_the_published_certificates():
    assert view("Chip-Test-PAA-FFF1-Cert.pem").subject_key_id in attest.TEST_PAA_SKIDS
    assert view("Chip-Test-CD-Signing-Cert.pem").subject_key_id == attest.TEST_CD_SIGNER_SKID


def signed_cd(**fields):
    key = certs.load_private_key((DATA / "Chip-Test-CD-Signing-Key.pem").read_bytes(),
                                 source="key")
    cert = certs.load_certificate((DATA / "Chip-Test-CD-Signing-Cert.pem").read_bytes(),
                                  source="cert")
    return cd.sign(cd.CertificationDeclaration(**fields), signing_key=key, signing_cert=cert)


def test_production_findings_name_each_rule_once_per_input():
    der = signed_cd(vendor_id=0xFFF2, product_ids=(0x8001,), certification_type=2)
    paa = (DATA / "Chip-Test-PAA-FFF1-Cert.pem").read_bytes()
    found = attest.production_findings(
        {"vendor_id": 0x1234, "enable_key": b"\x00" * 16, "passcode": 20202021},
        source="img", paa=paa, cd=der)
    assert sorted((f.rule, f.source) for f in found) == [
        ("enable-key", "img enable_key"), ("passcode-stored", "img passcode"),
        ("test-cd-signer", "img CD"), ("test-paa", "the PAA"), ("test-vendor-id", "img CD")]
    assert attest.production_findings({"vendor_id": 0x1234}, source="img") == []
    assert [f.rule for f in attest.production_findings({"vendor_id": 0xFFF4}, source="x")] \
        == ["test-vendor-id"]
    assert attest.production_findings({"vendor_id": 0xFFF5}, source="x") == []


def test_cd_rules_without_certificates():
    der = signed_cd(vendor_id=0x1234, product_ids=(0x8001, 0x8002))
    assert attest.cd_device_problems(der, vendor_id=0x1234, product_id=0x8002) == []
    assert attest.cd_device_problems(der, vendor_id=0x1234, product_id=0x8003) == [
        "the CD covers product ID(s) 0x8001, 0x8002 but not the device's 0x8003"]
    [problem] = attest.cd_device_problems(b"\x30\x03\x02\x01\x01", vendor_id=1, product_id=1)
    assert "not a readable CMS structure" in problem
    signers = {attest.TEST_CD_SIGNER_SKID: ("test signer", view(
        "Chip-Test-CD-Signing-Cert.pem").der)}
    assert attest.cd_signature_problems(der, signers) == []
    assert attest.cd_signature_problems(der, {}) == [
        "the CD is signed by key identifier 62FA823359ACFAA9963E1CFA140ADDF504F37160, which is "
        "not in the CD-signer store"]
    other = signed_cd(vendor_id=0x1234, product_ids=(0x8001, 0x8003))
    content_of = cd._unwrap  # noqa: SLF001  (swap the signature of another CD in)
    _, _, signature = content_of(other, "other")
    forged = cd.build_cms(content_of(der, "own")[0], attest.TEST_CD_SIGNER_SKID, signature)
    [problem] = attest.cd_signature_problems(forged, signers)
    assert "has a signature that does not verify with test signer" in problem
