"""The strict DER reader (core/der.py) and the cryptography.x509-free checks (core/certview.py)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOLDEN_DIR, golden_args
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matter_factory_data.core import certs, certview, der
from matter_factory_data.errors import CredentialError, InputError

DAC = "Matter-Development-DAC-FFF1-8006-Cert.der"
DAC_KEY = "Matter-Development-DAC-FFF1-8006-Key.der"
PAI = "Matter-Development-PAI-FFF1-noPID-Cert.der"
SLOW = settings(max_examples=20, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- a DER writer


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, *values: bytes) -> bytes:
    value = b"".join(values)
    return bytes([tag]) + _length(len(value)) + value


def enc_int(n: int) -> bytes:
    magnitude = n if n >= 0 else ~n  # -128 fits one octet (0x80), 128 needs two (0x00 0x80)
    return tlv(0x02, n.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True))


def enc_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = b""
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def reject(data: bytes, fragment: str, read=None) -> None:
    with pytest.raises(der.DerError) as info:
        element = der.parse(data, source="in.der")
        if read is not None:
            read(element, source="in.der")
    message = str(info.value)
    assert message.startswith("in.der is not valid DER: "), message
    assert fragment in message, message
    assert isinstance(info.value, CredentialError)


# --------------------------------------------------------------------------- DER reader


@pytest.mark.parametrize(("hex_der", "value"), [
    ("020100", 0), ("02017f", 127), ("02020080", 128), ("020200ff", 255), ("02020100", 256),
    ("0201ff", -1), ("020180", -128), ("0202ff7f", -129), ("0209010000000000000000", 1 << 64),
])
def test_integer_vectors(hex_der, value):
    element = der.parse(bytes.fromhex(hex_der), source="x")
    assert der.read_integer(element, source="x") == value
    assert element.tag == der.INTEGER and element.encoded == bytes.fromhex(hex_der)


@pytest.mark.parametrize(("hex_der", "fragment"), [
    ("0200", "is empty"), ("02020001", "not minimally encoded"),
    ("0202ff80", "not minimally encoded"), ("0202007f", "not minimally encoded"),
])
def test_integer_rejects(hex_der, fragment):
    reject(bytes.fromhex(hex_der), fragment, der.read_integer)


@pytest.mark.parametrize(("dotted", "hex_der"), [
    ("1.2.840.113549", "06062a864886f70d"),
    ("1.2.840.10045.3.1.7", "06082a8648ce3d030107"),
    ("1.3.101.112", "06032b6570"),
    ("2.999.3", "0603883703"),
    ("0.39", "060127"),
    ("1.3.6.1.4.1.37244.2.1", "060a2b0601040182a27c0201"),
])
def test_oid_vectors(dotted, hex_der):
    assert der.read_oid(der.parse(bytes.fromhex(hex_der), source="x"), source="x") == dotted
    assert enc_oid(dotted).hex() == hex_der


@pytest.mark.parametrize(("hex_der", "fragment"), [
    ("0600", "empty or truncated"), ("06022a86", "empty or truncated"),
    ("0603802a01", "non-minimal arc"), ("06032a8001", "non-minimal arc"),
    ("04022a03", "expected an object identifier (OBJECT IDENTIFIER) at byte 0 but found OCTET"),
])
def test_oid_rejects(hex_der, fragment):
    reject(bytes.fromhex(hex_der), fragment, der.read_oid)


def test_boolean_null_octets_and_bit_strings():
    parse = lambda h: der.parse(bytes.fromhex(h), source="x")  # noqa: E731
    assert der.read_boolean(parse("0101ff"), source="x") is True
    assert der.read_boolean(parse("010100"), source="x") is False
    assert der.read_null(parse("0500"), source="x") is None
    assert der.read_octet_string(parse("0403010203"), source="x") == b"\x01\x02\x03"
    assert der.read_bit_string(parse("030100"), source="x") == (b"", 0)
    assert der.read_bit_string(parse("03020780"), source="x") == (b"\x80", 7)
    assert der.read_bit_string(parse("0303000102"), source="x") == (b"\x01\x02", 0)
    reject(bytes.fromhex("010101"), "not 00 or FF", der.read_boolean)
    reject(bytes.fromhex("0102ffff"), "not 00 or FF", der.read_boolean)
    reject(bytes.fromhex("050100"), "has content", der.read_null)
    reject(bytes.fromhex("03020781"), "set padding bits", der.read_bit_string)
    reject(bytes.fromhex("030108"), "unused-bits", der.read_bit_string)
    reject(bytes.fromhex("030101"), "unused-bits", der.read_bit_string)
    reject(bytes.fromhex("0300"), "unused-bits", der.read_bit_string)
    # Constructed forms of primitive types are BER only: the tag does not match.
    reject(bytes.fromhex("2403040101"), "expected an octet string (OCTET STRING)",
           der.read_octet_string)


@pytest.mark.parametrize(("hex_der", "text"), [
    ("0c03c3a978", "éx"), ("130446464631", "FFF1"), ("1e0203a9", "Ω"), ("1c04000003a9", "Ω"),
    ("1203313233", "123"), ("1a027e20", "~ "), ("1402e97a", "éz"), ("1600", ""),
])
def test_string_vectors(hex_der, text):
    element = der.parse(bytes.fromhex(hex_der), source="x")
    assert der.read_string(element, source="x") == text


def test_string_values_and_charsets():
    assert der.read_string(der.parse(tlv(0x13, b"Hello, World"), source="x"),
                           source="x") == "Hello, World"
    assert der.read_string(der.parse(tlv(0x16, b"a@b"), source="x"), source="x") == "a@b"
    reject(tlv(0x0C, b"\xff"), "not valid utf-8", der.read_string)
    reject(tlv(0x13, b"a*b"), "outside its character set", der.read_string)
    reject(tlv(0x13, b"a@b"), "outside its character set", der.read_string)
    reject(tlv(0x16, b"\x80"), "not valid ascii", der.read_string)
    reject(tlv(0x12, b"12a"), "outside its character set", der.read_string)
    reject(tlv(0x1A, b"\x7f"), "outside its character set", der.read_string)
    reject(tlv(0x1E, b"\x00"), "not valid utf-16-be", der.read_string)
    reject(tlv(0x04, b"abc"), "expected a string (a character string)", der.read_string)


def test_lengths_long_form_and_ber_rejects():
    long_value = b"\xab" * 200
    element = der.parse(b"\x04\x81\xc8" + long_value, source="x")
    assert element.value == long_value and len(element.encoded) == 203
    element = der.parse(b"\x04\x82\x01\x00" + bytes(256), source="x")
    assert len(element.value) == 256
    reject(b"\x04\x81\x05" + bytes(5), "non-minimal length")
    reject(b"\x04\x82\x00\x80" + bytes(128), "non-minimal length")
    reject(b"\x04\x82\x00\xc8" + long_value, "non-minimal length")
    reject(b"\x30\x80\x05\x00\x00\x00", "indefinite length")
    reject(b"\x04\x85\x01\x00\x00\x00\x00", "too long")
    reject(b"\x00\x00", "end-of-contents")
    reject(b"\x1f\x81\x00\x00", "multi-byte tag")


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "truncated at byte 0"),
    (b"\x30", "expected a length"),
    (b"\x04\x82\x01", "the length needs 2 octets"),
    (b"\x04\x05abc", "needs 5 content bytes but 3 remain"),
    (b"\x30\x03\x02\x01", "needs 3 content bytes but 2 remain"),
    (b"\x05\x00\x00", "1 trailing bytes after the NULL"),
    (b"\x30\x00\x30\x00", "2 trailing bytes"),
])
def test_truncation_and_trailing_bytes(data, fragment):
    reject(data, fragment)


def test_children_nesting_offsets_and_set_order():
    data = tlv(0x30, enc_int(1), tlv(0x30, enc_oid("1.2.3"), tlv(0x05)), tlv(0x04, b"xy"))
    top = der.parse(data, source="x")
    first, inner, octets = der.children(top, source="x")
    assert der.read_integer(first, source="x") == 1
    assert [e.tag for e in der.children(inner, source="x")] == [der.OID, der.NULL]
    assert der.children(inner, source="x")[0].offset == 7
    assert octets.offset == data.index(b"\x04\x02xy")
    assert der.children(der.parse(b"\x30\x00", source="x"), source="x") == []
    assert [e.value for e in der.children(der.parse(tlv(0x31, enc_int(1), enc_int(2)),
                                                    source="x"), source="x")] == [b"\x01", b"\x02"]
    with pytest.raises(der.DerError, match="not in DER order"):
        der.children(der.parse(tlv(0x31, enc_int(2), enc_int(1)), source="x"), source="x")
    with pytest.raises(der.DerError, match="primitive but should be constructed"):
        der.children(der.parse(enc_int(5), source="x"), source="x")
    # A child running past the end of its parent is truncation, even with bytes after the parent.
    with pytest.raises(der.DerError, match="remain"):
        der.children(der.read_element(b"\x30\x03\x04\x05ab", source="x")[0], source="x")
    assert der.context(3) == 0xA3 and der.context(0, constructed=False) == 0x80
    assert der.tag_name(0xA3) == "[3]" and der.tag_name(0x42) == "tag 0x42"


def test_expect_names_the_source_and_the_tags():
    element = der.parse(enc_int(5), source="x")
    with pytest.raises(CredentialError) as info:
        der.expect(element, der.SEQUENCE, source="--dac_cert d.der", what="the certificate")
    assert str(info.value) == ("--dac_cert d.der is not valid DER: expected the certificate "
                               "(SEQUENCE) at byte 0 but found INTEGER.")


@given(st.integers(min_value=-(1 << 300), max_value=1 << 300))
def test_integer_round_trip(value):
    assert der.read_integer(der.parse(enc_int(value), source="x"), source="x") == value


@given(st.tuples(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 1 << 70),
                                                                 max_size=8)))
def test_oid_round_trip(parts):
    first, second, rest = parts
    dotted = ".".join(map(str, [first, second, *rest]))
    assert der.read_oid(der.parse(enc_oid(dotted), source="x"), source="x") == dotted


def _walk(element: der.Element) -> None:
    if element.constructed:
        for child in der.children(element, source="fuzz"):
            _walk(child)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_random_bytes_only_raise_der_errors(data):
    try:
        _walk(der.parse(data, source="fuzz"))
    except der.DerError as error:
        assert str(error).startswith("fuzz is not valid DER: ")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_golden_certificate_only_raises_credential_errors(data):
    cert = bytearray((GOLDEN_DIR / DAC).read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        cert[data.draw(st.integers(0, len(cert) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(cert)))
    try:
        view = certview.parse_certificate(bytes(cert[:cut]), source="m")
    except CredentialError as error:
        assert str(error).startswith("m ")
    else:
        assert len(view.public_key) == 65


# --------------------------------------------------------------------------- golden


@pytest.fixture
def golden_views(golden: Path):
    dac = certview.parse_certificate((golden / DAC).read_bytes(), source="--dac_cert dac.der")
    pai = certview.parse_certificate((golden / PAI).read_bytes(), source="--pai_cert pai.der")
    return dac, pai


def test_golden_certificates(golden, golden_views):
    dac, pai = golden_views
    assert dac.der == (golden / DAC).read_bytes() and pai.der == (golden / PAI).read_bytes()
    assert certview.matter_ids(dac) == (0xFFF1, 0x8006)
    assert certview.matter_ids(pai) == (0xFFF1, None)
    assert dac.signature_algorithm == certview.ECDSA_WITH_SHA256_OID
    assert dac.public_key.hex().startswith("045e91ed925016cc") and len(dac.public_key) == 65
    assert dac.subject_key_id.hex().upper() == "D244F4A659D80D57761EE5094F74875896495843"
    assert pai.subject_key_id.hex().upper() == "63540E47F64B1C38D13884A462D16C195D8FFB3C"
    assert dac.authority_key_id == pai.subject_key_id
    assert certview.subject_key_id(dac) == dac.subject_key_id
    assert (dac.is_ca, dac.path_length, dac.key_usage) == (
        False, None, certview.KEY_USAGE_DIGITAL_SIGNATURE)
    assert (pai.is_ca, pai.path_length, pai.key_usage) == (
        True, 0, certview.KEY_USAGE_KEY_CERT_SIGN | certview.KEY_USAGE_CRL_SIGN)
    assert dac.issuer == pai.subject
    assert dac.subject_attributes == (
        (certview.COMMON_NAME_OID, "Matter Dev DAC 0xFFF1/0x8006"),
        (certview.MATTER_VID_OID, "FFF1"), (certview.MATTER_PID_OID, "8006"))
    assert dac.tbs == dac.der[4:4 + 4 + 397]


def test_golden_key_and_checks(golden, golden_views):
    dac, pai = golden_views
    data = (golden / DAC_KEY).read_bytes()
    scalar = certview.parse_private_key(data, source="--dac_key key.der")
    assert scalar == data[7:39]
    assert scalar.hex().startswith("7fcd6eb8") and scalar.hex().endswith("f49bdea2")
    assert certview.public_point(scalar) == dac.public_key
    certview.check_key_matches_certificate(scalar, dac, key_source="k", cert_source="c")
    certview.check_issued_by(dac, pai, child_source="dac", issuer_source="pai")
    certview.check_attestation_chain(dac=dac, pai=pai, vendor_id=0xFFF1, product_id=0x8006,
                                     sources={})


def test_golden_pem_forms(golden, golden_views):
    dac, _ = golden_views
    pem = certs.cert_pem(certs.load_certificate((golden / DAC).read_bytes(), source="d"))
    for text in (pem, b"leading text\n" + pem, pem.replace(b"\n", b"\r\n"),
                 b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                 + pem):
        assert certview.parse_certificate(text, source="dac.pem") == dac
    key_pem = certs.key_pem(certs.load_private_key((golden / DAC_KEY).read_bytes(), source="k"))
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    for text in (key_pem, params + key_pem, key_pem.replace(b"\n", b"\r\n")):
        assert certview.parse_private_key(text, source="k.pem") == \
            (golden / DAC_KEY).read_bytes()[7:39]


def test_golden_mismatches(golden, golden_views):
    dac, pai = golden_views
    other = certs.raw_private_scalar(certs.new_key(b"other"))
    with pytest.raises(CredentialError) as info:
        certview.check_key_matches_certificate(other, dac, key_source="--dac_key o.der",
                                               cert_source="--dac_cert d")
    assert str(info.value) == (
        "--dac_key o.der does not match --dac_cert d: its public key differs from the "
        "certificate's; give the private key that belongs to this certificate.")
    with pytest.raises(CredentialError, match="^k is not a P-256 private key scalar"):
        certview.check_key_matches_certificate(bytes(32), dac, key_source="k", cert_source="c")
    with pytest.raises(CredentialError) as info:
        certview.check_issued_by(pai, dac, child_source="--dac_cert p",
                                 issuer_source="--pai_cert d")
    assert str(info.value) == (
        "--dac_cert p was not issued by --pai_cert d: its issuer is 'CN=Matter Test PAA, "
        "VID=FFF1' but the issuer certificate's subject is 'CN=Matter Dev DAC 0xFFF1/0x8006, "
        "VID=FFF1, PID=8006'; give the certificate that issued it.")
    sources = {"dac": "--dac_cert d", "pai": "--pai_cert p", "vendor_id": "--vendor_id",
               "product_id": "--product_id"}
    for vid, pid, fragment in [
        (0xFFF2, 0x8006, "--dac_cert d has Matter vendor ID 0xFFF1 but --vendor_id is 0xFFF2; "
                         "the certificate's vendor ID must equal it."),
        (0xFFF1, 0x8007, "--dac_cert d has Matter product ID 0x8006 but --product_id is "
                         "0x8007; the certificate's product ID must equal it."),
    ]:
        with pytest.raises(CredentialError) as info:
            certview.check_attestation_chain(dac=dac, pai=pai, vendor_id=vid, product_id=pid,
                                             sources=sources)
        assert str(info.value) == fragment


def test_same_messages_as_certs_for_bad_certificates(golden):
    data = (golden / DAC).read_bytes()
    p384 = _build([_cn("x")], key=ec.generate_private_key(ec.SECP384R1()))
    sha384 = _build([_cn("x")], hash_alg=hashes.SHA384())
    cases = [b"", b"garbage", data[:-1], data + b"\x00", b"\x30\x83\x00\x01\xe7" + data[4:],
             b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
             b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
             b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
             certs.cert_der(p384), certs.cert_der(sha384)]
    for case in cases:
        with pytest.raises(CredentialError) as ours:
            certview.parse_certificate(case, source="--dac_cert x")
        with pytest.raises(CredentialError) as theirs:
            certs.load_certificate(case, source="--dac_cert x")
        assert str(ours.value) == str(theirs.value)
        assert str(ours.value).startswith("--dac_cert x ")
    with pytest.raises(CredentialError, match=r"non-minimal length at byte 1 \(BER"):
        certview.parse_certificate(cases[4], source="c")
    with pytest.raises(CredentialError, match="1 trailing bytes"):
        certview.parse_certificate(cases[3], source="c")
    with pytest.raises(CredentialError, match="EC P-256 public key"):
        certview.parse_certificate(cases[8], source="c")
    with pytest.raises(CredentialError, match="1.2.840.10045.4.3.3; Matter accepts only"):
        certview.parse_certificate(cases[9], source="c")
    with pytest.raises(CredentialError, match="^c is not a readable X.509 certificate"):
        certview.parse_certificate("not bytes", source="c")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parity


def _cn(name: str) -> x509.NameAttribute:
    return x509.NameAttribute(NameOID.COMMON_NAME, name)


def _build(subject, *, key=None, issuer=None, issuer_key=None, ca=True, skid=None,
           hash_alg=None, extensions=()) -> x509.Certificate:
    key = key or certs.new_key(b"raw")
    name = x509.Name(subject)
    builder = (
        x509.CertificateBuilder().subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key()).serial_number(1234)
        .not_valid_before(certs.NO_WELL_DEFINED_EXPIRY.replace(year=2024))
        .not_valid_after(certs.NO_WELL_DEFINED_EXPIRY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if skid is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(skid), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key or key, hash_alg or hashes.SHA256())


def _key_usage_bits(usage: x509.KeyUsage) -> int:
    names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    bits = 0
    for index, name in enumerate(names):
        if name in ("encipher_only", "decipher_only") and not usage.key_agreement:
            continue
        if getattr(usage, name):
            bits |= 1 << index
    return bits


def _ext(cert: x509.Certificate, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def assert_parity(cert: x509.Certificate) -> certview.CertView:
    """Every CertView field equals what cryptography.x509 reads from the same certificate."""
    view = certview.parse_certificate(certs.cert_der(cert), source="parity")
    assert view.der == certs.cert_der(cert)
    assert view.tbs == cert.tbs_certificate_bytes
    assert view.signature == cert.signature
    assert view.signature_algorithm == cert.signature_algorithm_oid.dotted_string
    assert view.issuer == cert.issuer.public_bytes()
    assert view.subject == cert.subject.public_bytes()
    assert view.subject_attributes == tuple((a.oid.dotted_string, a.value) for a in cert.subject)
    assert view.public_key == certs.public_key_bytes(cert)
    constraints = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    assert view.is_ca is bool(constraints and constraints.ca)
    assert view.path_length == (constraints.path_length if constraints else None)
    usage = _ext(cert, ExtensionOID.KEY_USAGE)
    assert view.key_usage == (None if usage is None else _key_usage_bits(usage))
    skid = _ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    assert view.subject_key_id == (skid.digest if skid else None)
    akid = _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    assert view.authority_key_id == (akid.key_identifier if akid else None)
    return view


def _x509_ids(cert: x509.Certificate) -> tuple:
    """VID/PID read with cryptography.x509 directly (attributes only, as generated)."""
    def one(oid):
        values = cert.subject.get_attributes_for_oid(oid)
        return int(values[0].value, 16) if values else None
    return one(certs.MATTER_VID_OID), one(certs.MATTER_PID_OID)


def _issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Issued-by as cryptography.x509 sees it: names and signature, and the issuer is a CA."""
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    constraints = _ext(issuer, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(constraints and constraints.ca)


def _issued_view(child: certview.CertView, issuer: certview.CertView) -> bool:
    try:
        certview.check_issued_by(child, issuer, child_source="c", issuer_source="i")
    except CredentialError:
        return False
    return True


ids = st.integers(min_value=1, max_value=0xFFFF)
# common names follow the text rules (no control or invisible format characters: DEL, C1,
# U+00AD), as every subject this tool writes
names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF,
                                       blacklist_categories=("Cs", "Cc", "Cf")), min_size=1,
                max_size=64
                ).filter(lambda s: len(s.encode("utf-8")) <= 64)  # X.509 counts UTF-8 bytes


