"""Certification Declaration (core/cd.py): TLV content, CMS envelope, signing, openssl interop."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from matter_factory_data.core import cd, certs
from matter_factory_data.core.cd import CertificationDeclaration
from matter_factory_data.errors import CredentialError, InputError, VerificationError

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not on PATH")

# Test vectors of connectedhomeip src/credentials/tests/TestCertificationDeclaration.cpp:
# the test CD signing certificate and key, and two CDs signed with them by the C++ SDK.
CHIP_SIGNER_CERT = bytes.fromhex(
    "308201b33082015aa003020102020845daf39de47aa08f300a06082a8648ce3d040302302b3129302706035504"
    "030c204d61747465722054657374204344205369676e696e6720417574686f726974793020170d3231303632"
    "383134323334335a180f39393939313233313233353935395a302b3129302706035504030c204d6174746572"
    "2054657374204344205369676e696e6720417574686f726974793059301306072a8648ce3d020106082a8648"
    "ce3d030107034200043c398922452b55caf389c25bd1bca4656952ccb90e8869249ad8474653014cbf95d687"
    "965e036b521c51037e6b8cedefca1eb44046694fa08882eed6519decbaa366306430120603551d130101ff04"
    "0830060101ff020101300e0603551d0f0101ff040403020106301d0603551d0e0416041462fa823359acfaa9"
    "963e1cfa140addf504f37160301f0603551d2304183016801462fa823359acfaa9963e1cfa140addf504f371"
    "60300a06082a8648ce3d040302034700304402202c545ce4e457d8a6f0d9d9bbebd6ece1ddfe7f8c6d9a6cf3"
    "75321fc6fac713840220540778e8743972527eedebaf58686220b54078f2cd4e62a76ae7cbb92ff54c8b"
)
CHIP_SIGNER_SCALAR = 0xAEF3484116E9481EC57BE0472DF41BF499064E5024AD869ECA5E889802D48075
CHIP_SKID = bytes.fromhex("62fa823359acfaa9963e1cfa140addf504f37160")
CHIP_CD1 = CertificationDeclaration(
    vendor_id=0xFFF1, product_ids=(0x8000,), device_type_id=0x1234,
    certificate_id="ZIG20141ZB330001-24", version_number=0x2694,
)
CHIP_CD2 = CertificationDeclaration(
    vendor_id=0xFFF2, product_ids=(0x8001, 0x8002), device_type_id=0x1234,
    certificate_id="ZIG20142ZB330002-24", version_number=0x2694, dac_origin_vendor_id=0xFFF1,
    dac_origin_product_id=0x8000,
)
CHIP_CONTENT1 = bytes.fromhex(
    "152400012501f1ff360205008018250334122c04135a494732303134315a423333303030312d3234240500"
    "2406002507942624080018"
)
CHIP_CONTENT2 = bytes.fromhex(
    "152400012501f2ff360205018005028018250334122c04135a494732303134325a423333303030322d3234"
    "240500240600250794262408002509f1ff250a008018"
)
CHIP_SIGNED1 = bytes.fromhex(
    "3081e806092a864886f70d010702a081da3081d7020103310d300b0609608648016503040201304506092a86"
    "4886f70d010701a0380436152400012501f1ff360205008018250334122c04135a494732303134315a423333"
    "303030312d32342405002406002507942624080018317c307a020103801462fa823359acfaa9963e1cfa140a"
    "ddf504f37160300b0609608648016503040201300a06082a8648ce3d04030204463044022043a63f2b943df3"
    "3c38b3e02fcaa75fe3532aebbf5e63f5bbdbc0b1f01d3c4f6002204c1abf5f1807b81894b1576c47e4724e4d"
    "966c612ed3fa25c118c3f2b3f90369"
)
CHIP_SIGNED2 = bytes.fromhex(
    "3081f506092a864886f70d010702a081e73081e4020103310d300b0609608648016503040201305006092a86"
    "4886f70d010701a0430441152400012501f2ff360205018005028018250334122c04135a494732303134325a"
    "423333303030322d3234240500240600250794262408002509f1ff250a008018317e307c020103801462fa82"
    "3359acfaa9963e1cfa140addf504f37160300b0609608648016503040201300a06082a8648ce3d0403020448"
    "3046022100926296f7578158be7c459388336ca7383766c9eedd9855cbda6f4cf6bdf43211022100e0dbf4a2"
    "bcec4ea274baf0dea208b3365c6ed544086d101afdaf079a2c23e0de"
)
PAA_SKID = bytes.fromhex("6afd22771f511fecbf1641976710dcdc31a1717e")  # golden PAI's AKID


@pytest.fixture(scope="module")
def chip_signer() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = certs.load_certificate(CHIP_SIGNER_CERT, source="chip test CD signer")
    return cert, ec.derive_private_key(CHIP_SIGNER_SCALAR, ec.SECP256R1())


@pytest.fixture(scope="module")
def dev_signer() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return cd.make_dev_signer(b"test-cd-signer")


def _signature_of(der: bytes) -> bytes:
    return cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize(("decl", "content"),
                         [(CHIP_CD1, CHIP_CONTENT1), (CHIP_CD2, CHIP_CONTENT2)])
def test_chip_content_vectors(decl, content):
    assert cd.encode_content(decl) == content
    assert cd.decode_content(content) == decl


def test_round_trip_with_all_optional_fields():
    decl = CertificationDeclaration(
        vendor_id=0x1234, product_ids=tuple(range(1, 101)), device_type_id=0xFFFFFFFF,
        certificate_id="CSA00000SWC00000-00", security_level=255, security_information=0xFFFF,
        version_number=0, certification_type=2, format_version=1, dac_origin_vendor_id=0xFFF1,
        dac_origin_product_id=0x8006, authorized_paa_list=(PAA_SKID,) * 10,
    )
    content = cd.encode_content(decl)
    assert cd.decode_content(content) == decl
    # authorized_paa_list: context tag 11 array of 20-byte strings, the struct's last member.
    paa_array = bytes.fromhex("360b") + (bytes.fromhex("1014") + PAA_SKID) * 10 + b"\x18"
    assert content.endswith(paa_array + b"\x18")


def test_lists_are_normalised_to_tuples():
    decl = CertificationDeclaration(vendor_id=0xFFF1, product_ids=[1, 2],
                                    authorized_paa_list=[PAA_SKID])
    assert decl.product_ids == (1, 2) and decl.authorized_paa_list == (PAA_SKID,)
    assert cd.decode_content(cd.encode_content(decl)) == decl


_valid_cds = st.builds(
    CertificationDeclaration,
    vendor_id=st.integers(1, 0xFFFF),
    product_ids=st.lists(st.integers(1, 0xFFFF), min_size=1, max_size=100).map(tuple),
    device_type_id=st.integers(0, 0xFFFFFFFF),
    certificate_id=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=19,
                           max_size=19),
    security_level=st.integers(0, 0xFF),
    security_information=st.integers(0, 0xFFFF),
    version_number=st.integers(0, 0xFFFF),
    certification_type=st.integers(0, 2),
    format_version=st.integers(0, 0xFFFF),
    authorized_paa_list=st.lists(st.binary(min_size=20, max_size=20), max_size=10).map(tuple),
)


@settings(max_examples=150)
@given(_valid_cds, st.one_of(st.none(), st.tuples(st.integers(1, 0xFFFF), st.integers(1, 0xFFFF))))
def test_content_round_trip(decl, origin):
    if origin is not None:
        decl = dataclasses.replace(decl, dac_origin_vendor_id=origin[0],
                                   dac_origin_product_id=origin[1])
    content = cd.encode_content(decl)
    assert cd.decode_content(content) == decl
    assert content[:1] == b"\x15" and content[-1:] == b"\x18"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (dict(vendor_id=0), "vendor_id 0"),
        (dict(vendor_id=0x10000), "vendor_id 65536"),
        (dict(vendor_id=True), "vendor_id True"),
        (dict(product_ids=()), "product_ids ()"),
        (dict(product_ids=tuple(range(1, 102))), "1..100 product IDs"),
        (dict(product_ids=(0x8000, 0)), "product_ids entry 0"),
        (dict(product_ids=(0x10000,)), "product_ids entry 65536"),
        (dict(device_type_id=2**32), "device_type_id 4294967296"),
        (dict(device_type_id=-1), "device_type_id -1"),
        (dict(certificate_id="ZIG20141ZB330001-2"), "exactly 19 printable ASCII"),
        (dict(certificate_id="ZIG20141ZB330001-2Ü"), "certificate_id"),
        (dict(certificate_id="ZIG20141ZB330001-2\n"), "certificate_id"),
        (dict(security_level=256), "security_level 256"),
        (dict(security_information=0x10000), "security_information"),
        (dict(version_number=0x10000), "version_number"),
        (dict(certification_type=3), "certification_type 3"),
        (dict(format_version=0x10000), "format_version"),
        (dict(dac_origin_vendor_id=0xFFF1), "both or neither"),
        (dict(dac_origin_product_id=0x8000), "both or neither"),
        (dict(dac_origin_vendor_id=0, dac_origin_product_id=1), "dac_origin_vendor_id 0"),
        (dict(authorized_paa_list=(PAA_SKID,) * 11), "at most 10 PAA"),
        (dict(authorized_paa_list=(PAA_SKID[:19],)), "20-byte PAA subject key identifier"),
        (dict(authorized_paa_list=("ab" * 10,)), "authorized_paa_list entry"),
    ],
)
def test_validation_errors(changes, fragment):
    decl = dataclasses.replace(CHIP_CD1, **changes)
    with pytest.raises(InputError) as info:
        decl.validate(source="--cd_json cd.json")
    message = str(info.value)
    assert fragment in message
    assert message.startswith("--cd_json cd.json has ") and message.endswith(".")
    with pytest.raises(InputError):
        cd.encode_content(decl)


def _patched(content: bytes, old: str, new: str) -> bytes:
    assert bytes.fromhex(old) in content
    return content.replace(bytes.fromhex(old), bytes.fromhex(new), 1)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        # Vendor ID as a 4-byte 0xFFFFFFF1 (chip's Err01 vector): decodes but is out of range.
        (_patched(CHIP_CONTENT1, "2501f1ff", "2601f1ffffff"), "vendor_id 4294967281"),
        # Product ID array and device type tags swapped (chip's Err02 vector).
        (_patched(_patched(CHIP_CONTENT1, "3602", "3603"), "2503", "2502"), "out of order"),
        (_patched(CHIP_CONTENT1, "240500240600", "240600240500"), "out of order"),
        (_patched(CHIP_CONTENT1, "2503", "2501"), "repeated context tag 1"),
        (CHIP_CONTENT1[:-1] + bytes.fromhex("240c0018"), "unknown context tag 12"),
        (_patched(CHIP_CONTENT1, "240800", ""), "lacks the required context tag 8"),
        (_patched(CHIP_CONTENT1, "2501f1ff", "2c010161"), "vendor_id element that is not an"),
        (_patched(CHIP_CONTENT1, "2501f1ff", "2001f1"), "vendor_id element that is not an"),
        (_patched(CHIP_CONTENT1, "3602050080", "350224007f"), "product_ids element"),
        (_patched(CHIP_CONTENT1, "2c0413", "300413"), "certificate_id that is not a UTF-8"),
        (bytes.fromhex("16 04 01 18"), "is not a TLV structure"),
        (CHIP_CONTENT1[:-1] + bytes.fromhex("360b1818"), "empty authorized_paa_list"),
        (CHIP_CONTENT1[:-1], "truncated"),
    ],
)
def test_decode_content_errors(data, fragment):
    with pytest.raises(InputError) as info:
        cd.decode_content(data, source="--cd cd.bin")
    assert fragment in str(info.value)
    assert str(info.value).startswith("--cd cd.bin")


# --------------------------------------------------------------------------- CMS envelope


@pytest.mark.parametrize(("content", "signed"), [(CHIP_CONTENT1, CHIP_SIGNED1),
                                                 (CHIP_CONTENT2, CHIP_SIGNED2)])
def test_envelope_matches_chip_byte_for_byte(content, signed):
    assert cd.build_cms(content, CHIP_SKID, _signature_of(signed)) == signed


@pytest.mark.parametrize(("decl", "signed"), [(CHIP_CD1, CHIP_SIGNED1), (CHIP_CD2, CHIP_SIGNED2)])
def test_verify_chip_signed_vectors(chip_signer, decl, signed):
    cert, _ = chip_signer
    assert cd.verify(signed, cert) == decl
    assert cd.parse(signed) == (decl, CHIP_SKID)


def test_sign_with_chip_key_verifies_and_matches_layout(chip_signer):
    cert, key = chip_signer
    der = cd.sign(CHIP_CD1, signing_key=key, signing_cert=cert)
    assert cd.verify(der, cert) == CHIP_CD1
    assert der == cd.build_cms(CHIP_CONTENT1, CHIP_SKID, _signature_of(der))


def test_sign_verify_dev_signer(dev_signer):
    cert, key = dev_signer
    decl = dataclasses.replace(CHIP_CD2, authorized_paa_list=(PAA_SKID,))
    der = cd.sign(decl, signing_key=key, signing_cert=cert)
    assert cd.verify(der, cert) == decl
    parsed, skid = cd.parse(der)
    assert parsed == decl and skid == certs.subject_key_id(cert)
    info = cms.ContentInfo.load(der)
    signed = info["content"]
    assert info["content_type"].dotted == "1.2.840.113549.1.7.2"
    assert signed["version"].native == "v3"
    assert signed["certificates"].native is None and signed["crls"].native is None
    assert signed["encap_content_info"]["content_type"].dotted == "1.2.840.113549.1.7.1"
    assert signed["encap_content_info"]["content"].native == cd.encode_content(decl)
    signer = signed["signer_infos"][0]
    assert signer["version"].native == "v3"
    assert signer["sid"].name == "subject_key_identifier"
    assert signer["signed_attrs"].native is None
    assert signer["signature_algorithm"]["algorithm"].dotted == "1.2.840.10045.4.3.2"
    for algorithm in (signer["digest_algorithm"], signed["digest_algorithms"][0]):
        assert algorithm["algorithm"].dotted == "2.16.840.1.101.3.4.2.1"
        assert algorithm["parameters"].native is None  # absent, as connectedhomeip writes it
    cert.public_key().verify(signer["signature"].native, cd.encode_content(decl),
                             ec.ECDSA(hashes.SHA256()))


def test_deterministic_sign(dev_signer):
    cert, key = dev_signer
    one = cd.sign(CHIP_CD1, signing_key=key, signing_cert=cert, deterministic=True)
    two = cd.sign(CHIP_CD1, signing_key=key, signing_cert=cert, deterministic=True)
    assert one == two
    assert cd.sign(CHIP_CD1, signing_key=key, signing_cert=cert) != one


def test_sign_rejects_mismatched_key(dev_signer, chip_signer):
    with pytest.raises(CredentialError, match="CD signing key does not match"):
        cd.sign(CHIP_CD1, signing_key=chip_signer[1], signing_cert=dev_signer[0])


def test_tampered_content_fails(chip_signer):
    tampered = _patched(CHIP_SIGNED1, "25079426", "25079526")
    with pytest.raises(VerificationError, match="signature that does not verify"):
        cd.verify(tampered, chip_signer[0], source="--cd cd.der")
    assert cd.parse(tampered)[0].version_number == 0x2695  # still well-formed


def test_wrong_signer_fails(dev_signer, chip_signer):
    with pytest.raises(VerificationError, match="names signer key identifier 62FA8233") as info:
        cd.verify(CHIP_SIGNED1, dev_signer[0])
    assert certs.subject_key_id(dev_signer[0]).hex().upper() in str(info.value)


def test_same_skid_other_key_fails(chip_signer):
    """A certificate that claims the signer's SKID but holds another key is refused."""
    key = certs.new_key(b"impostor")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Impostor")])
    impostor = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(7)
        .not_valid_before(chip_signer[0].not_valid_before_utc)
        .not_valid_after(certs.NO_WELL_DEFINED_EXPIRY)
        .add_extension(x509.SubjectKeyIdentifier(CHIP_SKID), critical=False)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(VerificationError, match="does not verify"):
        cd.verify(CHIP_SIGNED1, impostor)


