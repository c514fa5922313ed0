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
"""

from __future__ import annotations

import binascii
import re
from typing import NamedTuple, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CredentialError
from . import der

__all__ = [
    "MATTER_VID_OID", "MATTER_PID_OID", "COMMON_NAME_OID", "EC_PUBLIC_KEY_OID", "P256_OID",
    "ECDSA_WITH_SHA256_OID", "P256_ORDER", "KEY_USAGE_DIGITAL_SIGNATURE",
    "KEY_USAGE_CONTENT_COMMITMENT", "KEY_USAGE_KEY_ENCIPHERMENT", "KEY_USAGE_DATA_ENCIPHERMENT",
    "KEY_USAGE_KEY_AGREEMENT", "KEY_USAGE_KEY_CERT_SIGN", "KEY_USAGE_CRL_SIGN",
    "KEY_USAGE_ENCIPHER_ONLY", "KEY_USAGE_DECIPHER_ONLY", "CertView", "is_pem",
    "parse_certificate", "parse_private_key", "check_scalar", "public_point", "matter_ids",
    "subject_key_id", "verify_signature", "check_public_key_matches_certificate",
    "check_key_matches_certificate", "check_issued_by", "check_attestation_chain",
]

MATTER_VID_OID = "1.3.6.1.4.1.37244.2.1"
MATTER_PID_OID = "1.3.6.1.4.1.37244.2.2"
COMMON_NAME_OID = "2.5.4.3"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
P256_OID = "1.2.840.10045.3.1.7"
ECDSA_WITH_SHA256_OID = "1.2.840.10045.4.3.2"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

#: ``CertView.key_usage``: bit *n* of the KeyUsage BIT STRING (RFC 5280 4.2.1.3) is ``1 << n``.
KEY_USAGE_DIGITAL_SIGNATURE = 1 << 0
KEY_USAGE_CONTENT_COMMITMENT = 1 << 1
KEY_USAGE_KEY_ENCIPHERMENT = 1 << 2
KEY_USAGE_DATA_ENCIPHERMENT = 1 << 3
KEY_USAGE_KEY_AGREEMENT = 1 << 4
KEY_USAGE_KEY_CERT_SIGN = 1 << 5
KEY_USAGE_CRL_SIGN = 1 << 6
KEY_USAGE_ENCIPHER_ONLY = 1 << 7
KEY_USAGE_DECIPHER_ONLY = 1 << 8

_BASIC_CONSTRAINTS_OID = "2.5.29.19"
_KEY_USAGE_OID = "2.5.29.15"
_SUBJECT_KEY_ID_OID = "2.5.29.14"
_AUTHORITY_KEY_ID_OID = "2.5.29.35"
#: ECDSA signature algorithms, whose AlgorithmIdentifier has no parameters (RFC 5758 3.2).
_ECDSA_OIDS = frozenset(f"1.2.840.10045.4.{n}" for n in ("1", "3.1", "3.2", "3.3", "3.4"))

#: PKCS#8 key algorithms other than EC, by the class name ``cryptography`` gives their keys.
_KEY_TYPES = {
    "1.2.840.113549.1.1.1": "RSAPrivateKey", "1.2.840.113549.1.1.10": "RSAPrivateKey",
    "1.2.840.10040.4.1": "DSAPrivateKey", "1.2.840.113549.1.3.1": "DHPrivateKey",
    "1.2.840.10046.2.1": "DHPrivateKey", "1.3.101.110": "X25519PrivateKey",
    "1.3.101.111": "X448PrivateKey", "1.3.101.112": "Ed25519PrivateKey",
    "1.3.101.113": "Ed448PrivateKey",
}
#: Named curves ``cryptography`` knows, for the "wrong curve" message.
_CURVES = {
    P256_OID: "secp256r1", "1.2.840.10045.3.1.1": "secp192r1", "1.3.132.0.33": "secp224r1",
    "1.3.132.0.34": "secp384r1", "1.3.132.0.35": "secp521r1", "1.3.132.0.10": "secp256k1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1", "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
    "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1", "1.3.132.0.1": "sect163k1",
    "1.3.132.0.15": "sect163r2", "1.3.132.0.26": "sect233k1", "1.3.132.0.27": "sect233r1",
    "1.3.132.0.16": "sect283k1", "1.3.132.0.17": "sect283r1", "1.3.132.0.36": "sect409k1",
    "1.3.132.0.37": "sect409r1", "1.3.132.0.38": "sect571k1", "1.3.132.0.39": "sect571r1",
}

# Patterns are compiled on first use (by re's cache): most are off the common path.
_CN_ID_PATTERN = r"M(vid|pid):([0-9A-Za-z]*)"
_PEM_PATTERN = rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----"
_BASE64_PATTERN = rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_HEX_DIGITS = frozenset("0123456789ABCDEF")
_TIME_LENGTHS = {der.UTC_TIME: 13, der.GENERALIZED_TIME: 15}
_CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE")
_KEY_LABELS = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY",
               "DSA PRIVATE KEY")
_NAME_LABELS = {COMMON_NAME_OID: "CN", MATTER_VID_OID: "VID", MATTER_PID_OID: "PID"}


class CertView(NamedTuple):
    """What the checks need from one certificate; the byte fields are DER."""

    der: bytes                         # the whole certificate
    tbs: bytes                         # the signed TBSCertificate
    signature_algorithm: str           # dotted OID, ecdsa-with-SHA256 for Matter
    signature: bytes                   # DER ECDSA-Sig-Value
    issuer: bytes                      # the issuer Name, raw DER
    subject: bytes                     # the subject Name, raw DER
    subject_attributes: tuple          # ((dotted OID, text), ...) in certificate order
    public_key: Optional[bytes]        # 65-byte uncompressed P-256 point (None: not P-256,
    #                                    only possible with parse_certificate(profile=False))
    is_ca: bool                        # basicConstraints cA
    path_length: Optional[int]         # basicConstraints pathLenConstraint
    key_usage: Optional[int]           # KEY_USAGE_* bits; None without the extension
    subject_key_id: Optional[bytes]
    authority_key_id: Optional[bytes]  # keyIdentifier of authorityKeyIdentifier
    serial_number: int = 0
    version: int = 3                   # X.509 version, 1..3
    not_before: str = ""               # validity as "YYYYMMDDHHMMSS" (UTC)
    not_after: str = ""
    critical: frozenset = frozenset()  # OIDs of the extensions marked critical
    duplicated: frozenset = frozenset()  # OIDs of extensions that appear more than once
    present: frozenset = frozenset()   # OIDs of every extension


#: (is_ca, path_length, key_usage, subject_key_id, authority_key_id) of no extensions.
_NO_EXTENSIONS: tuple = (False, None, None, None, None)


# --------------------------------------------------------------------------- PEM


def is_pem(data: bytes) -> bool:
    """Whether ``data`` looks like PEM text rather than DER."""
    return b"-----BEGIN" in data[:4096]


def _pem_block(data: bytes, labels: tuple, source: str) -> tuple[str, bytes, bytes]:
    """(label, headers, DER) of the first PEM block with one of ``labels``."""
    for match in re.finditer(_PEM_PATTERN, data, re.DOTALL):
        label = match.group(1).decode("ascii")
        if label not in labels:
            continue
        body = match.group(2).replace(b"\r\n", b"\n").lstrip()
        headers = b""
        if b":" in body.split(b"\n", 1)[0]:
            headers, _, body = body.partition(b"\n\n")
        text = b"".join(body.split())
        if not re.fullmatch(_BASE64_PATTERN, text):
            raise der.DerError(source, f"the PEM {label} block is not valid base64")
        return label, headers, binascii.a2b_base64(text)
    raise der.DerError(source, f"the PEM text has no {' or '.join(labels)} block")


# --------------------------------------------------------------------------- certificates


def _unreadable_certificate(source: str, detail: str) -> CredentialError:
    return CredentialError(
        f"{source} is not a readable X.509 certificate ({detail}); expected one DER or PEM "
        "encoded X.509 v3 certificate."
    )


def parse_certificate(data: bytes, *, source: str, profile: bool = True) -> CertView:
    """Read a DER or PEM certificate.

    With ``profile`` (the default) it must be an X.509 v3 certificate with an EC
    P-256 key (id-ecPublicKey, prime256v1) signed with ecdsa-with-SHA256, as the
    Matter profile requires.  Without, only the structure is checked and
    ``public_key`` is ``None`` unless the key is EC P-256 (for certificates that
    ``cryptography`` already loaded).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _unreadable_certificate(source, f"got {type(data).__name__}, not bytes")
    data = bytes(data)
    try:
        if is_pem(data):
            data = _pem_block(data, _CERT_LABELS, source)[2]
        view, version, key_ok = _read_certificate(data, source)
    except der.DerError as error:
        raise _unreadable_certificate(source, error.detail) from None
    if profile:
        if version != 3:
            raise CredentialError(
                f"{source} is an X.509 v{version} certificate; only X.509 v3 is accepted."
            )
        if not key_ok:
            raise CredentialError(
                f"{source} does not hold an EC P-256 public key; Matter accepts only "
                "prime256v1 (secp256r1) keys."
            )
        if view.signature_algorithm != ECDSA_WITH_SHA256_OID:
            raise CredentialError(
                f"{source} is signed with {view.signature_algorithm}; Matter accepts only "
                f"ecdsa-with-SHA256 ({ECDSA_WITH_SHA256_OID})."
            )
    return view