@SLOW
@given(seed=st.binary(min_size=1, max_size=8), vid=ids, pid=ids, paa_vid=st.one_of(st.none(), ids),
       pai_pid=st.booleans(), serial=st.integers(1, (1 << 159) - 1), cn=names)
def test_random_chains_match_cryptography(seed, vid, pid, paa_vid, pai_pid, serial, cn):
    paa_key, pai_key, dac_key = (certs.new_key(seed + tag) for tag in (b"a", b"i", b"d"))
    paa = certs.make_paa(key=paa_key, common_name=cn, vendor_id=paa_vid, serial=serial)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name=certs.common_name("PAI " + cn), vendor_id=vid,
                         product_id=pid if pai_pid else None)
    dac = certs.make_dac(key=dac_key, issuer_cert=pai, issuer_key=pai_key, common_name=cn,
                         vendor_id=vid, product_id=pid)
    chain = {"paa": paa, "pai": pai, "dac": dac}
    views = {name: assert_parity(cert) for name, cert in chain.items()}
    for name, cert in chain.items():
        assert certview.matter_ids(views[name]) == _x509_ids(cert)
    assert [views[n].is_ca for n in ("paa", "pai", "dac")] == [True, True, False]
    assert (views["paa"].path_length, views["pai"].path_length) == (1, 0)
    for child in chain:
        for issuer in chain:
            assert _issued_view(views[child], views[issuer]) == \
                _issued(chain[child], chain[issuer]), (child, issuer)
    scalar = certview.parse_private_key(certs.key_der(dac_key), source="k")
    assert scalar == certs.raw_private_scalar(dac_key)
    certview.check_key_matches_certificate(scalar, views["dac"], key_source="k", cert_source="c")
    full = dict(dac=views["dac"], pai=views["pai"], paa=views["paa"], sources={})
    if paa_vid in (None, vid):
        certview.check_attestation_chain(vendor_id=vid, product_id=pid, **full)
    else:
        with pytest.raises(CredentialError, match="the PAA certificate has Matter vendor ID"):
            certview.check_attestation_chain(vendor_id=vid, product_id=pid, **full)
    with pytest.raises(CredentialError, match="but the product ID is"):
        certview.check_attestation_chain(dac=views["dac"], pai=views["pai"], vendor_id=vid,
                                         product_id=pid % 0xFFFF + 1, sources={})