def test_signer_without_skid_fails_verification(chip_signer):
    key = certs.new_key(b"noskid")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "No SKID")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(8)
        .not_valid_before(chip_signer[0].not_valid_before_utc)
        .not_valid_after(certs.NO_WELL_DEFINED_EXPIRY).sign(key, hashes.SHA256())
    )
    with pytest.raises(VerificationError, match="no subjectKeyIdentifier"):
        cd.verify(CHIP_SIGNED1, cert)
    with pytest.raises(CredentialError, match="no subjectKeyIdentifier"):
        cd.sign(CHIP_CD1, signing_key=key, signing_cert=cert)


def _with_signed_attrs(der: bytes) -> bytes:
    info = cms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    signer["signed_attrs"] = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]})
    ])
    return info.dump(force=True)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: b"garbage", "is not a readable CMS structure"),
        (lambda d: d + b"\x00", "is not a readable CMS structure"),
        (lambda d: d[:-5], "is not a readable CMS structure"),
        (_with_signed_attrs, "has signed attributes"),
        (lambda d: _patched(d, "06092a864886f70d010702", "06092a864886f70d010701"),
         "content type"),
        (lambda d: _patched(d, "020103310d", "020101310d"), "SignedData version"),
        (lambda d: _patched(d, "0201038014", "0201018014"), "SignerInfo version"),
        (lambda d: _patched(d, "06082a8648ce3d040302", "06082a8648ce3d040303"),
         "ecdsa-with-SHA256"),
    ],
)
def test_malformed_envelopes(mutate, fragment):
    with pytest.raises(InputError) as info:
        cd.parse(mutate(CHIP_SIGNED1), source="--cd cd.der")
    message = str(info.value)
    assert fragment in message and message.startswith("--cd cd.der ")