def _fields(element: der.Element, tag: int, source: str, what: str,
            count: tuple = ()) -> list[der.Element]:
    items = der.children(der.expect(element, tag, source=source, what=what), source=source)
    if count and len(items) not in count:
        raise der.DerError(source, f"{what} at byte {element.offset} has {len(items)} fields")
    return items


def _algorithm(element: der.Element, source: str, what: str) -> tuple[str, Optional[der.Element]]:
    """(OID, parameters or None) of an AlgorithmIdentifier."""
    items = _fields(element, der.SEQUENCE, source, what, (1, 2))
    oid = der.read_oid(items[0], source=source, what=f"the algorithm of {what}")
    params = items[1] if len(items) == 2 else None
    if oid in _ECDSA_OIDS and params is not None:
        raise der.DerError(source, f"{what} at byte {element.offset} has parameters, which "
                                   "ECDSA does not take")
    return oid, params


def _check_time(element: der.Element, source: str) -> None:
    """A UTCTime ``YYMMDDHHMMSSZ`` or GeneralizedTime ``YYYYMMDDHHMMSSZ`` (RFC 5280 4.1.2.5)."""
    text = element.value.decode("latin-1")
    digits = text[:-1]
    if (len(text) != _TIME_LENGTHS.get(element.tag) or text[-1] != "Z"
            or not (digits.isascii() and digits.isdigit())):
        raise der.DerError(source, f"the validity time at byte {element.offset} is not a UTCTime "
                                   "or GeneralizedTime in DER form")
    month, day, hour, minute, second = (int(digits[i:i + 2])
                                        for i in range(len(digits) - 10, len(digits), 2))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        raise der.DerError(source, f"the validity time at byte {element.offset} is not a real "
                                   "time")