@SLOW
@given(seed=st.binary(min_size=1, max_size=8))
def test_random_keys_in_every_unencrypted_format(seed):
    key = certs.new_key(seed)
    expected = certs.raw_private_scalar(key)
    for encoding in (serialization.Encoding.DER, serialization.Encoding.PEM):
        for fmt in (serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.PrivateFormat.PKCS8):
            data = key.private_bytes(encoding, fmt, serialization.NoEncryption())
            assert certview.parse_private_key(data, source="k") == expected
    assert certview.public_point(expected) == certs.public_key_bytes(key)


def test_extension_shapes_match_cryptography():
    key = certs.new_key(b"ext")
    skid = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    usage = x509.KeyUsage(digital_signature=False, content_commitment=True,
                          key_encipherment=False, data_encipherment=True, key_agreement=True,
                          key_cert_sign=False, crl_sign=False, encipher_only=True,
                          decipher_only=True)
    akid_full = x509.AuthorityKeyIdentifier(b"\x01" * 20, [x509.DNSName("ca.example")], 7)
    akid_none = x509.AuthorityKeyIdentifier(None, [x509.DNSName("ca.example")], 7)
    san = x509.SubjectAlternativeName([x509.DNSName("device.example")])
    for extensions in [[(usage, True), (akid_full, False)], [(akid_none, False), (san, False)],
                       [(skid, False)], []]:
        for ca in (True, False):
            assert_parity(_build([_cn("e")], key=key, ca=ca, extensions=extensions))
    # Multi-valued RDN and several string types in the subject.
    subject = [x509.RelativeDistinguishedName([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "Ünïcode CN")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(
            NameOID.SERIAL_NUMBER, "12345", _type=x509.name._ASN1Type.PrintableString)])]
    cert = (x509.CertificateBuilder().subject_name(x509.Name(subject))
            .issuer_name(x509.Name(subject)).public_key(key.public_key()).serial_number(5)
            .not_valid_before(certs.NO_WELL_DEFINED_EXPIRY.replace(year=2020))
            .not_valid_after(certs.NO_WELL_DEFINED_EXPIRY).sign(key, hashes.SHA256()))
    view = assert_parity(cert)
    assert (view.is_ca, view.key_usage, view.subject_key_id) == (False, None, None)


