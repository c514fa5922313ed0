"""Certificates and keys (core/certs.py): golden credentials, checks, generation, openssl."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from matter_factory_data.core import certs
from matter_factory_data.errors import CredentialError, InputError

DAC = "Matter-Development-DAC-FFF1-8006-Cert.der"
DAC_KEY = "Matter-Development-DAC-FFF1-8006-Key.der"
PAI = "Matter-Development-PAI-FFF1-noPID-Cert.der"
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not on PATH")
FIXED_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def dac(golden: Path) -> x509.Certificate:
    return certs.load_certificate((golden / DAC).read_bytes(), source="--dac_cert dac.der")


@pytest.fixture
def pai(golden: Path) -> x509.Certificate:
    return certs.load_certificate((golden / PAI).read_bytes(), source="--pai_cert pai.der")


@pytest.fixture
def dac_key(golden: Path) -> ec.EllipticCurvePrivateKey:
    return certs.load_private_key((golden / DAC_KEY).read_bytes(), source="--dac_key key.der")


@pytest.fixture(scope="module")
def chain():
    """A generated PAA -> PAI -> DAC chain for 0xFFF1 / 0x8000 with seeded keys."""
    paa_key, pai_key, dac_key = (certs.new_key(s) for s in (b"paa", b"pai", b"dac"))
    paa = certs.make_paa(key=paa_key, common_name="Test PAA", vendor_id=0xFFF1)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key, common_name="Test PAI",
                         vendor_id=0xFFF1, product_id=0x8000)
    dac = certs.make_dac(key=dac_key, issuer_cert=pai, issuer_key=pai_key, common_name="Test DAC",
                         vendor_id=0xFFF1, product_id=0x8000)
    return {"paa": paa, "pai": pai, "dac": dac, "paa_key": paa_key, "pai_key": pai_key,
            "dac_key": dac_key}


def _raw_cert(subject: list[x509.NameAttribute], *, key=None, issuer=None, issuer_key=None,
              ca: bool = True, skid: bytes | None = None, hash_alg=None) -> x509.Certificate:
    """A certificate built directly with cryptography, for shapes make_* refuses to produce."""
    key = key or certs.new_key(b"raw")
    name = x509.Name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(FIXED_START)
        .not_valid_after(certs.NO_WELL_DEFINED_EXPIRY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if skid is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(skid), critical=False)
    return builder.sign(issuer_key or key, hash_alg or hashes.SHA256())


def _cn(name: str) -> x509.NameAttribute:
    return x509.NameAttribute(NameOID.COMMON_NAME, name)


# --------------------------------------------------------------------------- golden


def test_golden_ids(dac, pai):
    assert certs.matter_ids(dac) == (0xFFF1, 0x8006)
    assert certs.matter_ids(pai) == (0xFFF1, None)


def test_golden_key_matches_dac_and_scalar(golden, dac, dac_key):
    certs.check_key_matches_certificate(dac_key, dac, key_source="k", cert_source="c")
    scalar = certs.raw_private_scalar(dac_key)
    assert len(scalar) == 32
    assert scalar.hex().startswith("7fcd6eb8")
    assert scalar.hex().endswith("f49bdea2")
    assert scalar == (golden / DAC_KEY).read_bytes()[7:39]


def test_private_key_from_scalar(golden, dac, dac_key):
    scalar = (golden / DAC_KEY).read_bytes()[7:39]
    key = certs.private_key_from_scalar(scalar, source="dac_key")
    assert certs.key_der(key) == certs.key_der(dac_key)
    certs.check_key_matches_certificate(key, dac, key_source="k", cert_source="c")
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    for bad in (b"", scalar[:31], scalar + b"\x00", bytes(32), order.to_bytes(32, "big")):
        with pytest.raises(CredentialError, match="^dac_key is not a P-256 private key scalar"):
            certs.private_key_from_scalar(bad, source="dac_key")


def test_golden_key_der_round_trip(golden, dac_key):
    data = (golden / DAC_KEY).read_bytes()
    assert certs.key_der(dac_key) == data
    assert len(data) == 121 and data[:7] == bytes.fromhex("30770201010420")


def test_golden_dac_issued_by_golden_pai(dac, pai):
    certs.check_issued_by(dac, pai, child_source="dac", issuer_source="pai")
    certs.check_attestation_chain(dac=dac, pai=pai, vendor_id=0xFFF1, product_id=0x8006,
                                  sources={})


def test_golden_public_key_and_skid(dac, pai, dac_key):
    point = certs.public_key_bytes(dac)
    assert len(point) == 65 and point.hex().startswith("045e91ed925016cc")
    assert certs.public_key_bytes(dac_key) == point
    assert certs.public_key_bytes(dac_key.public_key()) == point
    assert certs.subject_key_id(dac).hex().upper() == "D244F4A659D80D57761EE5094F74875896495843"
    assert certs.subject_key_id(pai).hex().upper() == "63540E47F64B1C38D13884A462D16C195D8FFB3C"


def test_pem_variants(dac, dac_key):
    pem = certs.cert_pem(dac)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    loaded = certs.load_certificate(b"leading text\n" + pem, source="dac.pem")
    assert certs.cert_der(loaded) == certs.cert_der(dac)
    formats = [
        (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
        (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
        (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
    ]
    for encoding, fmt in formats:
        data = dac_key.private_bytes(encoding, fmt, serialization.NoEncryption())
        key = certs.load_private_key(data, source="key")
        assert certs.raw_private_scalar(key) == certs.raw_private_scalar(dac_key)
    assert certs.key_pem(dac_key).startswith(b"-----BEGIN EC PRIVATE KEY-----")
    again = certs.load_private_key(certs.key_pem(dac_key), source="key.pem")
    assert certs.raw_private_scalar(again) == certs.raw_private_scalar(dac_key)


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize("encoding", [serialization.Encoding.DER, serialization.Encoding.PEM])
def test_encrypted_pkcs8(dac_key, encoding):
    data = dac_key.private_bytes(encoding, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b"s3cret-pw"))
    key = certs.load_private_key(data, source="--dac_key k", password=b"s3cret-pw")
    assert certs.raw_private_scalar(key) == certs.raw_private_scalar(dac_key)
    assert certs.raw_private_scalar(
        certs.load_private_key(data, source="k", password="s3cret-pw")
    ) == certs.raw_private_scalar(dac_key)

    with pytest.raises(CredentialError, match="could not be decrypted") as wrong:
        certs.load_private_key(data, source="--dac_key k", password=b"wrong-pw")
    assert "wrong-pw" not in str(wrong.value)
    assert str(wrong.value).startswith("--dac_key k ")
    with pytest.raises(CredentialError, match="encrypted private key but no password"):
        certs.load_private_key(data, source="--dac_key k")


def test_password_for_unencrypted_key(golden):
    with pytest.raises(CredentialError, match="is not encrypted but a password was given") as info:
        certs.load_private_key((golden / DAC_KEY).read_bytes(), source="k", password=b"pw123")
    assert "pw123" not in str(info.value)


# --------------------------------------------------------------------------- bad inputs


BAD_KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
BAD_CERT_PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x03\x02\x01\x01", BAD_KEY_PEM])
def test_garbage_key(data):
    with pytest.raises(CredentialError, match="^--dac_key x is not a readable private key"):
        certs.load_private_key(data, source="--dac_key x")


def test_other_curve_and_rsa_keys():
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(CredentialError, match="curve secp384r1; Matter accepts only P-256"):
        certs.load_private_key(p384, source="k")
    rsa_der = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(CredentialError, match="only EC P-256"):
        certs.load_private_key(rsa_der, source="k")


@pytest.mark.parametrize("data", [b"", b"not a cert", b"\x30\x03\x02\x01\x01", BAD_CERT_PEM])
def test_garbage_certificate(data):
    with pytest.raises(CredentialError, match="^--dac_cert x is not a readable X.509 certificate"):
        certs.load_certificate(data, source="--dac_cert x")


def test_certificate_with_other_curve_or_hash():
    p384 = ec.generate_private_key(ec.SECP384R1())
    cert = _raw_cert([_cn("x")], key=p384)
    with pytest.raises(CredentialError, match="EC P-256 public key"):
        certs.load_certificate(certs.cert_der(cert), source="c")
    sha384 = _raw_cert([_cn("x")], hash_alg=hashes.SHA384())
    with pytest.raises(CredentialError, match="1.2.840.10045.4.3.3; Matter accepts only"):
        certs.load_certificate(certs.cert_der(sha384), source="c")


@pytest.mark.parametrize("value", ["fff1", "FFF", "FFF10", "GFF1", " FFF1", ""])
def test_malformed_vid(value):
    cert = _raw_cert([_cn("x"), x509.NameAttribute(certs.MATTER_VID_OID, value)])
    with pytest.raises(CredentialError, match="malformed Matter vendor ID") as info:
        certs.matter_ids(cert, source="--dac_cert d")
    assert str(info.value).startswith("--dac_cert d has")


def test_duplicate_pid_attribute():
    pid = x509.NameAttribute(certs.MATTER_PID_OID, "8000")
    cert = _raw_cert([_cn("x"), pid, pid])
    with pytest.raises(CredentialError, match="2 Matter product ID attributes"):
        certs.matter_ids(cert)


def test_fallback_ids_in_common_name():
    cert = _raw_cert([_cn("ACME Mvid:FFF1 Mpid:00B1")])
    assert certs.matter_ids(cert) == (0xFFF1, 0x00B1)
    attribute_wins = _raw_cert([_cn("Mvid:FFF2"), x509.NameAttribute(certs.MATTER_VID_OID, "FFF1")])
    assert certs.matter_ids(attribute_wins) == (0xFFF1, None)
    with pytest.raises(CredentialError, match="malformed Matter vendor ID 'fff1'"):
        certs.matter_ids(_raw_cert([_cn("Mvid:fff1")]))


# --------------------------------------------------------------------------- mismatches


def test_other_key_does_not_match(dac):
    with pytest.raises(CredentialError, match="^--dac_key other.der does not match --dac_cert d"):
        certs.check_key_matches_certificate(certs.new_key(b"other"), dac,
                                            key_source="--dac_key other.der",
                                            cert_source="--dac_cert d")


def test_swapped_chain(dac, pai):
    with pytest.raises(CredentialError, match="^--dac_cert p was not issued by --pai_cert d"):
        certs.check_attestation_chain(dac=pai, pai=dac, vendor_id=0xFFF1, product_id=0x8006,
                                      sources={"dac": "--dac_cert p", "pai": "--pai_cert d"})


@pytest.mark.parametrize(
    ("vid", "pid", "fragment"),
    [
        (0xFFF2, 0x8006, "--dac_cert d has Matter vendor ID 0xFFF1 but --vendor_id is 0xFFF2"),
        (0xFFF1, 0x8007, "--dac_cert d has Matter product ID 0x8006 but --product_id is 0x8007"),
    ],
)
def test_wrong_vid_pid(dac, pai, vid, pid, fragment):
    sources = {"dac": "--dac_cert d", "pai": "--pai_cert p", "vendor_id": "--vendor_id",
               "product_id": "--product_id"}
    with pytest.raises(CredentialError) as info:
        certs.check_attestation_chain(dac=dac, pai=pai, vendor_id=vid, product_id=pid,
                                      sources=sources)
    assert fragment in str(info.value)


def test_dac_not_issued_by_lookalike_pai(dac, pai):
    """Same subject as the golden PAI but another key: AKID and then signature must catch it."""
    subject = list(pai.subject)
    impostor_key = certs.new_key(b"impostor")
    own_skid = x509.SubjectKeyIdentifier.from_public_key(impostor_key.public_key()).digest
    other = _raw_cert(subject, key=impostor_key, skid=own_skid)
    with pytest.raises(CredentialError, match="authority key identifier"):
        certs.check_issued_by(dac, other, child_source="dac", issuer_source="impostor")
    same_skid = _raw_cert(subject, key=certs.new_key(b"impostor"),
                          skid=certs.subject_key_id(pai))
    with pytest.raises(CredentialError, match="not signed by the key of impostor"):
        certs.check_issued_by(dac, same_skid, child_source="dac", issuer_source="impostor")


def test_issuer_must_be_ca(dac, pai):
    not_ca = _raw_cert(list(pai.subject), ca=False, skid=certs.subject_key_id(pai))
    with pytest.raises(CredentialError, match="is not a CA certificate"):
        certs.check_issued_by(dac, not_ca, child_source="dac", issuer_source="pai")


def test_chain_pai_and_paa_rules(chain):
    base = dict(dac=chain["dac"], pai=chain["pai"], paa=chain["paa"], sources={"pai": "PAI x"})
    certs.check_attestation_chain(vendor_id=0xFFF1, product_id=0x8000, **base)
    # A PAI bound to product 0x8000 cannot vouch for a DAC of product 0x8001.
    dac2_key = certs.new_key(b"dac2")
    dac2 = certs.make_dac(key=dac2_key, issuer_cert=chain["pai"], issuer_key=chain["pai_key"],
                          common_name="DAC 2", vendor_id=0xFFF1, product_id=0x8001)
    with pytest.raises(CredentialError, match="PAI x has Matter product ID 0x8000 but the "
                                              "product ID is 0x8001"):
        certs.check_attestation_chain(dac=dac2, pai=chain["pai"], paa=chain["paa"],
                                      vendor_id=0xFFF1, product_id=0x8001,
                                      sources={"pai": "PAI x"})


def test_chain_paa_vendor_mismatch():
    paa_key, pai_key, dac_key = (certs.new_key(s) for s in (b"a", b"b", b"c"))
    paa = certs.make_paa(key=paa_key, common_name="PAA FFF2", vendor_id=0xFFF2)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key, common_name="PAI",
                         vendor_id=0xFFF1)
    dac = certs.make_dac(key=dac_key, issuer_cert=pai, issuer_key=pai_key, common_name="DAC",
                         vendor_id=0xFFF1, product_id=0x8000)
    certs.check_attestation_chain(dac=dac, pai=pai, vendor_id=0xFFF1, product_id=0x8000,
                                  sources={})
    with pytest.raises(CredentialError, match="--paa_cert a has Matter vendor ID 0xFFF2 but the "
                                              "vendor ID is 0xFFF1"):
        certs.check_attestation_chain(dac=dac, pai=pai, paa=paa, vendor_id=0xFFF1,
                                      product_id=0x8000, sources={"paa": "--paa_cert a"})


def test_chain_pai_without_vid(chain):
    pai_key = certs.new_key(b"novid")
    pai = _raw_cert([_cn("PAI without VID")], key=pai_key, issuer=chain["paa"],
                    issuer_key=chain["paa_key"])
    dac_key = certs.new_key(b"dac-novid")
    dac = _raw_cert([_cn("DAC"), x509.NameAttribute(certs.MATTER_VID_OID, "FFF1"),
                     x509.NameAttribute(certs.MATTER_PID_OID, "8000")],
                    key=dac_key, issuer=pai, issuer_key=pai_key, ca=False)
    with pytest.raises(CredentialError, match="has Matter vendor ID none but"):
        certs.check_attestation_chain(dac=dac, pai=pai, vendor_id=0xFFF1, product_id=0x8000,
                                      sources={})


# --------------------------------------------------------------------------- generation


def _ext(cert: x509.Certificate, oid):
    return cert.extensions.get_extension_for_oid(oid)


def test_generated_chain_profile(chain):
    paa, pai, dac = chain["paa"], chain["pai"], chain["dac"]
    certs.check_attestation_chain(dac=dac, pai=pai, paa=paa, vendor_id=0xFFF1,
                                  product_id=0x8000, sources={})
    expected = {  # name: (ca, path_length, key_cert_sign, digital_signature, ids)
        "paa": (True, 1, True, False, (0xFFF1, None)),
        "pai": (True, 0, True, False, (0xFFF1, 0x8000)),
        "dac": (False, None, False, True, (0xFFF1, 0x8000)),
    }
    for name, (ca, path, cert_sign, digital, ids) in expected.items():
        cert = chain[name]
        certs.load_certificate(certs.cert_der(cert), source=name)
        assert cert.version is x509.Version.v3
        assert 0 < cert.serial_number < 1 << 159
        assert cert.not_valid_after_utc == certs.NO_WELL_DEFINED_EXPIRY
        assert certs.matter_ids(cert) == ids
        bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
        assert bc.critical and bc.value.ca is ca and bc.value.path_length == path
        ku = _ext(cert, ExtensionOID.KEY_USAGE)
        assert ku.critical
        assert ku.value.key_cert_sign is cert_sign and ku.value.crl_sign is cert_sign
        assert ku.value.digital_signature is digital
        assert not ku.value.key_encipherment and not ku.value.content_commitment
        skid = _ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        assert not skid.critical and len(skid.value.digest) == 20
        akid = _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        assert not akid.critical
        assert akid.value.authority_cert_issuer is None
        assert akid.value.authority_cert_serial_number is None
        assert len(cert.extensions) == 4
    assert _ext(paa, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier == \
        certs.subject_key_id(paa)
    assert _ext(pai, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier == \
        certs.subject_key_id(paa)
    assert _ext(dac, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier == \
        certs.subject_key_id(pai)
    assert [a.oid for a in dac.subject] == [NameOID.COMMON_NAME, certs.MATTER_VID_OID,
                                           certs.MATTER_PID_OID]


def test_paa_without_vid_and_path_length():
    key = certs.new_key(b"k")
    paa = certs.make_paa(key=key, common_name="Anonymous PAA", path_length=None)
    assert certs.matter_ids(paa) == (None, None)
    assert _ext(paa, ExtensionOID.BASIC_CONSTRAINTS).value.path_length is None
    with pytest.raises(InputError, match="path length 2"):
        certs.make_paa(key=key, common_name="x", path_length=2)


def test_default_not_before_is_now_in_seconds():
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = certs.make_paa(key=certs.new_key(b"n"), common_name="Now")
    after = dt.datetime.now(dt.timezone.utc)
    assert before <= cert.not_valid_before_utc <= after
    assert cert.not_valid_before_utc.microsecond == 0


def test_explicit_dates_and_timezones():
    cest = dt.timezone(dt.timedelta(hours=2))
    cert = certs.make_paa(key=certs.new_key(b"d"), common_name="Dates",
                          not_before=dt.datetime(2024, 6, 1, 2, 0, tzinfo=cest),
                          not_after=dt.datetime(2034, 6, 1))
    assert cert.not_valid_before_utc == dt.datetime(2024, 6, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert cert.not_valid_after_utc == dt.datetime(2034, 6, 1, tzinfo=dt.timezone.utc)


@pytest.mark.skipif(not certs.SUPPORTS_DETERMINISTIC_SIGNING,
                    reason="cryptography without deterministic ECDSA")
def test_deterministic_signing_reproduces_der():
    kwargs = dict(key=certs.new_key(b"det"), common_name="Det PAA", vendor_id=0xFFF1,
                  serial=0x1234, not_before=FIXED_START)
    one = certs.make_paa(deterministic=True, **kwargs)
    two = certs.make_paa(deterministic=True, **kwargs)
    assert certs.cert_der(one) == certs.cert_der(two)
    randomized = certs.make_paa(**kwargs)
    assert certs.cert_der(randomized) != certs.cert_der(one)
    assert randomized.tbs_certificate_bytes == one.tbs_certificate_bytes
    assert one.serial_number == 0x1234


def test_new_key_seeded_is_deterministic():
    a, b = certs.new_key(b"seed"), certs.new_key(b"seed")
    assert certs.raw_private_scalar(a) == certs.raw_private_scalar(b)
    assert certs.raw_private_scalar(certs.new_key(b"seed2")) != certs.raw_private_scalar(a)
    assert certs.raw_private_scalar(certs.new_key()) != certs.raw_private_scalar(certs.new_key())
    assert isinstance(a.curve, ec.SECP256R1)


def test_key_der_shape():
    der = certs.key_der(certs.new_key(b"shape"))
    assert len(der) == 121 and der[:7] == bytes.fromhex("30770201010420")
    assert der[7:39] == certs.raw_private_scalar(certs.new_key(b"shape"))


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (dict(vendor_id=0), InputError, "vendor ID 0 for the certificate is out of range"),
        (dict(vendor_id=0x10000), InputError, "out of range"),
        (dict(product_id=0), InputError, "product ID 0 for the certificate"),
        (dict(product_id=True), InputError, "product ID True"),
        (dict(serial=0), InputError, "serial number 0 is out of range"),
        (dict(serial=1 << 159), InputError, "serial number"),
        (dict(not_before=dt.datetime(2030, 1, 1), not_after=dt.datetime(2029, 1, 1)),
         InputError, "ends (2029-01-01 00:00:00) before it starts"),
        (dict(common_name=""), InputError, "common name ''"),
    ],
)
def test_generation_argument_errors(chain, kwargs, error, fragment):
    args = dict(key=certs.new_key(b"e"), issuer_cert=chain["pai"], issuer_key=chain["pai_key"],
                common_name="DAC", vendor_id=0xFFF1, product_id=0x8000)
    args.update(kwargs)
    with pytest.raises(error) as info:
        certs.make_dac(**args)
    assert fragment in str(info.value)


def test_generation_issuer_errors(chain):
    with pytest.raises(CredentialError, match="issuer key does not match"):
        certs.make_dac(key=certs.new_key(b"x"), issuer_cert=chain["pai"],
                       issuer_key=chain["paa_key"], common_name="DAC", vendor_id=0xFFF1,
                       product_id=0x8000)
    with pytest.raises(CredentialError, match="not a CA certificate"):
        certs.make_dac(key=certs.new_key(b"x"), issuer_cert=chain["dac"],
                       issuer_key=chain["dac_key"], common_name="DAC", vendor_id=0xFFF1,
                       product_id=0x8000)


def test_subject_key_id_missing():
    with pytest.raises(CredentialError, match="^--cd_cert c has no subjectKeyIdentifier"):
        certs.subject_key_id(_raw_cert([_cn("no skid")]), source="--cd_cert c")


# --------------------------------------------------------------------------- openssl


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=False)


@needs_openssl
def test_openssl_verifies_generated_chain(chain, tmp_path):
    for name in ("paa", "pai", "dac"):
        (tmp_path / f"{name}.pem").write_bytes(certs.cert_pem(chain[name]))
    full = _openssl("verify", "-CAfile", "paa.pem", "-untrusted", "pai.pem", "dac.pem")
    assert full.returncode == 0, full.stderr
    partial = _openssl("verify", "-partial_chain", "-CAfile", "pai.pem", "dac.pem")
    assert partial.returncode == 0, partial.stderr
    wrong = _openssl("verify", "-partial_chain", "-CAfile", "paa.pem", "dac.pem")
    assert wrong.returncode != 0


@needs_openssl
def test_openssl_verifies_golden_chain(golden, tmp_path):
    pai = _openssl("x509", "-inform", "DER", "-in", str(golden / PAI), "-out", "pai.pem")
    assert pai.returncode == 0, pai.stderr
    result = _openssl("verify", "-partial_chain", "-CAfile", "pai.pem", str(golden / DAC))
    assert result.returncode == 0, result.stderr


@needs_openssl
def test_openssl_text_shows_profile(chain, tmp_path):
    texts = {}
    for name in ("paa", "pai", "dac"):
        (tmp_path / f"{name}.der").write_bytes(certs.cert_der(chain[name]))
        result = _openssl("x509", "-inform", "DER", "-in", f"{name}.der", "-noout", "-text")
        assert result.returncode == 0, result.stderr
        texts[name] = result.stdout
    assert "CA:TRUE, pathlen:1" in texts["paa"]
    assert "CA:TRUE, pathlen:0" in texts["pai"]
    assert "CA:FALSE" in texts["dac"]
    for name in ("paa", "pai"):
        assert "Certificate Sign, CRL Sign" in texts[name]
    assert "Digital Signature" in texts["dac"]
    for text in texts.values():
        assert "X509v3 Basic Constraints: critical" in text
        assert "X509v3 Key Usage: critical" in text
        assert "Signature Algorithm: ecdsa-with-SHA256" in text
        assert "NIST CURVE: P-256" in text
        assert "Dec 31 23:59:59 9999 GMT" in text
    assert "1.3.6.1.4.1.37244.2.2 = 8000" in texts["dac"]


@needs_openssl
def test_openssl_reads_our_key(tmp_path, dac_key):
    (tmp_path / "k.der").write_bytes(certs.key_der(dac_key))
    result = _openssl("ec", "-inform", "DER", "-in", "k.der", "-noout", "-text")
    assert result.returncode == 0, result.stderr
    assert "7f:cd:6e:b8" in result.stdout


def test_point_sha256_is_the_sha256_of_the_keys_spki() -> None:
    for _ in range(20):
        key = ec.generate_private_key(ec.SECP256R1())
        assert certs.point_sha256(certs.public_key_bytes(key)) == certs.public_key_sha256(key)
    with pytest.raises(CredentialError):
        certs.point_sha256(b"\x02" + bytes(32))