def _attribute_text(element: der.Element, source: str) -> str:
    """The value of a name attribute: a character string (or, rarely, a BIT STRING)."""
    if element.tag == der.BIT_STRING:  # x500UniqueIdentifier
        return der.read_bit_string(element, source=source)[0].decode("latin-1")
    return der.read_string(element, source=source, what="an attribute value")


def _name_attributes(element: der.Element, source: str) -> tuple:
    """((OID, text), ...) of a Name, in order; multi-valued RDNs are flattened."""
    attributes = []
    for rdn in _fields(element, der.SEQUENCE, source, "a name"):
        members = _fields(rdn, der.SET, source, "a relative distinguished name")
        if not members:
            raise der.DerError(source, f"the relative distinguished name at byte {rdn.offset} "
                                       "is empty")
        for member in members:
            oid_element, value = _fields(member, der.SEQUENCE, source, "a name attribute", (2,))
            oid = der.read_oid(oid_element, source=source, what="an attribute type")
            attributes.append((oid, _attribute_text(value, source)))
    return tuple(attributes)


def _public_point(spki: der.Element, source: str) -> Optional[bytes]:
    """The uncompressed point of an EC P-256 SubjectPublicKeyInfo; None for other keys."""
    algorithm, key = _fields(spki, der.SEQUENCE, source, "the subject public key info", (2,))
    oid, params = _algorithm(algorithm, source, "the public key algorithm")
    bits, unused = der.read_bit_string(key, source=source, what="the subject public key")
    if oid != EC_PUBLIC_KEY_OID or params is None or params.tag != der.OID or unused:
        return None
    if der.read_oid(params, source=source) != P256_OID:
        return None
    if not ((len(bits) == 65 and bits[0] == 4) or (len(bits) == 33 and bits[0] in (2, 3))):
        return None
    try:
        numbers = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bits) \
            .public_numbers()
    except ValueError:  # not a point on the curve
        return None
    return b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def _read_certificate(data: bytes, source: str) -> tuple[CertView, int, bool]:
    """(view, X.509 version 1..3, whether the key is EC P-256) of a DER certificate."""
    cert = der.parse(data, source=source)
    tbs, algorithm, signature = _fields(cert, der.SEQUENCE, source, "the certificate", (3,))
    signature_algorithm, _ = _algorithm(algorithm, source, "the signature algorithm")
    signature_bits, unused = der.read_bit_string(signature, source=source, what="the signature")
    if unused:
        raise der.DerError(source, "the signature is not a whole number of bytes")

    items = _fields(tbs, der.SEQUENCE, source, "the TBSCertificate")
    version = 1
    if items and items[0].tag == der.context(0):
        (number,) = _fields(items[0], der.context(0), source, "the version", (1,))
        value = der.read_integer(number, source=source, what="the version")
        if value == 0:
            raise der.DerError(source, "the default version v1 is encoded explicitly")
        if value not in (1, 2):
            raise der.DerError(source, f"the version number {value} is not an X.509 version")
        version = value + 1
        items = items[1:]
    if len(items) < 6:
        raise der.DerError(source, f"the TBSCertificate has {len(items)} of the 6 required "
                                   "fields after the version")
    serial, inner_algorithm, issuer, validity, subject, spki, *optional = items
    serial_number = der.read_integer(serial, source=source, what="the serial number")
    if inner_algorithm.encoded != algorithm.encoded:
        raise der.DerError(source, "the signature algorithm inside the TBSCertificate differs "
                                   "from the one of the signature")
    _name_attributes(issuer, source)
    subject_attributes = _name_attributes(subject, source)
    times = []
    for moment in _fields(validity, der.SEQUENCE, source, "the validity", (2,)):
        _check_time(moment, source)
        times.append(_time_text(moment))
    public_key = _public_point(spki, source)

    extensions: tuple = _NO_EXTENSIONS
    critical: frozenset = frozenset()
    duplicated: frozenset = frozenset()
    present: frozenset = frozenset()
    expected = [der.context(1, constructed=False), der.context(2, constructed=False),
                der.context(3)]
    for element in optional:
        while expected and element.tag != expected[0]:
            expected.pop(0)
        if not expected:
            raise der.DerError(source, f"unexpected {der.tag_name(element.tag)} at byte "
                                       f"{element.offset} in the TBSCertificate")
        expected.pop(0)
        if element.tag != der.context(3):  # issuerUniqueID, subjectUniqueID: IMPLICIT BIT STRING
            der.read_bit_string(element._replace(tag=der.BIT_STRING), source=source,
                                what="a unique identifier")
        else:
            (sequence,) = _fields(element, der.context(3), source, "the extensions", (1,))
            extensions, critical, duplicated, present = _read_extensions(sequence, source)
    view = CertView(data, tbs.encoded, signature_algorithm, signature_bits, issuer.encoded,
                    subject.encoded, subject_attributes, public_key, *extensions,  # type: ignore[misc]
                    serial_number=serial_number, version=version, not_before=times[0],
                    not_after=times[1], critical=critical, duplicated=duplicated,
                    present=present)
    return view, version, public_key is not None