def _hand_built(extensions: list[bytes], *, version: bytes | None = b"\x02",
                key=None, point: bytes | None = None) -> bytes:
    """A signed certificate assembled from DER pieces, for shapes no builder produces."""
    key = key or certs.new_key(b"hand")
    algorithm = tlv(0x30, enc_oid(certview.ECDSA_WITH_SHA256_OID))
    name = tlv(0x30, tlv(0x31, tlv(0x30, enc_oid("2.5.4.3"), tlv(0x0C, b"hand"))))
    spki = tlv(0x30, tlv(0x30, enc_oid(certview.EC_PUBLIC_KEY_OID), enc_oid(certview.P256_OID)),
               tlv(0x03, b"\x00" + (point or certs.public_key_bytes(key))))
    parts = [tlv(0xA0, tlv(0x02, version))] if version is not None else []
    parts += [enc_int(1), algorithm, name,
              tlv(0x30, tlv(0x17, b"240101000000Z"), tlv(0x18, b"99991231235959Z")), name, spki]
    if extensions:
        parts.append(tlv(0xA3, tlv(0x30, *extensions)))
    tbs = tlv(0x30, *parts)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return tlv(0x30, tbs, algorithm, tlv(0x03, b"\x00" + signature))


def _extension(oid: str, value: bytes, critical: bytes | None = b"\xff") -> bytes:
    flag = tlv(0x01, critical) if critical is not None else b""
    return tlv(0x30, enc_oid(oid), flag, tlv(0x04, value))


