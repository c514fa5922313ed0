"""Matter attestation certificates read with :mod:`.der`: the constants of the profile,
:class:`CertView` (what the checks need from one certificate), PEM blocks, and
:func:`parse_certificate` with its extension readers. Part of :mod:`.certview`.

Every failure raises :class:`~matter_factory_data.errors.CredentialError` with a
one-sentence message naming the ``source`` the caller gave.
"""

from __future__ import annotations

import binascii
import re
from typing import NamedTuple, Optional

from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CredentialError
from . import der

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
        view, version, key_ok = _read_certificate_once(data, source)
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


_READ: dict = {}  # DER -> what _read_certificate made of it (verify DIR reads one PAI N times)


def _read_certificate_once(data: bytes, source: str) -> tuple[CertView, int, bool]:
    """_read_certificate, remembered for the last 64 certificates read (a reading does not
    depend on ``source``, which only names the certificate in errors, never cached). A
    certificate that is a sibling of one read before (see :class:`_Siblings`) is read from
    that one's reading."""
    key = bytes(data)
    reading = _READ.get(key)
    if reading is None:
        reading = _SIBLINGS.read(key, source)
        if reading is None:
            reading = _read_certificate(key, source)
            _SIBLINGS.learn(key, reading)
        if len(_READ) >= 64:
            _READ.clear()
        _READ[key] = reading
    return reading


class _Siblings:
    """Readings of certificates that differ from one read in full only in their serial
    number, public point, subject key identifier and signature: the DACs of one batch.

    A sibling has the TBSCertificate of the same length whose bytes equal the reference's
    everywhere outside those three contents, and the same signature algorithm; so its DER
    structure is the reference's, element for element, and only the varying contents are
    read and checked (the serial number as an INTEGER, the point on the curve, the signature
    as a BIT STRING) -- what a full reading checks of them. Anything else is read in full.
    """

    def __init__(self) -> None:
        self._known: dict = {}  # (TBS length, signature algorithm DER) -> reference

    def learn(self, data: bytes, reading: tuple) -> None:
        view, version, key_ok = reading
        if not key_ok or version != 3 or view.subject_key_id is None or len(self._known) >= 8:
            return
        try:
            cert = der.parse(data, source="")
            tbs, algorithm, _ = der.children(cert, source="")
            items = der.children(tbs, source="")[1:]  # after the version
            serial, spki = items[0], items[5]
            key = der.children(spki, source="")[1]
        except (der.DerError, IndexError):
            return
        start = tbs.offset
        key_end = key.offset + len(key.encoded) - start
        skid = view.subject_key_id
        tbs_bytes = tbs.encoded
        skid_at = tbs_bytes.find(skid, key_end)
        if len(key.value) != 66 or key.value[:2] != b"\x00\x04" or skid_at < 0 or \
                tbs_bytes.find(skid, skid_at + 1) >= 0:
            return
        serial_end = serial.offset + len(serial.encoded) - start
        spans = ((serial_end - len(serial.value), serial_end), (key_end - 64, key_end),
                 (skid_at, skid_at + len(skid)))
        self._known[(len(tbs_bytes), algorithm.encoded)] = (tbs_bytes, spans, view)

    def read(self, data: bytes, source: str) -> Optional[tuple]:
        if not self._known:
            return None
        try:
            cert = der.parse(data, source=source)
            tbs, algorithm, signature = _fields(cert, der.SEQUENCE, source, "the certificate",
                                                (3,))
        except der.DerError:
            return None
        known = self._known.get((len(tbs.encoded), algorithm.encoded))
        if known is None:
            return None
        reference, spans, view = known
        new = tbs.encoded
        at = 0
        for begin, end in spans:
            if new[at:begin] != reference[at:begin]:
                return None
            at = end
        if new[at:] != reference[at:]:
            return None
        (serial_from, serial_to), (point_from, point_to), (skid_from, skid_to) = spans
        try:
            signature_bits, unused = der.read_bit_string(signature, source=source,
                                                         what="the signature")
            serial_number = der.read_integer(
                der.Element(der.INTEGER, new[serial_from:serial_to], b"", 0), source=source)
            point = b"\x04" + new[point_from:point_to]
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except (der.DerError, ValueError):
            return None  # the full reading says what is wrong
        if unused:
            return None
        return (view._replace(der=data, tbs=new, signature=signature_bits, public_key=point,
                              subject_key_id=new[skid_from:skid_to],
                              serial_number=serial_number), 3, True)


_SIBLINGS = _Siblings()


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