def _time_text(element: der.Element) -> str:
    """A checked validity time as ``YYYYMMDDHHMMSS`` (UTCTime years 50..99 are 19xx)."""
    digits = element.value.decode("ascii")[:-1]
    if element.tag == der.UTC_TIME:
        digits = ("19" if int(digits[:2]) >= 50 else "20") + digits
    return digits


def _read_extensions(sequence: der.Element, source: str) -> tuple:
    """((is_ca, path_length, key_usage, subject_key_id, authority_key_id), critical OIDs,
    duplicated OIDs, present OIDs) of the extensions.

    The list itself must be well-formed DER (as ``cryptography`` requires to load a
    certificate).  Like ``cryptography``'s ``Certificate.extensions``, a duplicated
    extension or a malformed value of a known one makes them all count as absent.
    """
    values: dict[str, bytes] = {}
    critical, duplicated = set(), set()
    for extension in _fields(sequence, der.SEQUENCE, source, "the extension list"):
        parts = _fields(extension, der.SEQUENCE, source, "an extension", (2, 3))
        oid = der.read_oid(parts[0], source=source, what="an extension ID")
        if len(parts) == 3 and not der.read_boolean(parts[1], source=source,
                                                    what="the extension criticality"):
            raise der.DerError(source, f"the extension at byte {extension.offset} encodes the "
                                       "default criticality FALSE explicitly")
        if len(parts) == 3:
            critical.add(oid)
        if oid in values:
            duplicated.add(oid)
        values[oid] = der.read_octet_string(parts[-1], source=source, what="an extension value")
    if duplicated:
        return _NO_EXTENSIONS, frozenset(critical), frozenset(duplicated), frozenset(values)
    try:
        return (
            (*_basic_constraints(values.get(_BASIC_CONSTRAINTS_OID), source),
             _key_usage(values.get(_KEY_USAGE_OID), source),
             _subject_key_id(values.get(_SUBJECT_KEY_ID_OID), source),
             _authority_key_id(values.get(_AUTHORITY_KEY_ID_OID), source)),
            frozenset(critical), frozenset(duplicated), frozenset(values))
    except der.DerError:
        return _NO_EXTENSIONS, frozenset(critical), frozenset(duplicated), frozenset(values)