BC_CA = _extension("2.5.29.19", tlv(0x30, tlv(0x01, b"\xff")))
SKID = _extension("2.5.29.14", tlv(0x04, b"\x11" * 20), None)


@pytest.mark.parametrize(("case", "extensions", "absent"), [
    ("well-formed", [BC_CA, SKID], False),
    ("duplicate", [BC_CA, SKID, SKID], True),
    ("explicit-ca-false", [_extension("2.5.29.19", tlv(0x30, tlv(0x01, b"\x00"))), SKID], True),
    ("negative-path-length", [_extension("2.5.29.19", tlv(0x30, tlv(0x01, b"\xff"),
                                                          tlv(0x02, b"\xff"))), SKID], True),
    ("bc-trailing", [_extension("2.5.29.19", tlv(0x30, tlv(0x01, b"\xff")) + b"\x00"), SKID],
     True),
    ("ku-padding", [BC_CA, SKID, _extension("2.5.29.15", tlv(0x03, b"\x01\x07"))], True),
    ("skid-not-octets", [BC_CA, _extension("2.5.29.14", tlv(0x05), None)], True),
    ("unknown-critical", [BC_CA, SKID, _extension("1.2.3.4", tlv(0x05))], False),
])
def test_malformed_extensions_count_as_absent_like_cryptography(case, extensions, absent):
    data = _hand_built(extensions)
    cert = x509.load_der_x509_certificate(data)
    view = certview.parse_certificate(data, source="h")
    try:
        _ = cert.extensions
    except (ValueError, x509.DuplicateExtension):
        crypto_absent = True
    else:
        crypto_absent = False
    assert crypto_absent is absent
    assert (view.is_ca, view.subject_key_id) == ((False, None) if absent else (True, b"\x11" * 20))


@pytest.mark.parametrize(("case", "data", "fragment"), [
    ("critical-false-explicit", lambda: _hand_built([_extension("2.5.29.19", tlv(0x30),
                                                                b"\x00")]),
     "default criticality"),
    ("critical-not-boolean", lambda: _hand_built([_extension("2.5.29.19", tlv(0x30), b"\x01")]),
     "not 00 or FF"),
    ("explicit-v1", lambda: _hand_built([BC_CA], version=b"\x00"), "default version v1"),
    ("version-4", lambda: _hand_built([BC_CA], version=b"\x03"), "not an X.509 version"),
])
def test_structural_certificate_errors_like_cryptography(case, data, fragment):
    der_bytes = data()
    with pytest.raises((ValueError, x509.InvalidVersion)):
        x509.load_der_x509_certificate(der_bytes)
    with pytest.raises(CredentialError, match="^h is not a readable X.509 certificate") as info:
        certview.parse_certificate(der_bytes, source="h")
    if fragment:
        assert fragment in str(info.value)


def test_v1_and_v2_certificates():
    data = _hand_built([], version=None)
    assert x509.load_der_x509_certificate(data).version is x509.Version.v1
    with pytest.raises(CredentialError) as info:
        certview.parse_certificate(data, source="--pai_cert p")
    assert str(info.value) == ("--pai_cert p is an X.509 v1 certificate; only X.509 v3 is "
                               "accepted.")
    view = certview.parse_certificate(data, source="p", profile=False)
    assert view.is_ca is False and len(view.public_key) == 65
    # cryptography cannot load v2 at all ("not readable"); we say what it is.
    with pytest.raises(CredentialError, match="^p is an X.509 v2 certificate; only X.509 v3"):
        certview.parse_certificate(_hand_built([BC_CA], version=b"\x01"), source="p")


def test_compressed_public_key_in_certificate():
    key = certs.new_key(b"compressed")
    compressed = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.CompressedPoint)
    data = _hand_built([BC_CA], key=key, point=compressed)
    view = certview.parse_certificate(data, source="c")
    assert view.public_key == certs.public_key_bytes(x509.load_der_x509_certificate(data))
    assert view.public_key == certs.public_key_bytes(key)
    not_on_curve = b"\x04" + b"\x01" * 64
    with pytest.raises(CredentialError, match="^c does not hold an EC P-256 public key"):
        certview.parse_certificate(_hand_built([BC_CA], point=not_on_curve), source="c")