def test_non_der_envelope_is_rejected():
    # Same structure with a long-form length on the outer SEQUENCE (BER, not DER).
    body = CHIP_SIGNED1[3:]
    assert CHIP_SIGNED1[:3] == bytes.fromhex("3081e8")
    ber = bytes([0x30, 0x82, 0x00, len(body)]) + body
    with pytest.raises(InputError, match="not DER encoded"):
        cd.parse(ber)


# --------------------------------------------------------------------------- dev signer


def test_make_dev_signer_profile(dev_signer):
    cert, key = dev_signer
    certs.check_key_matches_certificate(key, cert, key_source="k", cert_source="c")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "Matter Development CD Signing Authority"
    assert cert.issuer == cert.subject
    bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    assert bc.critical and bc.value.ca is False
    ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    skid = certs.subject_key_id(cert)
    akid = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    assert akid.key_identifier == skid and len(skid) == 20
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    certs.load_certificate(certs.cert_der(cert), source="signer")


def test_make_dev_signer_seeded_is_reproducible():
    a_cert, a_key = cd.make_dev_signer(b"seed")
    b_cert, b_key = cd.make_dev_signer(b"seed")
    assert certs.raw_private_scalar(a_key) == certs.raw_private_scalar(b_key)
    if certs.SUPPORTS_DETERMINISTIC_SIGNING:
        assert certs.cert_der(a_cert) == certs.cert_der(b_cert)
    c_cert, c_key = cd.make_dev_signer()
    d_cert, d_key = cd.make_dev_signer()
    assert certs.raw_private_scalar(c_key) != certs.raw_private_scalar(d_key)
    assert certs.subject_key_id(c_cert) != certs.subject_key_id(a_cert)