def _basic_constraints(value: Optional[bytes], source: str) -> tuple[bool, Optional[int]]:
    if value is None:
        return False, None
    items = _fields(der.parse(value, source=source), der.SEQUENCE, source,
                    "basicConstraints", (0, 1, 2))
    ca = False
    if items and items[0].tag == der.BOOLEAN:
        ca = der.read_boolean(items.pop(0), source=source)
        if not ca:
            raise der.DerError(source, "basicConstraints encodes the default cA FALSE")
    path_length = None
    if items:
        path_length = der.read_integer(items.pop(0), source=source)
        if path_length < 0 or not ca:
            raise der.DerError(source, "basicConstraints has a bad path length")
    if items:
        raise der.DerError(source, "basicConstraints has extra fields")
    return ca, path_length


def _key_usage(value: Optional[bytes], source: str) -> Optional[int]:
    if value is None:
        return None
    bits, unused = der.read_bit_string(der.parse(value, source=source), source=source)
    usage = 0
    for index in range(len(bits) * 8 - unused):
        if bits[index // 8] & (0x80 >> (index % 8)):
            usage |= 1 << index
    if usage & (KEY_USAGE_ENCIPHER_ONLY | KEY_USAGE_DECIPHER_ONLY) and not (
        usage & KEY_USAGE_KEY_AGREEMENT
    ):
        raise der.DerError(source, "keyUsage has encipherOnly or decipherOnly without "
                                   "keyAgreement")
    return usage


def _subject_key_id(value: Optional[bytes], source: str) -> Optional[bytes]:
    if value is None:
        return None
    return der.read_octet_string(der.parse(value, source=source), source=source)


def _authority_key_id(value: Optional[bytes], source: str) -> Optional[bytes]:
    if value is None:
        return None
    items = _fields(der.parse(value, source=source), der.SEQUENCE, source,
                    "authorityKeyIdentifier", (0, 1, 2, 3))
    tags = [item.tag for item in items]
    allowed = [der.context(0, constructed=False), der.context(1), der.context(2, constructed=False)]
    if [tag for tag in allowed if tag in tags] != tags:
        raise der.DerError(source, "authorityKeyIdentifier has unexpected fields")
    if (allowed[1] in tags) != (allowed[2] in tags):
        raise der.DerError(source, "authorityKeyIdentifier has only one of the issuer and the "
                                   "serial number")
    return items[0].value if tags and tags[0] == allowed[0] else None


# --------------------------------------------------------------------------- private keys


# A private key read by _read_key: (type name, curve OID, 32-byte scalar); the type name is
# "EC" or the class name cryptography gives other keys, the scalar is set for P-256 keys only.
_Key = tuple


def check_scalar(scalar: bytes, *, source: str) -> bytes:
    """``scalar`` if it is a P-256 private key: 32 big-endian bytes, 1 <= value < order."""
    is_bytes = isinstance(scalar, (bytes, bytearray))
    value = int.from_bytes(scalar, "big") if is_bytes else 0
    if not is_bytes or len(scalar) != 32 or not 1 <= value < P256_ORDER:
        raise CredentialError(
            f"{source} is not a P-256 private key scalar; expected 32 big-endian bytes with a "
            "value from 1 to the curve order minus 1."
        )
    return bytes(scalar)


def public_point(scalar: bytes) -> bytes:
    """The 65-byte uncompressed public point of a valid 32-byte P-256 scalar."""
    numbers = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1()) \
        .public_key().public_numbers()
    return b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def _same_point(encoded: tuple[bytes, int], point: bytes) -> bool:
    """Whether a BIT STRING (content, unused bits) holds ``point``, uncompressed or compressed."""
    bits, unused = encoded
    return not unused and bits in (point, bytes([2 + (point[-1] & 1)]) + point[1:33])


