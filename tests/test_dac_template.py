"""The DAC hot path (a template of the TBS bytes) against cryptography's certificate builder."""

from __future__ import annotations

import datetime
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from matter_factory_data.core import certs

START = datetime.datetime(2023, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def pai():
    paa_key, pai_key = certs.new_key(b"paa"), certs.new_key(b"pai")
    paa = certs.make_paa(key=paa_key, common_name="T PAA", vendor_id=0xFFF1, not_before=START)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key, common_name="T PAI",
                         vendor_id=0xFFF1, not_before=START)
    return pai, pai_key


def _issuer(pai, deterministic: bool, common_name: str = "Matter DAC", pid: int = 0x8000,
            not_before=START) -> certs.DacIssuer:
    cert, key = pai
    return certs.DacIssuer(issuer_cert=cert, issuer_key=key, common_name=common_name,
                           vendor_id=0xFFF1, product_id=pid, not_before=not_before,
                           deterministic=deterministic)


def _serials(rng: random.Random):
    """Batch's serials (bit 158 set) and any other length down to one octet."""
    yield (rng.getrandbits(158)) | (1 << 158)
    bits = rng.randrange(1, 160)
    yield rng.getrandbits(bits) | (1 << (bits - 1))


@pytest.mark.skipif(not certs.SUPPORTS_DETERMINISTIC_SIGNING, reason="needs RFC 6979 signing")
def test_certificate_bytes_are_the_builders_over_random_keys_and_serials(pai) -> None:
    rng = random.Random(1717)
    issuers = [_issuer(pai, True), _issuer(pai, True, "Ünïcode DAC ✓" * 3, 0x1),
               _issuer(pai, True, "x", 0xFFFF)]
    cases = 0
    for n in range(150):
        key = certs.new_key(rng.randbytes(32))
        issuer = issuers[n % len(issuers)]
        for serial in _serials(rng):
            expected = certs.cert_der(issuer.issue(key, serial))
            assert issuer.issue_der(key, serial) == expected
            assert issuer.issue_der(key.public_key(), serial) == expected
            cases += 1
    assert cases == 300


def test_random_signatures_sign_the_builders_tbs(pai) -> None:
    rng = random.Random(3)
    issuer = _issuer(pai, False)
    cert, pai_key = pai
    for _ in range(100):
        key = ec.generate_private_key(ec.SECP256R1())
        serial = rng.getrandbits(158) | (1 << 158)
        ours = x509.load_der_x509_certificate(issuer.issue_der(key, serial))
        theirs = issuer.issue(key, serial)
        assert ours.tbs_certificate_bytes == theirs.tbs_certificate_bytes
        pai_key.public_key().verify(ours.signature, ours.tbs_certificate_bytes,
                                    ec.ECDSA(hashes.SHA256()))


def test_an_external_signer_gets_the_tbs_bytes(pai) -> None:
    cert, pai_key = pai
    issuer = _issuer(pai, False)
    seen = []

    def sign(tbs: bytes) -> bytes:
        seen.append(tbs)
        return pai_key.sign(tbs, ec.ECDSA(hashes.SHA256()))

    key = certs.new_key(b"device")
    der = issuer.issue_der(key, 1 << 158 | 12345, sign=sign)
    parsed = x509.load_der_x509_certificate(der)
    assert seen == [parsed.tbs_certificate_bytes]
    assert parsed.serial_number == 1 << 158 | 12345
    certs.check_issued_by(parsed, cert, child_source="DAC", issuer_source="PAI")


def test_out_of_range_serials_get_the_builders_error(pai) -> None:
    from matter_factory_data.errors import InputError

    issuer = _issuer(pai, False)
    with pytest.raises(InputError, match="serial number"):
        issuer.issue_der(certs.new_key(b"k"), 1 << 159)


def test_without_a_fixed_start_the_builder_is_used(pai) -> None:
    issuer = _issuer(pai, False, not_before=None)
    der = issuer.issue_der(certs.new_key(b"k"), 99)
    assert x509.load_der_x509_certificate(der).serial_number == 99