# --------------------------------------------------------------------------- openssl


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([OPENSSL, *args], capture_output=True, check=False)


@needs_openssl
def test_openssl_cms_verify_outputs_tlv(dev_signer, tmp_path):
    cert, key = dev_signer
    decl = dataclasses.replace(CHIP_CD2, authorized_paa_list=(PAA_SKID,))
    (tmp_path / "cd.der").write_bytes(cd.sign(decl, signing_key=key, signing_cert=cert))
    (tmp_path / "signer.pem").write_bytes(certs.cert_pem(cert))
    result = _openssl("cms", "-verify", "-inform", "DER", "-in", "cd.der", "-noverify", "-binary",
                      "-certfile", "signer.pem", "-nointern", "-out", "content.bin")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "content.bin").read_bytes() == cd.encode_content(decl)


@needs_openssl
def test_openssl_cms_rejects_tampered_and_wrong_signer(dev_signer, chip_signer, tmp_path):
    (tmp_path / "tampered.der").write_bytes(_patched(CHIP_SIGNED1, "25079426", "25079526"))
    (tmp_path / "chip.pem").write_bytes(certs.cert_pem(chip_signer[0]))
    (tmp_path / "dev.pem").write_bytes(certs.cert_pem(dev_signer[0]))
    (tmp_path / "good.der").write_bytes(CHIP_SIGNED1)
    common = ("cms", "-verify", "-inform", "DER", "-noverify", "-binary", "-nointern")
    good = _openssl(*common, "-in", "good.der", "-certfile", "chip.pem")
    assert good.returncode == 0 and good.stdout == CHIP_CONTENT1
    tampered = _openssl(*common, "-in", "tampered.der", "-certfile", "chip.pem")
    assert tampered.returncode != 0
    wrong = _openssl(*common, "-in", "good.der", "-certfile", "dev.pem")
    assert wrong.returncode != 0
