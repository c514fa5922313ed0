"""Matter attestation certificates and keys, read with :mod:`.der` and checked.

The one implementation of the certificate and key checks of matter-factory-data:
reading a DER or PEM certificate into a :class:`CertView`, reading a private key
into its raw 32-byte P-256 scalar, the Matter vendor/product IDs of a subject,
key-matches-certificate, issued-by and the attestation chain rules (Matter
specification 6.2.2).  It imports neither ``cryptography.x509`` nor
``cryptography.hazmat.primitives.serialization`` (they cost tens of
milliseconds); only ``...asymmetric.ec`` for the curve arithmetic and the
signature check.  Encrypted private keys are the exception: they are decrypted
by ``cryptography``'s serialization, imported only then.

Every failure raises :class:`~matter_factory_data.errors.CredentialError` with a
one-sentence message naming the ``source`` the caller gave.

The implementation is in three parts: :mod:`.cert_read` (the profile's constants,
:class:`CertView`, PEM, reading a certificate), :mod:`.cert_keys` (private keys) and
:mod:`.cert_checks` (Matter IDs, key matches certificate, issued-by, the chain); this module
is the one place callers import them from.
"""

from __future__ import annotations

from .cert_checks import (
    check_attestation_chain,
    check_issued_by,
    check_key_matches_certificate,
    check_public_key_matches_certificate,
    matter_ids,
    subject_key_id,
    subject_text,
    verify_signature,
)
from .cert_keys import check_scalar, parse_private_key, public_point
from .cert_read import (
    COMMON_NAME_OID,
    EC_PUBLIC_KEY_OID,
    ECDSA_WITH_SHA256_OID,
    KEY_USAGE_CONTENT_COMMITMENT,
    KEY_USAGE_CRL_SIGN,
    KEY_USAGE_DATA_ENCIPHERMENT,
    KEY_USAGE_DECIPHER_ONLY,
    KEY_USAGE_DIGITAL_SIGNATURE,
    KEY_USAGE_ENCIPHER_ONLY,
    KEY_USAGE_KEY_AGREEMENT,
    KEY_USAGE_KEY_CERT_SIGN,
    KEY_USAGE_KEY_ENCIPHERMENT,
    MATTER_PID_OID,
    MATTER_VID_OID,
    P256_OID,
    P256_ORDER,
    CertView,
    is_pem,
    parse_certificate,
)

__all__ = [
    "MATTER_VID_OID", "MATTER_PID_OID", "COMMON_NAME_OID", "EC_PUBLIC_KEY_OID", "P256_OID",
    "ECDSA_WITH_SHA256_OID", "P256_ORDER", "KEY_USAGE_DIGITAL_SIGNATURE",
    "KEY_USAGE_CONTENT_COMMITMENT", "KEY_USAGE_KEY_ENCIPHERMENT", "KEY_USAGE_DATA_ENCIPHERMENT",
    "KEY_USAGE_KEY_AGREEMENT", "KEY_USAGE_KEY_CERT_SIGN", "KEY_USAGE_CRL_SIGN",
    "KEY_USAGE_ENCIPHER_ONLY", "KEY_USAGE_DECIPHER_ONLY", "CertView", "is_pem",
    "parse_certificate", "parse_private_key", "check_scalar", "public_point", "matter_ids",
    "subject_key_id", "verify_signature", "check_public_key_matches_certificate",
    "check_key_matches_certificate", "check_issued_by", "check_attestation_chain",
    "subject_text",
]
