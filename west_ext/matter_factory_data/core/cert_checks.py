"""The checks on read certificates: Matter vendor/product IDs of a subject,
key-matches-certificate, issued-by and the attestation chain rules (Matter specification
6.2.2). Part of :mod:`.certview`.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CredentialError
from . import der
from .cert_keys import check_scalar, public_point
from .cert_read import (
    _CN_ID_PATTERN,
    _HEX_DIGITS,
    _NAME_LABELS,
    COMMON_NAME_OID,
    ECDSA_WITH_SHA256_OID,
    MATTER_PID_OID,
    MATTER_VID_OID,
    CertView,
    _name_attributes,
)

# --------------------------------------------------------------------------- Matter IDs


def _parse_id(text: str, what: str, source: str) -> int:
    if len(text) != 4 or not _HEX_DIGITS.issuperset(text):
        raise CredentialError(
            f"{source} has a malformed Matter {what} {text!r} in its subject; expected "
            "exactly four upper-case hexadecimal digits such as 'FFF1'."
        )
    return int(text, 16)


def _subject_id(cert: CertView, oid: str, what: str, source: str) -> Optional[int]:
    values = [text for attribute, text in cert.subject_attributes if attribute == oid]
    if len(values) > 1:
        raise CredentialError(
            f"{source} has {len(values)} Matter {what} attributes in its subject; "
            "at most one is accepted."
        )
    if values:
        return _parse_id(values[0], what, source)
    # Fallback encoding (spec 6.2.2.2): "Mvid:FFF1" / "Mpid:8006" inside the common name.
    tag = "vid" if oid == MATTER_VID_OID else "pid"
    found = [match.group(2) for attribute, text in cert.subject_attributes
             if attribute == COMMON_NAME_OID and f"M{tag}:" in text
             for match in re.finditer(_CN_ID_PATTERN, text) if match.group(1) == tag]
    if not found:
        return None
    if len(found) > 1:
        raise CredentialError(
            f"{source} has {len(found)} 'M{tag}:' {what} values in its common name; at most "
            "one is accepted."
        )
    return _parse_id(found[0], what, source)


def matter_ids(cert: CertView, *, source: str = "the certificate") -> tuple[
    Optional[int], Optional[int]
]:
    """(vendor ID, product ID) from the subject; ``None`` where absent."""
    return (
        _subject_id(cert, MATTER_VID_OID, "vendor ID", source),
        _subject_id(cert, MATTER_PID_OID, "product ID", source),
    )


# --------------------------------------------------------------------------- checks


def subject_key_id(cert: CertView, *, source: str = "the certificate") -> bytes:
    """The subjectKeyIdentifier of ``cert``; raise if it has none."""
    if cert.subject_key_id is None:
        raise CredentialError(
            f"{source} has no subjectKeyIdentifier extension; Matter attestation and CD "
            "signing certificates must carry one."
        )
    return cert.subject_key_id


def check_public_key_matches_certificate(point: Optional[bytes], cert: CertView, *,
                                         key_source: str, cert_source: str) -> None:
    """Raise unless the uncompressed point ``point`` is the public key of ``cert``."""
    if point is None or point != cert.public_key:
        raise CredentialError(
            f"{key_source} does not match {cert_source}: its public key differs from the "
            "certificate's; give the private key that belongs to this certificate."
        )


def check_key_matches_certificate(key: bytes, cert: CertView, *, key_source: str,
                                  cert_source: str) -> None:
    """Raise unless the 32-byte P-256 scalar ``key`` is the private key of ``cert``."""
    check_public_key_matches_certificate(
        public_point(check_scalar(key, source=key_source)), cert, key_source=key_source,
        cert_source=cert_source,
    )


class _VerifyECDSA(ec.ECDSA):
    """``ec.ECDSA(hashes.SHA256())`` for verifying, through its public properties only.
    ``ECDSA.__init__`` imports cryptography's whole OpenSSL backend module (ciphers, RSA,
    padding, ``random``; ~6 ms of every ``generate``) just to ask whether deterministic
    *signing* is available, which a verification never uses."""

    def __init__(self) -> None:  # deliberately not ECDSA.__init__
        self._hash = hashes.SHA256()

    @property
    def algorithm(self):
        return self._hash

    @property
    def deterministic_signing(self) -> bool:
        return False


def verify_signature(point: bytes, signature: bytes, data: bytes) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` (DER) is the ECDSA-SHA256 signature
    of ``data`` by the P-256 key with the 65-byte uncompressed ``point``."""
    _public_key(bytes(point)).verify(signature, data, _ECDSA_SHA256)