def _ec_private_key(element: der.Element, curve: Optional[str], source: str) -> _Key:
    """An RFC 5915 ECPrivateKey; ``curve`` is the one of the enclosing PKCS#8 structure."""
    items = _fields(element, der.SEQUENCE, source, "the EC private key", (2, 3, 4))
    if der.read_integer(items[0], source=source, what="the EC key version") != 1:
        raise der.DerError(source, "the EC private key version is not 1")
    private = der.read_octet_string(items[1], source=source, what="the private scalar")
    optional = items[2:]
    if [item.tag for item in optional] not in ([], [der.context(0)], [der.context(1)],
                                               [der.context(0), der.context(1)]):
        raise der.DerError(source, "the EC private key has unexpected fields")
    public = None
    for item in optional:
        (inner,) = _fields(item, item.tag, source, "an EC private key field", (1,))
        if item.tag == der.context(0):
            if inner.tag != der.OID:
                raise der.DerError(source, "the EC key has explicit curve parameters")
            named = der.read_oid(inner, source=source)
            if curve is not None and named != curve:
                raise der.DerError(source, "the EC key's curve differs from its algorithm's")
            curve = named
        else:
            public = der.read_bit_string(inner, source=source, what="the EC public key")
    if curve is None:
        raise der.DerError(source, "the EC private key does not name its curve")
    if curve not in _CURVES:
        raise der.DerError(source, f"the EC private key is on the unsupported curve {curve}")
    if curve != P256_OID:
        return ("EC", curve, None)
    value = int.from_bytes(private, "big")
    if len(private) != 32 or not 1 <= value < P256_ORDER:
        raise der.DerError(source, "the private scalar is not 32 bytes from 1 to the curve order "
                                   "minus 1")
    if public is not None and not _same_point(public, public_point(private)):
        raise der.DerError(source, "the public key stored with the private key does not belong "
                                   "to it")
    return ("EC", curve, private)


def _pkcs8(items: list, source: str) -> _Key:
    """A PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958) given its fields."""
    version = der.read_integer(items[0], source=source, what="the PKCS#8 version")
    if version not in (0, 1):
        raise der.DerError(source, f"the PKCS#8 version {version} is unknown")
    oid, params = _algorithm(items[1], source, "the key algorithm")
    private = der.read_octet_string(items[2], source=source, what="the private key")
    optional = [item.tag for item in items[3:]]
    if optional not in ([], [der.context(0)], [der.context(1, constructed=False)],
                        [der.context(0), der.context(1, constructed=False)]) or (
            der.context(1, constructed=False) in optional and version != 1):
        raise der.DerError(source, "the PKCS#8 structure has unexpected fields")
    if oid in _KEY_TYPES:
        return (_KEY_TYPES[oid], None, None)
    if oid != EC_PUBLIC_KEY_OID:
        raise der.DerError(source, f"the key algorithm {oid} is not supported")
    if params is None or params.tag != der.OID:
        raise der.DerError(source, "the EC key has no named curve")
    curve = der.read_oid(params, source=source)
    if curve not in _CURVES:
        raise der.DerError(source, f"the EC key is on the unsupported curve {curve}")
    return _ec_private_key(der.parse(private, source=source), curve, source)


