"""Matter device attestation certificates and keys: loading, checking and generation.

Loading and checks follow the Matter device attestation certificate profile
(Matter specification 6.2.2): X.509 v3, EC P-256 keys, ecdsa-with-SHA256, the
Matter vendor and product ID subject attributes (UTF8String of four upper-case
hex digits).  Every failure raises :class:`~matter_factory_data.errors.CredentialError`
(or :class:`~matter_factory_data.errors.InputError` for bad generation arguments)
with a one-sentence message naming the ``source`` the caller gave.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import re
import secrets
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from ..errors import CredentialError, InputError

__all__ = [
    "MATTER_VID_OID",
    "MATTER_PID_OID",
    "NO_WELL_DEFINED_EXPIRY",
    "SUPPORTS_DETERMINISTIC_SIGNING",
    "load_certificate",
    "load_private_key",
    "raw_private_scalar",
    "private_key_from_scalar",
    "matter_ids",
    "check_key_matches_certificate",
    "check_issued_by",
    "check_attestation_chain",
    "new_key",
    "make_paa",
    "make_pai",
    "make_dac",
    "cert_der",
    "cert_pem",
    "key_der",
    "key_pem",
    "public_key_bytes",
    "subject_key_id",
]

MATTER_VID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.1")
MATTER_PID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.2")

#: Not-after value meaning "no well-defined expiration date" (RFC 5280 4.1.2.5).
NO_WELL_DEFINED_EXPIRY = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc)

#: Whether this ``cryptography`` can sign certificates with deterministic ECDSA (RFC 6979).
SUPPORTS_DETERMINISTIC_SIGNING = (
    "ecdsa_deterministic" in inspect.signature(x509.CertificateBuilder.sign).parameters
)

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ID_RE = re.compile(r"[0-9A-F]{4}")
_CN_ID_RE = re.compile(r"M(vid|pid):([0-9A-Za-z]*)")
_MAX_SERIAL = (1 << 159) - 1  # positive and at most 20 DER octets

KeyOrCert = Union[
    ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey, x509.Certificate
]


# --------------------------------------------------------------------------- loading


def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data[:4096]


def load_certificate(data: bytes, *, source: str) -> x509.Certificate:
    """Load a DER or PEM certificate with an EC P-256 key signed with ecdsa-with-SHA256."""
    try:
        if _is_pem(data):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion):
        raise CredentialError(
            f"{source} is not a readable X.509 certificate; expected one DER or PEM encoded "
            "X.509 v3 certificate."
        ) from None
    if cert.version is not x509.Version.v3:
        raise CredentialError(
            f"{source} is an X.509 {cert.version.name} certificate; only X.509 v3 is accepted."
        )
    try:
        public_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        public_key = None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise CredentialError(
            f"{source} does not hold an EC P-256 public key; Matter accepts only "
            "prime256v1 (secp256r1) keys."
        )
    if cert.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
        raise CredentialError(
            f"{source} is signed with {cert.signature_algorithm_oid.dotted_string}; Matter "
            "accepts only ecdsa-with-SHA256 (1.2.840.10045.4.3.2)."
        )
    return cert


def _deserialize_key(data: bytes, password: bytes | None) -> object:
    if _is_pem(data):
        return serialization.load_pem_private_key(data, password=password)
    return serialization.load_der_private_key(data, password=password)


def load_private_key(
    data: bytes, *, source: str, password: bytes | str | None = None
) -> ec.EllipticCurvePrivateKey:
    """Load a DER (SEC1, PKCS#8, encrypted PKCS#8) or PEM EC P-256 private key."""
    if isinstance(password, str):
        password = password.encode("utf-8")
    if password == b"":
        password = None
    not_a_key = CredentialError(
        f"{source} is not a readable private key; expected an EC P-256 key as SEC1 or PKCS#8 "
        "(optionally encrypted) in DER or PEM."
    )
    try:
        key = _deserialize_key(data, None)
    except TypeError:  # the key is encrypted
        if password is None:
            raise CredentialError(
                f"{source} is an encrypted private key but no password was given; give the "
                "password it was encrypted with."
            ) from None
        try:
            key = _deserialize_key(data, password)
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
        raise not_a_key from None
    else:
        if password is not None:
            raise CredentialError(
                f"{source} is not encrypted but a password was given; give no password for "
                "an unencrypted key."
            )
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CredentialError(
            f"{source} is a {type(key).__name__.lstrip('_')} key; Matter accepts only EC "
            "P-256 (prime256v1) private keys."
        )
    if not isinstance(key.curve, ec.SECP256R1):
        raise CredentialError(
            f"{source} is an EC key on curve {key.curve.name}; Matter accepts only P-256 "
            "(prime256v1, secp256r1)."
        )
    return key


def raw_private_scalar(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 32-byte big-endian private scalar of a P-256 key."""
    return key.private_numbers().private_value.to_bytes(32, "big")


def private_key_from_scalar(scalar: bytes, *, source: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of a raw 32-byte big-endian scalar (the nRF factory-data ``dac_key``)."""
    value = int.from_bytes(scalar, "big") if isinstance(scalar, (bytes, bytearray)) else 0
    if len(scalar) != 32 or not 1 <= value < _P256_ORDER:
        raise CredentialError(
            f"{source} is not a P-256 private key scalar; expected 32 big-endian bytes with a "
            "value from 1 to the curve order minus 1."
        )
    return ec.derive_private_key(value, ec.SECP256R1())


# --------------------------------------------------------------------------- Matter IDs


def _parse_id(text: str, what: str, source: str) -> int:
    if not _ID_RE.fullmatch(text):
        raise CredentialError(
            f"{source} has a malformed Matter {what} {text!r} in its subject; expected "
            "exactly four upper-case hexadecimal digits such as 'FFF1'."
        )
    return int(text, 16)


def _subject_id(cert: x509.Certificate, oid: x509.ObjectIdentifier, what: str,
                source: str) -> int | None:
    attributes = cert.subject.get_attributes_for_oid(oid)
    if len(attributes) > 1:
        raise CredentialError(
            f"{source} has {len(attributes)} Matter {what} attributes in its subject; "
            "at most one is accepted."
        )
    if attributes:
        value = attributes[0].value
        text = value if isinstance(value, str) else value.decode("latin-1")
        return _parse_id(text, what, source)
    # Fallback encoding (spec 6.2.2.2): "Mvid:FFF1" / "Mpid:8006" inside the common name.
    tag = "vid" if oid == MATTER_VID_OID else "pid"
    found: list[str] = []
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        if isinstance(value, str):
            found += [m.group(2) for m in _CN_ID_RE.finditer(value) if m.group(1) == tag]
    if not found:
        return None
    if len(found) > 1:
        raise CredentialError(
            f"{source} has {len(found)} 'M{tag}:' {what} values in its common name; at most "
            "one is accepted."
        )
    return _parse_id(found[0], what, source)


def matter_ids(cert: x509.Certificate, *, source: str = "the certificate") -> tuple[
    int | None, int | None
]:
    """(vendor ID, product ID) from the subject; ``None`` where absent."""
    return (
        _subject_id(cert, MATTER_VID_OID, "vendor ID", source),
        _subject_id(cert, MATTER_PID_OID, "product ID", source),
    )


# --------------------------------------------------------------------------- checks


def public_key_bytes(key_or_cert: KeyOrCert) -> bytes:
    """The 65-byte uncompressed SEC1 point of a key pair, public key or certificate."""
    if isinstance(key_or_cert, x509.Certificate):
        public = key_or_cert.public_key()
    elif isinstance(key_or_cert, ec.EllipticCurvePrivateKey):
        public = key_or_cert.public_key()
    else:
        public = key_or_cert
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise CredentialError(
            f"The {type(key_or_cert).__name__} has no EC public key; expected an EC P-256 key."
        )
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def check_key_matches_certificate(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, *, key_source: str,
    cert_source: str,
) -> None:
    """Raise unless ``key`` is the private key of ``cert``."""
    if public_key_bytes(key) != public_key_bytes(cert):
        raise CredentialError(
            f"{key_source} does not match {cert_source}: its public key differs from the "
            "certificate's; give the private key that belongs to this certificate."
        )


_LABELS = {NameOID.COMMON_NAME: "CN", MATTER_VID_OID: "VID", MATTER_PID_OID: "PID"}


def _name(name: x509.Name) -> str:
    """A distinguished name in certificate order, e.g. ``CN=Matter Test PAA, VID=FFF1``."""
    return ", ".join(
        f"{_LABELS.get(a.oid, a.oid.dotted_string)}={a.value!s}" for a in name
    )


def _extension(cert: x509.Certificate, kind: type) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except (x509.DuplicateExtension, ValueError):  # duplicate or malformed extensions
        return None


def check_issued_by(
    child: x509.Certificate, issuer: x509.Certificate, *, child_source: str,
    issuer_source: str,
) -> None:
    """Raise unless ``issuer`` (a CA) issued and signed ``child``."""
    if child.issuer != issuer.subject:
        raise CredentialError(
            f"{child_source} was not issued by {issuer_source}: its issuer is "
            f"'{_name(child.issuer)}' but the issuer certificate's subject is "
            f"'{_name(issuer.subject)}'; give the certificate that issued it."
        )
    constraints = _extension(issuer, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        raise CredentialError(
            f"{issuer_source} is not a CA certificate (basicConstraints cA is not true), so it "
            f"cannot have issued {child_source}; give a PAA or PAI certificate."
        )
    authority = _extension(child, x509.AuthorityKeyIdentifier)
    issuer_skid = _extension(issuer, x509.SubjectKeyIdentifier)
    if (
        isinstance(authority, x509.AuthorityKeyIdentifier)
        and authority.key_identifier is not None
        and isinstance(issuer_skid, x509.SubjectKeyIdentifier)
        and authority.key_identifier != issuer_skid.digest
    ):
        raise CredentialError(
            f"{child_source} was not issued by {issuer_source}: its authority key identifier "
            f"{authority.key_identifier.hex().upper()} differs from the issuer's subject key "
            f"identifier {issuer_skid.digest.hex().upper()}; give the certificate that issued it."
        )
    public = issuer.public_key()
    try:
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CredentialError(
            f"{child_source} was not signed by the key of {issuer_source}: the signature does "
            "not verify; give the certificate that issued it."
        ) from None


def _hex_id(value: int | None) -> str:
    return "none" if value is None else f"0x{value:04X}"


def _check_id(actual: int | None, expected: int, *, cert_source: str, what: str,
              expected_source: str) -> None:
    if actual != expected:
        raise CredentialError(
            f"{cert_source} has Matter {what} {_hex_id(actual)} but {expected_source} is "
            f"{_hex_id(expected)}; the certificate's {what} must equal it."
        )


def check_attestation_chain(
    *, dac: x509.Certificate, pai: x509.Certificate, paa: x509.Certificate | None = None,
    vendor_id: int, product_id: int, sources: dict[str, str],
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


# --------------------------------------------------------------------------- generation


def new_key(seed: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """A P-256 key: random, or derived deterministically from ``seed`` (HKDF-SHA256)."""
    if seed is None:
        return ec.generate_private_key(ec.SECP256R1())
    material = HKDF(
        algorithm=hashes.SHA256(), length=48, salt=b"matter-factory-data/new_key",
        info=b"P-256 private scalar",
    ).derive(bytes(seed))
    scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _check_id_arg(value: int | None, what: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFF:
        raise InputError(
            f"The Matter {what} {value!r} for the certificate is out of range; expected an "
            "integer 0x0001..0xFFFF."
        )


def _utc(moment: _dt.datetime, what: str) -> _dt.datetime:
    if not isinstance(moment, _dt.datetime):
        raise InputError(f"The certificate {what} {moment!r} is not a datetime; give a datetime.")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc)


def _subject(common_name: str, vendor_id: int | None, product_id: int | None) -> x509.Name:
    if not isinstance(common_name, str) or not 1 <= len(common_name) <= 64:
        raise InputError(
            f"The certificate common name {common_name!r} is not accepted; expected a string "
            "of 1..64 characters."
        )
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if vendor_id is not None:
        attributes.append(x509.NameAttribute(MATTER_VID_OID, f"{vendor_id:04X}"))
    if product_id is not None:
        attributes.append(x509.NameAttribute(MATTER_PID_OID, f"{product_id:04X}"))
    return x509.Name(attributes)


def _build(
    *, subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey, issuer_skid: bytes, ca: bool,
    path_length: int | None, serial: int | None, not_before: _dt.datetime | None,
    not_after: _dt.datetime | None, deterministic: bool,
) -> x509.Certificate:
    """Build and sign one attestation certificate with the profile's extensions."""
    for what, candidate in (("key", key), ("issuer key", issuer_key)):
        if not isinstance(candidate, ec.EllipticCurvePrivateKey) or not isinstance(
            candidate.curve, ec.SECP256R1
        ):
            raise InputError(f"The certificate {what} is not an EC P-256 private key; give one.")
    if serial is None:
        serial = secrets.randbits(159) | (1 << 150)
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= _MAX_SERIAL:
        raise InputError(
            f"The certificate serial number {serial!r} is out of range; expected a positive "
            "integer of at most 20 octets (1..2**159-1)."
        )
    start = _utc(not_before, "not-before") if not_before is not None else _dt.datetime.now(
        _dt.timezone.utc
    ).replace(microsecond=0)
    end = _utc(not_after, "not-after") if not_after is not None else NO_WELL_DEFINED_EXPIRY
    if end <= start:
        raise InputError(
            f"The certificate validity ends ({end:%Y-%m-%d %H:%M:%S}) before it starts "
            f"({start:%Y-%m-%d %H:%M:%S}); give a not-after later than the not-before."
        )
    if deterministic and not SUPPORTS_DETERMINISTIC_SIGNING:
        raise InputError(
            "Deterministic certificate signing was requested but the installed cryptography "
            "package does not support it; upgrade cryptography or sign non-deterministically."
        )
    public = key.public_key()
    usage = x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier(issuer_skid, None, None), critical=False
        )
    )
    if SUPPORTS_DETERMINISTIC_SIGNING:
        return builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=deterministic)
    return builder.sign(issuer_key, hashes.SHA256())


def subject_key_id(cert: x509.Certificate, *, source: str = "the certificate") -> bytes:
    """The subjectKeyIdentifier extension value of ``cert``."""
    value = _extension(cert, x509.SubjectKeyIdentifier)
    if not isinstance(value, x509.SubjectKeyIdentifier):
        raise CredentialError(
            f"{source} has no subjectKeyIdentifier extension; Matter attestation and CD "
            "signing certificates must carry one."
        )
    return value.digest


def _check_issuer(issuer_cert: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Validate the issuer pair and return its subject key identifier."""
    check_key_matches_certificate(
        issuer_key, issuer_cert, key_source="The issuer key", cert_source="the issuer certificate"
    )
    constraints = _extension(issuer_cert, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        raise CredentialError(
            "The issuer certificate is not a CA certificate (basicConstraints cA is not true); "
            "give a PAA to issue a PAI or a PAI to issue a DAC."
        )
    return subject_key_id(issuer_cert, source="The issuer certificate")


def make_paa(
    *, key: ec.EllipticCurvePrivateKey, common_name: str, vendor_id: int | None = None,
    serial: int | None = None, not_before: _dt.datetime | None = None,
    not_after: _dt.datetime | None = None, path_length: int | None = 1,
    deterministic: bool = False,
) -> x509.Certificate:
    """A self-signed Product Attestation Authority certificate."""
    _check_id_arg(vendor_id, "vendor ID", optional=True)
    if path_length not in (None, 1):
        raise InputError(
            f"The PAA path length {path_length!r} is not accepted; expected 1 or none."
        )
    subject = _subject(common_name, vendor_id, None)
    skid = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    return _build(
        subject=subject, key=key, issuer=subject, issuer_key=key, issuer_skid=skid, ca=True,
        path_length=path_length, serial=serial, not_before=not_before, not_after=not_after,
        deterministic=deterministic,
    )


def make_pai(
    *, key: ec.EllipticCurvePrivateKey, issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey, common_name: str, vendor_id: int,
    product_id: int | None = None, serial: int | None = None,
    not_before: _dt.datetime | None = None, not_after: _dt.datetime | None = None,
    deterministic: bool = False,
) -> x509.Certificate:
    """A Product Attestation Intermediate certificate issued by a PAA."""
    _check_id_arg(vendor_id, "vendor ID", optional=False)
    _check_id_arg(product_id, "product ID", optional=True)
    skid = _check_issuer(issuer_cert, issuer_key)
    return _build(
        subject=_subject(common_name, vendor_id, product_id), key=key,
        issuer=issuer_cert.subject, issuer_key=issuer_key, issuer_skid=skid, ca=True,
        path_length=0, serial=serial, not_before=not_before, not_after=not_after,
        deterministic=deterministic,
    )


def make_dac(
    *, key: ec.EllipticCurvePrivateKey, issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey, common_name: str, vendor_id: int, product_id: int,
    serial: int | None = None, not_before: _dt.datetime | None = None,
    not_after: _dt.datetime | None = None, deterministic: bool = False,
) -> x509.Certificate:
    """A Device Attestation Certificate issued by a PAI."""
    _check_id_arg(vendor_id, "vendor ID", optional=False)
    _check_id_arg(product_id, "product ID", optional=False)
    skid = _check_issuer(issuer_cert, issuer_key)
    return _build(
        subject=_subject(common_name, vendor_id, product_id), key=key,
        issuer=issuer_cert.subject, issuer_key=issuer_key, issuer_skid=skid, ca=False,
        path_length=None, serial=serial, not_before=not_before, not_after=not_after,
        deterministic=deterministic,
    )


# --------------------------------------------------------------------------- output


def cert_der(cert: x509.Certificate) -> bytes:
    """DER encoding of ``cert``."""
    return cert.public_bytes(serialization.Encoding.DER)


def cert_pem(cert: x509.Certificate) -> bytes:
    """PEM encoding of ``cert``."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted SEC1 DER (``30 77 02 01 01 04 20 ...``), like the Matter dev credentials."""
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted SEC1 PEM (``-----BEGIN EC PRIVATE KEY-----``)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