def test_matter_id_rules():
    def view(attributes):
        return certview.parse_certificate(certs.cert_der(_build(attributes)), source="c")
    assert certview.matter_ids(view([_cn("ACME Mvid:FFF1 Mpid:00B1")])) == (0xFFF1, 0x00B1)
    assert certview.matter_ids(view([_cn("Mvid:FFF2"), x509.NameAttribute(
        certs.MATTER_VID_OID, "FFF1")])) == (0xFFF1, None)
    for bad in ("fff1", "FFF", "FFF10", "GFF1", " FFF1", ""):
        with pytest.raises(CredentialError, match="^--dac_cert d has a malformed Matter vendor"):
            certview.matter_ids(view([_cn("x"), x509.NameAttribute(certs.MATTER_VID_OID, bad)]),
                                source="--dac_cert d")
    pid = x509.NameAttribute(certs.MATTER_PID_OID, "8000")
    with pytest.raises(CredentialError, match="2 Matter product ID attributes"):
        certview.matter_ids(view([_cn("x"), pid, pid]))
    with pytest.raises(CredentialError, match="2 'Mpid:' product ID values"):
        certview.matter_ids(view([_cn("Mpid:8000 Mpid:8001")]))


# --------------------------------------------------------------------------- private keys


def _sec1(scalar: bytes, *, curve: str | None = certview.P256_OID, public: bytes | None = None,
          version: int = 1) -> bytes:
    return tlv(0x30, enc_int(version), tlv(0x04, scalar),
               tlv(0xA0, enc_oid(curve)) if curve else b"",
               tlv(0xA1, tlv(0x03, b"\x00" + public)) if public is not None else b"")


def test_sec1_shapes():
    key = certs.new_key(b"sec1")
    scalar = certs.raw_private_scalar(key)
    point = certs.public_key_bytes(key)
    compressed = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.CompressedPoint)
    assert certview.parse_private_key(_sec1(scalar), source="k") == scalar
    assert certview.parse_private_key(_sec1(scalar, public=point), source="k") == scalar
    assert certview.parse_private_key(_sec1(scalar, public=compressed), source="k") == scalar
    assert _sec1(scalar, public=point) == certs.key_der(key)
    order = certview.P256_ORDER.to_bytes(32, "big")
    other = certs.public_key_bytes(certs.new_key(b"other"))
    for data, fragment in [
        (_sec1(scalar, public=other), "does not belong to it"),
        (_sec1(scalar, curve=None), "does not name its curve"),
        (_sec1(bytes(32)), "not 32 bytes from 1"),
        (_sec1(order), "not 32 bytes from 1"),
        (_sec1(scalar[1:]), "not 32 bytes from 1"),
        (_sec1(b"\x00" + scalar), "not 32 bytes from 1"),
        (_sec1(scalar, version=0), "version is not 1"),
        (_sec1(scalar, version=2), "version is not 1"),
        (_sec1(scalar, curve="1.2.3.4"), "unsupported curve 1.2.3.4"),
        (_sec1(scalar) + b"\x00", "trailing bytes"),
    ]:
        with pytest.raises(CredentialError) as info:
            certview.parse_private_key(data, source="--dac_key x")
        assert str(info.value).startswith("--dac_key x is not a readable private key (")
        assert fragment in str(info.value)
        with pytest.raises(CredentialError, match="^--dac_key x is not a readable private key"):
            certs.load_private_key(data, source="--dac_key x")
        with pytest.raises((ValueError, UnsupportedAlgorithm)):  # cryptography refuses them too
            serialization.load_der_private_key(data, password=None)
    with pytest.raises(CredentialError, match="curve secp384r1; Matter accepts only P-256"):
        certview.parse_private_key(_sec1(scalar, curve="1.3.132.0.34"), source="k")