def _read_key(data: bytes, label: Optional[str], source: str) -> Optional[_Key]:
    """The key in DER ``data`` (``label``: its PEM label); None if it is encrypted."""
    element = der.parse(data, source=source)
    items = _fields(element, der.SEQUENCE, source, "the private key")
    tags = [item.tag for item in items]
    if label == "ENCRYPTED PRIVATE KEY" or (label is None and tags == [der.SEQUENCE,
                                                                       der.OCTET_STRING]):
        _fields(items[0], der.SEQUENCE, source, "the encryption algorithm", (1, 2))
        return None
    if label == "RSA PRIVATE KEY" or (label is None and tags == [der.INTEGER] * 9):
        return ("RSAPrivateKey", None, None)
    if label == "DSA PRIVATE KEY" or (label is None and tags == [der.INTEGER] * 6):
        return ("DSAPrivateKey", None, None)
    if label == "EC PRIVATE KEY" or (label is None and tags[:2] == [der.INTEGER,
                                                                    der.OCTET_STRING]):
        return _ec_private_key(element, None, source)
    if label in ("PRIVATE KEY", None) and tags[:3] == [der.INTEGER, der.SEQUENCE,
                                                       der.OCTET_STRING]:
        return _pkcs8(items, source)
    raise der.DerError(source, "it is neither SEC1 nor PKCS#8")


def _not_a_key(source: str, detail: Optional[str] = None) -> CredentialError:
    because = f" ({detail})" if detail else ""
    return CredentialError(
        f"{source} is not a readable private key{because}; expected an EC P-256 key as SEC1 or "
        "PKCS#8 (optionally encrypted) in DER or PEM."
    )


def _password_not_needed(source: str) -> CredentialError:
    return CredentialError(
        f"{source} is not encrypted but a password was given; give no password for an "
        "unencrypted key."
    )


def parse_private_key(data: bytes, *, source: str,
                      password: bytes | str | None = None) -> bytes:
    """The raw 32-byte scalar of a DER or PEM EC P-256 private key.

    Reads SEC1 (``30 77 02 01 01 04 20 ...``) and unencrypted PKCS#8 itself;
    encrypted keys (PKCS#8 or legacy PEM encryption) are left to
    ``cryptography``'s serialization, imported only then.
    """
    if isinstance(password, str):
        password = password.encode("utf-8")
    if password == b"":
        password = None
    pem = False
    try:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise der.DerError(source, f"got {type(data).__name__}, not bytes")
        data = bytes(data)
        pem = is_pem(data)
        label = None
        body = data
        if pem:
            label, headers, body = _pem_block(data, _KEY_LABELS, source)
        key = None if pem and b"ENCRYPTED" in headers else _read_key(body, label, source)
    except der.DerError as error:
        raise _not_a_key(source, error.detail) from None
    if key is None:
        return _encrypted_key(data, pem, password, source)
    if password is not None:
        raise _password_not_needed(source)
    type_name, curve, scalar = key
    return _p256_scalar(type_name, _CURVES.get(curve or ""), scalar, source)


def _p256_scalar(type_name: str, curve: Optional[str], scalar: Optional[bytes],
                 source: str) -> bytes:
    if type_name != "EC":
        raise CredentialError(
            f"{source} is a {type_name} key; Matter accepts only EC P-256 (prime256v1) "
            "private keys."
        )
    if curve != "secp256r1" or scalar is None:
        raise CredentialError(
            f"{source} is an EC key on curve {curve}; Matter accepts only P-256 "
            "(prime256v1, secp256r1)."
        )
    return scalar


def _encrypted_key(data: bytes, pem: bool, password: Optional[bytes], source: str) -> bytes:
    """The scalar of an encrypted key, read and decrypted by ``cryptography``."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    load = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        key = load(data, password=None)
    except TypeError:  # encrypted indeed
        if password is None:
            raise CredentialError(
                f"{source} is an encrypted private key but no password was given; give the "
                "password it was encrypted with."
            ) from None
        try:
            key = load(data, password=password)
        except ValueError:
            raise CredentialError(
                f"{source} could not be decrypted with the given password; give the password "
                "the key was encrypted with."
            ) from None
        except (TypeError, UnsupportedAlgorithm):
            raise CredentialError(
                f"{source} is encrypted with an unsupported scheme; accepted are PKCS#8 "
                "keys encrypted with PBES2 (such as AES-256-CBC with PBKDF2)."
            ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise _not_a_key(source) from None
    else:
        if password is not None:
            raise _password_not_needed(source)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return _p256_scalar(type(key).__name__.lstrip("_"), None, None, source)
    scalar = key.private_numbers().private_value.to_bytes((key.curve.key_size + 7) // 8, "big")
    return _p256_scalar("EC", key.curve.name, scalar, source)


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


def verify_signature(point: bytes, signature: bytes, data: bytes) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` (DER) is the ECDSA-SHA256 signature
    of ``data`` by the P-256 key with the 65-byte uncompressed ``point``."""
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


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