@functools.lru_cache(maxsize=64)  # a lot's PAI checks every DAC: its key object made once
def _public_key(point: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


_ECDSA_SHA256 = _VerifyECDSA()  # not ec.ECDSA(...): see _VerifyECDSA


def subject_text(cert: CertView) -> str:
    """The subject in certificate order, e.g. ``CN=Matter Dev DAC, VID=FFF1, PID=8006``."""
    return ", ".join(f"{_NAME_LABELS.get(oid, oid)}={text}"
                     for oid, text in cert.subject_attributes)


def _format_name(raw: bytes, source: str) -> str:
    """A distinguished name in certificate order, e.g. ``CN=Matter Test PAA, VID=FFF1``."""
    attributes = _name_attributes(der.parse(raw, source=source), source)
    return ", ".join(f"{_NAME_LABELS.get(oid, oid)}={text}" for oid, text in attributes)


def check_issued_by(child: CertView, issuer: CertView, *, child_source: str,
                    issuer_source: str) -> None:
    """Raise unless ``issuer`` (a CA) issued and signed ``child``."""
    if child.issuer != issuer.subject:
        raise CredentialError(
            f"{child_source} was not issued by {issuer_source}: its issuer is "
            f"'{_format_name(child.issuer, child_source)}' but the issuer certificate's subject "
            f"is '{_format_name(issuer.subject, issuer_source)}'; give the certificate that "
            "issued it."
        )
    if not issuer.is_ca:
        raise CredentialError(
            f"{issuer_source} is not a CA certificate (basicConstraints cA is not true), so it "
            f"cannot have issued {child_source}; give a PAA or PAI certificate."
        )
    authority, issuer_skid = child.authority_key_id, issuer.subject_key_id
    if authority is not None and issuer_skid is not None and authority != issuer_skid:
        raise CredentialError(
            f"{child_source} was not issued by {issuer_source}: its authority key identifier "
            f"{authority.hex().upper()} differs from the issuer's subject key identifier "
            f"{issuer_skid.hex().upper()}; give the certificate that issued it."
        )
    try:
        if issuer.public_key is None or child.signature_algorithm != ECDSA_WITH_SHA256_OID:
            raise InvalidSignature
        verify_signature(issuer.public_key, child.signature, child.tbs)
    except InvalidSignature:
        raise CredentialError(
            f"{child_source} was not signed by the key of {issuer_source}: the signature does "
            "not verify; give the certificate that issued it."
        ) from None


def _hex_id(value: Optional[int]) -> str:
    return "none" if value is None else f"0x{value:04X}"


def _check_id(actual: Optional[int], expected: int, *, cert_source: str, what: str,
              expected_source: str) -> None:
    if actual != expected:
        raise CredentialError(
            f"{cert_source} has Matter {what} {_hex_id(actual)} but {expected_source} is "
            f"{_hex_id(expected)}; the certificate's {what} must equal it."
        )


def check_attestation_chain(
    *, dac: CertView, pai: CertView, paa: Optional[CertView] = None, vendor_id: int,
    product_id: int, sources: dict,
) -> None:
    """Check DAC -> PAI (-> PAA) issuance and the VID/PID rules of spec 6.2.2.

    ``sources`` names the inputs in messages; keys ``dac``, ``pai``, ``paa``,
    ``vendor_id`` and ``product_id`` (missing keys get generic names).
    """
    dac_src = sources.get("dac", "the DAC certificate")
    pai_src = sources.get("pai", "the PAI certificate")
    paa_src = sources.get("paa", "the PAA certificate")
    vid_src = sources.get("vendor_id", "the vendor ID")
    pid_src = sources.get("product_id", "the product ID")

    check_issued_by(dac, pai, child_source=dac_src, issuer_source=pai_src)
    if paa is not None:
        check_issued_by(pai, paa, child_source=pai_src, issuer_source=paa_src)

    dac_vid, dac_pid = matter_ids(dac, source=dac_src)
    _check_id(dac_vid, vendor_id, cert_source=dac_src, what="vendor ID", expected_source=vid_src)
    _check_id(dac_pid, product_id, cert_source=dac_src, what="product ID",
              expected_source=pid_src)
    pai_vid, pai_pid = matter_ids(pai, source=pai_src)
    _check_id(pai_vid, vendor_id, cert_source=pai_src, what="vendor ID", expected_source=vid_src)
    if pai_pid is not None:
        _check_id(pai_pid, product_id, cert_source=pai_src, what="product ID",
                  expected_source=pid_src)
    if paa is not None:
        paa_vid, _ = matter_ids(paa, source=paa_src)
        if paa_vid is not None:
            _check_id(paa_vid, vendor_id, cert_source=paa_src, what="vendor ID",
                      expected_source=vid_src)