@pytest.mark.parametrize(("encoding", "fmt"), [
    (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
    (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
    (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),  # Proc-Type
], ids=["pkcs8-der", "pkcs8-pem", "sec1-pem-legacy"])
def test_encrypted_keys(golden, encoding, fmt):
    key = certs.load_private_key((golden / DAC_KEY).read_bytes(), source="golden")
    expected = (golden / DAC_KEY).read_bytes()[7:39]
    data = key.private_bytes(encoding, fmt, serialization.BestAvailableEncryption(b"s3cret-pw"))
    assert certview.parse_private_key(data, source="k", password=b"s3cret-pw") == expected
    assert certview.parse_private_key(data, source="k", password="s3cret-pw") == expected
    with pytest.raises(CredentialError) as wrong:
        certview.parse_private_key(data, source="--dac_key k", password=b"wrong-pw")
    assert str(wrong.value) == ("--dac_key k could not be decrypted with the given password; "
                                "give the password the key was encrypted with.")
    for missing in (None, b"", ""):
        with pytest.raises(CredentialError) as info:
            certview.parse_private_key(data, source="--dac_key k", password=missing)
        assert str(info.value) == ("--dac_key k is an encrypted private key but no password was "
                                   "given; give the password it was encrypted with.")


def test_encrypted_other_curve_and_unsupported_scheme():
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(CredentialError, match="^k is an EC key on curve secp384r1"):
        certview.parse_private_key(p384, source="k", password=b"pw")
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(CredentialError, match="^k is a Ed25519PrivateKey key; Matter accepts"):
        certview.parse_private_key(ed, source="k", password=b"pw")
    unknown = tlv(0x30, tlv(0x30, enc_oid("1.2.3.4.5")), tlv(0x04, b"\x00" * 32))
    with pytest.raises(CredentialError, match="^k is an encrypted private key but no password"):
        certview.parse_private_key(unknown, source="k")
    with pytest.raises(CredentialError, match="^k could not be decrypted"):  # as cryptography
        certview.parse_private_key(unknown, source="k", password=b"pw")


def test_password_for_unencrypted_key(golden):
    with pytest.raises(CredentialError) as info:
        certview.parse_private_key((golden / DAC_KEY).read_bytes(), source="k", password="pw123")
    assert str(info.value) == ("k is not encrypted but a password was given; give no password "
                               "for an unencrypted key.")


@pytest.mark.parametrize("make", [
    lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
    lambda: ed25519.Ed25519PrivateKey.generate(),
    lambda: ec.generate_private_key(ec.SECP384R1()),
    lambda: ec.generate_private_key(ec.SECP256K1()),
], ids=["rsa", "ed25519", "p384", "secp256k1"])
def test_other_key_types_have_the_same_message_as_before(make):
    key = make()
    formats = [(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
               (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)]
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        formats += [(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL),
                    (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL)]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        expected = (f"k is an EC key on curve {key.curve.name}; Matter accepts only P-256 "
                    "(prime256v1, secp256r1).")
    else:
        expected = (f"k is a {type(key).__name__.lstrip('_')} key; Matter accepts only EC "
                    "P-256 (prime256v1) private keys.")
    for encoding, fmt in formats:
        data = key.private_bytes(encoding, fmt, serialization.NoEncryption())
        with pytest.raises(CredentialError) as info:
            certview.parse_private_key(data, source="k")
        assert str(info.value) == expected, (encoding, fmt)


@pytest.mark.parametrize("data", [
    b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30\x00", "text",
    b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
])
def test_garbage_keys(data):
    with pytest.raises(CredentialError, match="^--dac_key x is not a readable private key"):
        certview.parse_private_key(data, source="--dac_key x")


def test_verify_signature_agrees_with_ecdsa(golden_views):
    dac, pai = golden_views
    certview.verify_signature(pai.public_key, dac.signature, dac.tbs)
    key = certs.new_key(b"verify")
    point = certs.public_key_bytes(key)
    for data in (b"", b"data", bytes(1000)):
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        certview.verify_signature(point, signature, data)
        key.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
        for bad_data, bad_signature in ((data + b"x", signature),
                                        (data, signature[:-1] + bytes([signature[-1] ^ 1])),
                                        (data, b"\x30\x00"), (data, b"")):
            with pytest.raises(InvalidSignature):
                certview.verify_signature(point, bad_signature, bad_data)
            with pytest.raises(InvalidSignature):
                key.public_key().verify(bad_signature, bad_data, ec.ECDSA(hashes.SHA256()))
    sha384 = key.sign(b"data", ec.ECDSA(hashes.SHA384()))
    with pytest.raises(InvalidSignature):
        certview.verify_signature(point, sha384, b"data")


# --------------------------------------------------------------------------- credentials


def test_load_user_attestation_reads_der_and_pem_alike(golden, tmp_path):
    from matter_factory_data.jobs import credentials

    key = certs.load_private_key((golden / DAC_KEY).read_bytes(), source="k")
    files = {
        "dac_cert": certs.cert_pem(certs.load_certificate((golden / DAC).read_bytes(), source="d")),
        "pai_cert": certs.cert_pem(certs.load_certificate((golden / PAI).read_bytes(), source="p")),
        "dac_key": key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.BestAvailableEncryption(b"pw")),
    }
    for name, data in files.items():
        (tmp_path / f"{name}.pem").write_bytes(data)
    common = dict(paa_cert=None, vendor_id=0xFFF1, product_id=0x8006)
    from_der = credentials.load_user_attestation(
        dac_cert=str(golden / DAC), dac_key=str(golden / DAC_KEY), pai_cert=str(golden / PAI),
        password=None, **common)
    from_pem = credentials.load_user_attestation(
        dac_cert=str(tmp_path / "dac_cert.pem"), dac_key=str(tmp_path / "dac_key.pem"),
        pai_cert=str(tmp_path / "pai_cert.pem"), password="pw", **common)
    assert from_der == from_pem == (
        (golden / DAC).read_bytes(), (golden / PAI).read_bytes(),
        (golden / DAC_KEY).read_bytes()[7:39])
    assert isinstance(from_der, tuple) and from_der._fields == ("dac_cert", "pai_cert", "dac_key")
    assert from_der.dac_key == (golden / DAC_KEY).read_bytes()[7:39]


def test_load_user_attestation_with_paa_names_options_and_files(tmp_path):
    from matter_factory_data.jobs import credentials

    paa_key, pai_key, dac_key = (certs.new_key(s) for s in (b"ua", b"ui", b"ud"))
    paa = certs.make_paa(key=paa_key, common_name="PAA FFF2", vendor_id=0xFFF2)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key, common_name="PAI",
                         vendor_id=0xFFF1)
    dac = certs.make_dac(key=dac_key, issuer_cert=pai, issuer_key=pai_key, common_name="DAC",
                         vendor_id=0xFFF1, product_id=0x8000)
    for name, data in (("paa.der", certs.cert_der(paa)), ("pai.der", certs.cert_der(pai)),
                       ("dac.der", certs.cert_der(dac)), ("key.der", certs.key_der(dac_key)),
                       ("other.der", certs.key_der(pai_key))):
        (tmp_path / name).write_bytes(data)
    args = dict(dac_cert=str(tmp_path / "dac.der"), dac_key=str(tmp_path / "key.der"),
                pai_cert=str(tmp_path / "pai.der"), password=None, vendor_id=0xFFF1,
                product_id=0x8000)
    assert credentials.load_user_attestation(paa_cert=None, **args).dac_cert == \
        certs.cert_der(dac)
    with pytest.raises(CredentialError) as info:
        credentials.load_user_attestation(paa_cert=str(tmp_path / "paa.der"), **args)
    assert str(info.value).startswith(f"--paa_cert {tmp_path / 'paa.der'} has Matter vendor ID "
                                      "0xFFF2 but the vendor ID is 0xFFF1")
    with pytest.raises(CredentialError) as info:
        credentials.load_user_attestation(paa_cert=str(tmp_path / "dac.der"), **args)
    assert str(info.value).startswith(f"--pai_cert {tmp_path / 'pai.der'} was not issued by "
                                      f"--paa_cert {tmp_path / 'dac.der'}")
    with pytest.raises(CredentialError) as info:
        credentials.load_user_attestation(paa_cert=None, **{**args, "dac_key": str(
            tmp_path / "other.der")})
    assert str(info.value).startswith(f"--dac_key {tmp_path / 'other.der'} does not match "
                                      f"--dac_cert {tmp_path / 'dac.der'}")
    with pytest.raises(CredentialError) as info:
        credentials.load_user_attestation(paa_cert=None, **{**args, "pai_cert": str(
            tmp_path / "key.der")})
    assert str(info.value).startswith(f"--pai_cert {tmp_path / 'key.der'} is not a readable "
                                      "X.509 certificate")


# --------------------------------------------------------------------------- imports


def _run(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


SLOW_MODULES = ("cryptography.x509", "cryptography.hazmat.primitives.serialization")
_REPORT = ("import json, sys; print(json.dumps({m: m in sys.modules for m in "
           f"{SLOW_MODULES!r}}}))")


def test_certview_imports_neither_x509_nor_serialization(golden):
    dac, pai, key = (str(golden / name) for name in (DAC, PAI, DAC_KEY))
    code = ("from matter_factory_data.core import certview\n"
            f"d = certview.parse_certificate(open({dac!r}, 'rb').read(), source='d')\n"
            f"p = certview.parse_certificate(open({pai!r}, 'rb').read(), source='p')\n"
            f"k = certview.parse_private_key(open({key!r}, 'rb').read(), source='k')\n"
            "certview.check_key_matches_certificate(k, d, key_source='k', cert_source='d')\n"
            "certview.check_attestation_chain(dac=d, pai=p, vendor_id=0xFFF1, product_id=0x8006, "
            "sources={})\n" + _REPORT)
    assert _run(code) == {m: False for m in SLOW_MODULES}


def test_generate_with_golden_credentials_skips_x509_and_serialization(golden, tmp_path):
    """The credential path of ``generate`` loads neither module.

    The SPAKE2+ verifier is given instead of the passcode so that only the credential
    path is measured here (see the next test for the passcode path).
    """
    verifier = json.loads((golden / "factory_data.json").read_text())["spake2_verifier"]
    args = ["generate", *(str(a) for a in golden_args(golden, tmp_path / "out" / "fd"))]
    at = args.index("--passcode")
    args[at:at + 2] = ["--spake2_verifier",
                       base64.b64encode(bytes.fromhex(verifier.split(":", 1)[1])).decode()]
    code = ("from matter_factory_data.cli import main\n"
            f"assert main({args!r}) == 0\n" + _REPORT)
    assert _run(code) == {m: False for m in SLOW_MODULES}
    assert (tmp_path / "out" / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()


def test_generate_golden_args_imports_neither_x509_nor_serialization(golden, tmp_path):
    """Exactly the golden arguments (passcode path included): neither slow module is loaded."""
    args = ["generate", *(str(a) for a in golden_args(golden, tmp_path / "out" / "fd"))]
    code = ("import json, sys\n"
            "from matter_factory_data.cli import main\n"
            f"assert main({args!r}) == 0\n"
            f"print(json.dumps({{m: m in sys.modules for m in {SLOW_MODULES!r}}}))\n")
    assert _run(code) == {m: False for m in SLOW_MODULES}
    assert (tmp_path / "out" / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()


def test_common_names_are_limited_in_utf8_bytes():
    """64 bytes, not characters: cryptography (and X.509 ub-common-name) count the encoding."""
    key = certs.new_key(b"cn")
    with pytest.raises(InputError, match="1..64 bytes"):
        certs.make_paa(key=key, common_name="\u00e9" * 33)  # 66 bytes
    assert certs.common_name("\u00e9" * 40) == "\u00e9" * 32
    assert certs.common_name("a" * 63 + "\u00e9") == "a" * 63  # never half a character


def _dac_issuer(deterministic: bool = False):
    import datetime as dt

    paa_key = ec.generate_private_key(ec.SECP256R1())
    paa = certs.make_paa(key=paa_key, common_name="Sibling PAA", vendor_id=0xFFF1,
                         not_before=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    pai_key = ec.generate_private_key(ec.SECP256R1())
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name="Sibling PAI", vendor_id=0xFFF1, product_id=0x8000,
                         not_before=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    return certs.DacIssuer(issuer_cert=pai, issuer_key=pai_key, common_name="Sibling DAC",
                           vendor_id=0xFFF1, product_id=0x8000,
                           not_before=dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc),
                           deterministic=deterministic)


def test_sibling_certificates_read_as_a_full_reading_does() -> None:
    """A batch's DACs are read from the first one's reading (cert_read._Siblings): for real
    siblings and for thousands of damaged ones, a sibling reading must equal the full one,
    and whatever the full reading refuses the sibling path must not accept."""
    import random

    from matter_factory_data.core import cert_read

    issuer = _dac_issuer()
    dacs = [issuer.issue_der(ec.generate_private_key(ec.SECP256R1()),
                             random.getrandbits(158) | 1 << 157) for _ in range(30)]
    siblings = cert_read._Siblings()
    siblings.learn(dacs[0], cert_read._read_certificate(dacs[0], "x"))
    matched = 0
    for dac in dacs[1:]:
        reading = siblings.read(dac, "x")
        if reading is not None:  # a shorter serial changes the TBS length: read in full
            matched += 1
            assert reading == cert_read._read_certificate(dac, "x")
    assert matched >= 20
    rng = random.Random(3)
    accepted = refused = 0
    for _ in range(3000):
        damaged = bytearray(rng.choice(dacs[1:]))
        for _ in range(rng.choice((1, 1, 2, 3))):
            at = rng.randrange(len(damaged))
            damaged[at] = rng.choice((0, 0xFF, 0x80, rng.randrange(256), damaged[at] ^ 1))
        data = bytes(damaged)
        reading = siblings.read(data, "x")
        if reading is None:
            continue
        try:
            full = cert_read._read_certificate(data, "x")
        except der.DerError as exc:
            raise AssertionError(f"the sibling path accepted what the full reading refuses "
                                 f"({exc}): {data.hex()}") from None
        assert reading == full
        accepted += 1
    assert accepted > 300  # damage inside the serial, point, key identifier and signature
    del refused


def test_verify_dir_catches_a_dac_swapped_for_its_siblings(cli, tmp_path) -> None:
    """End to end: a lot verifies with its DACs read as siblings; a device whose image holds
    another device's DAC (a perfect sibling) fails its key check."""
    import cbor2

    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "6", "--defaults", "--spake2_it", "1000",
                 "--qr", "none", "--jobs", "1")
    assert result.code == 0, result
    assert cli("verify", out, "--jobs", "1").code == 0
    image = out / "devices" / "000003" / "factory_data.bin"
    values = cbor2.loads(image.read_bytes())
    values["dac_cert"] = cbor2.loads(
        (out / "devices" / "000002" / "factory_data.bin").read_bytes())["dac_cert"]
    image.write_bytes(cbor2.dumps(values) + b"\0")
    result = cli("verify", out, "--jobs", "1")
    assert result.code == 1
    text = result.out + result.err
    assert "000003" in text and "does not match" in text, text
