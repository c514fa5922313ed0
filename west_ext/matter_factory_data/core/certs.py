"""Matter device attestation certificates and keys: loading, checking and generation.

Loading and checks follow the Matter device attestation certificate profile
(Matter specification 6.2.2): X.509 v3, EC P-256 keys, ecdsa-with-SHA256, the
Matter vendor and product ID subject attributes (UTF8String of four upper-case
hex digits).  Every failure raises :class:`~matter_factory_data.errors.CredentialError`
(or :class:`~matter_factory_data.errors.InputError` for bad generation arguments)
with a one-sentence message naming the ``source`` the caller gave.

Reading and the checks themselves live in :mod:`.certview` (one implementation,
without ``cryptography.x509``, for ``generate``); this module wraps them for
``cryptography`` objects and generates certificates and keys.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import secrets
from typing import Callable, Union, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from ..errors import CredentialError, InputError
from . import cert_read, certview
from .signer import Signer, private_key_of, resign_certificate, throwaway_key

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

MATTER_VID_OID = x509.ObjectIdentifier(certview.MATTER_VID_OID)
MATTER_PID_OID = x509.ObjectIdentifier(certview.MATTER_PID_OID)

#: Not-after value meaning "no well-defined expiration date" (RFC 5280 4.1.2.5).
NO_WELL_DEFINED_EXPIRY = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc)

#: Whether this ``cryptography`` can sign certificates with deterministic ECDSA (RFC 6979).
SUPPORTS_DETERMINISTIC_SIGNING = (
    "ecdsa_deterministic" in inspect.signature(x509.CertificateBuilder.sign).parameters
)

_P256_ORDER = certview.P256_ORDER
_MAX_SERIAL = (1 << 159) - 1  # positive and at most 20 DER octets

KeyOrCert = Union[
    ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey, x509.Certificate, Signer
]
#: A CA's key: in memory, or any signer (a PKCS#11 token) that never hands it out.
IssuerKey = Union[ec.EllipticCurvePrivateKey, Signer]


# --------------------------------------------------------------------------- loading
#
# Reading and every check are implemented once, in :mod:`.certview` (which needs
# neither cryptography.x509 nor serialization); the functions here take and give
# ``cryptography`` objects for the generation code and ``verify``.


def _view(cert: x509.Certificate, source: str) -> certview.CertView:
    """The :class:`~.certview.CertView` of a loaded certificate (structure only, no profile)."""
    return certview.parse_certificate(
        cert.public_bytes(serialization.Encoding.DER), source=source, profile=False
    )


def load_certificate(data: bytes, *, source: str) -> x509.Certificate:
    """Load a DER or PEM certificate with an EC P-256 key signed with ecdsa-with-SHA256."""
    view = certview.parse_certificate(data, source=source)
    try:
        return x509.load_der_x509_certificate(view.der)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion):
        # Package-internal helper: the one wording of this message.
        raise cert_read._unreadable_certificate(source, "cryptography cannot load it") from None


def load_private_key(
    data: bytes, *, source: str, password: bytes | str | None = None
) -> ec.EllipticCurvePrivateKey:
    """Load a DER (SEC1, PKCS#8, encrypted PKCS#8) or PEM EC P-256 private key."""
    scalar = certview.parse_private_key(data, source=source, password=password)
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def raw_private_scalar(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 32-byte big-endian private scalar of a P-256 key."""
    return key.private_numbers().private_value.to_bytes(32, "big")


def private_key_from_scalar(scalar: bytes, *, source: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of a raw 32-byte big-endian scalar (the nRF factory-data ``dac_key``)."""
    value = int.from_bytes(certview.check_scalar(scalar, source=source), "big")
    return ec.derive_private_key(value, ec.SECP256R1())


# --------------------------------------------------------------------------- Matter IDs


def matter_ids(cert: x509.Certificate, *, source: str = "the certificate") -> tuple[
    int | None, int | None
]:
    """(vendor ID, product ID) from the subject; ``None`` where absent."""
    return certview.matter_ids(_view(cert, source), source=source)


# --------------------------------------------------------------------------- checks


def public_key_sha256(key_or_cert: KeyOrCert) -> str:
    """SHA-256 (hex) of the DER SubjectPublicKeyInfo of a key pair, public key or certificate:
    what the identity ledger records to recognise a device key."""
    import hashlib

    public = key_or_cert.public_key() if isinstance(
        key_or_cert, (x509.Certificate, ec.EllipticCurvePrivateKey, Signer)) else key_or_cert
    return hashlib.sha256(public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


#: DER SubjectPublicKeyInfo of a P-256 key up to its 65-byte point (id-ecPublicKey, prime256v1).
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def point_sha256(point: bytes) -> str:
    """:func:`public_key_sha256` of the P-256 public key of ``point`` (65 bytes, uncompressed)."""
    import hashlib

    if len(point) != 65 or point[0] != 4:
        raise CredentialError("expected an uncompressed P-256 point of 65 bytes")
    return hashlib.sha256(_P256_SPKI_PREFIX + point).hexdigest()


def public_key_bytes(key_or_cert: KeyOrCert) -> bytes:
    """The 65-byte uncompressed SEC1 point of a key pair, public key or certificate."""
    if isinstance(key_or_cert, (x509.Certificate, ec.EllipticCurvePrivateKey, Signer)):
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
    key: IssuerKey, cert: x509.Certificate, *, key_source: str,
    cert_source: str,
) -> None:
    """Raise unless ``key`` is the private key of ``cert``."""
    certview.check_public_key_matches_certificate(
        public_key_bytes(key), _view(cert, cert_source), key_source=key_source,
        cert_source=cert_source,
    )


def check_issued_by(
    child: x509.Certificate, issuer: x509.Certificate, *, child_source: str,
    issuer_source: str,
) -> None:
    """Raise unless ``issuer`` (a CA) issued and signed ``child``."""
    certview.check_issued_by(
        _view(child, child_source), _view(issuer, issuer_source), child_source=child_source,
        issuer_source=issuer_source,
    )


def check_attestation_chain(
    *, dac: x509.Certificate, pai: x509.Certificate, paa: x509.Certificate | None = None,
    vendor_id: int, product_id: int, sources: dict[str, str],
) -> None:
    """Check DAC -> PAI (-> PAA) issuance and the VID/PID rules of spec 6.2.2.

    ``sources`` names the inputs in messages; keys ``dac``, ``pai``, ``paa``,
    ``vendor_id`` and ``product_id`` (missing keys get generic names).
    """
    names = {"dac": "the DAC certificate", "pai": "the PAI certificate",
             "paa": "the PAA certificate", **sources}
    certview.check_attestation_chain(
        dac=_view(dac, names["dac"]), pai=_view(pai, names["pai"]),
        paa=None if paa is None else _view(paa, names["paa"]), vendor_id=vendor_id,
        product_id=product_id, sources=sources,
    )


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


def common_name(text: str) -> str:
    """``text`` cut to the 64 UTF-8 bytes X.509 allows a common name, at a character edge."""
    return text.encode("utf-8")[:64].decode("utf-8", "ignore")


def subject_text_problem(text: str) -> str | None:
    """Why ``text`` may not stand in a certificate subject, or None: the rules of every other
    text value (:func:`~.validate.control_problem`: control and invisible characters, bytes
    that are not UTF-8) -- a newline or ESC in a subject reaches every log and terminal that
    prints the certificate."""
    from .validate import control_problem

    return control_problem(text)


def _subject(common_name: str, vendor_id: int | None, product_id: int | None) -> x509.Name:
    if not isinstance(common_name, str) or not 1 <= len(common_name.encode("utf-8")) <= 64:
        raise InputError(
            f"The certificate common name {common_name!r} is not accepted; expected a string "
            "of 1..64 bytes (UTF-8)."
        )
    problem = subject_text_problem(common_name)
    if problem:
        raise InputError(f"The certificate common name {common_name!r} {problem}.")
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if vendor_id is not None:
        attributes.append(x509.NameAttribute(MATTER_VID_OID, f"{vendor_id:04X}"))
    if product_id is not None:
        attributes.append(x509.NameAttribute(MATTER_PID_OID, f"{product_id:04X}"))
    return x509.Name(attributes)


def _build(
    *, subject: x509.Name, key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: IssuerKey, issuer_skid: bytes, ca: bool,
    path_length: int | None, serial: int | None, not_before: _dt.datetime | None,
    not_after: _dt.datetime | None, deterministic: bool,
) -> x509.Certificate:
    """Build and sign one attestation certificate with the profile's extensions."""
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        public = key  # a key the device made: issued from its CSR
    else:
        public = None
    signer = issuer_key if isinstance(issuer_key, Signer) else None
    in_memory = private_key_of(issuer_key)  # a key file's key signs here; a token re-signs
    if in_memory is not None:
        signer = None
    checks = ((("key", key),) if public is None else ()) + (
        (("issuer key", in_memory),) if signer is None else ())
    for what, candidate in checks:
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
    public = public or cast(ec.EllipticCurvePrivateKey, key).public_key()  # not a public key
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
    if signer is not None:  # the key never leaves its token: sign the TBS there
        return resign_certificate(builder.sign(throwaway_key(), hashes.SHA256()), signer)
    if SUPPORTS_DETERMINISTIC_SIGNING:
        return builder.sign(in_memory, hashes.SHA256(), ecdsa_deterministic=deterministic)
    return builder.sign(in_memory, hashes.SHA256())


def subject_key_id(cert: x509.Certificate, *, source: str = "the certificate") -> bytes:
    """The subjectKeyIdentifier extension value of ``cert``."""
    return certview.subject_key_id(_view(cert, source), source=source)


def _check_issuer(issuer_cert: x509.Certificate,
                  issuer_key: IssuerKey) -> bytes:
    """Validate the issuer pair and return its subject key identifier."""
    source = "The issuer certificate"
    view = _view(issuer_cert, source)
    certview.check_public_key_matches_certificate(
        public_key_bytes(issuer_key), view, key_source="The issuer key",
        cert_source="the issuer certificate",
    )
    if not view.is_ca:
        raise CredentialError(
            "The issuer certificate is not a CA certificate (basicConstraints cA is not true); "
            "give a PAA to issue a PAI or a PAI to issue a DAC."
        )
    return certview.subject_key_id(view, source=source)


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
    issuer_key: IssuerKey, common_name: str, vendor_id: int,
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
    issuer_key: IssuerKey, common_name: str, vendor_id: int, product_id: int,
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


class DacIssuer:
    """Issues many DACs from one PAI: the issuer is checked and the subject built once."""

    def __init__(
        self, *, issuer_cert: x509.Certificate, issuer_key: IssuerKey,
        common_name: str, vendor_id: int, product_id: int, not_before: _dt.datetime | None,
        deterministic: bool = False,
    ) -> None:
        _check_id_arg(vendor_id, "vendor ID", optional=False)
        _check_id_arg(product_id, "product ID", optional=False)
        self._skid = _check_issuer(issuer_cert, issuer_key)
        self._subject = _subject(common_name, vendor_id, product_id)
        self._issuer = issuer_cert.subject
        self._issuer_key = issuer_key
        self._not_before = not_before
        self._deterministic = deterministic
        self._template: _TbsTemplate | None = None
        self._algorithm: ec.ECDSA | None = None

    def issue(self, key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
              serial: int) -> x509.Certificate:
        """A DAC for ``key``: a key pair, or the public key of a device's CSR."""
        return _build(
            subject=self._subject, key=key, issuer=self._issuer, issuer_key=self._issuer_key,
            issuer_skid=self._skid, ca=False, path_length=None, serial=serial,
            not_before=self._not_before, not_after=None, deterministic=self._deterministic,
        )

    def issue_der(self, key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
                  serial: int, sign: Callable[[bytes], bytes] | None = None,
                  point: bytes | None = None) -> bytes:
        """The DER of the DAC :meth:`issue` makes, from a template of its to-be-signed bytes
        (``batch``'s hot path: cryptography's builder costs ~0.3 ms a certificate).

        ``sign`` turns the TBS bytes into a DER ECDSA-with-SHA256 signature (an HSM, a
        remote signer); by default the issuer key signs them. Without a fixed not-before
        (the DAC starts "now") the builder is used, unless ``sign`` is given: then every
        DAC starts at the moment of the first one. ``point``: the key's uncompressed public
        point when the caller has it already.
        """
        if (self._not_before is None and sign is None) or isinstance(serial, bool) or \
                not isinstance(serial, int) or not 1 <= serial <= _MAX_SERIAL:
            return cert_der(self.issue(key, serial))  # the builder's checks and errors
        if isinstance(key, ec.EllipticCurvePrivateKey):
            key = key.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
                key.curve, ec.SECP256R1):
            raise InputError("The certificate key is not an EC P-256 key; give one.")
        if point is None:
            point = key.public_bytes(serialization.Encoding.X962,
                                     serialization.PublicFormat.UncompressedPoint)
        tbs = self.tbs_der(point, serial)
        return _signed_certificate(tbs, (sign or self._sign)(tbs))

    def tbs_der(self, point: bytes, serial: int) -> bytes:
        """The to-be-signed bytes of the DAC of public ``point`` (65 bytes, uncompressed)
        and ``serial``: byte for byte what cryptography's builder signs."""
        if self._template is None:
            self._template = _TbsTemplate(self)
        return self._template.render(point, serial)

    def _sign(self, tbs: bytes) -> bytes:
        in_memory = private_key_of(self._issuer_key)
        if in_memory is None:  # a token: only the digest goes to it (Signer.sign)
            signer: Signer = self._issuer_key  # type: ignore[assignment]
            return signer.sign(tbs)
        if self._algorithm is None:
            self._algorithm = (ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
                               if self._deterministic else ec.ECDSA(hashes.SHA256()))
        return in_memory.sign(tbs, self._algorithm)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _der_integer(value: int) -> bytes:
    octets = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_length(len(octets)) + octets


#: AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters.
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def _signed_certificate(tbs: bytes, signature: bytes) -> bytes:
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    body = tbs + _ECDSA_SHA256 + bit_string
    return b"\x30" + _der_length(len(body)) + body


class _TbsTemplate:
    """The TBS of one DAC made by the builder, cut around its serial number, public point
    and subject key identifier (SHA-1 of the point), the only per-device parts."""

    def __init__(self, issuer: DacIssuer) -> None:
        import hashlib

        probe_key = ec.generate_private_key(ec.SECP256R1())
        probe_serial = int.from_bytes(secrets.token_bytes(20), "big") >> 2 | (1 << 157)
        probe = issuer.issue(probe_key, probe_serial)
        tbs = probe.tbs_certificate_bytes
        point = probe_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        skid = hashlib.sha1(point).digest()
        if cert_der(probe)[-len(probe.signature) - 1 - 2 - 12:][:12] != _ECDSA_SHA256:
            raise AssertionError("the builder's signature algorithm is not ecdsa-with-SHA256")
        header = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
        body = tbs[header:]
        spans = sorted((body.index(part), len(part), kind) for kind, part in (
            ("serial", _der_integer(probe_serial)), ("point", point), ("skid", skid)))
        self.pieces, self.kinds, at = [], [], 0
        for start, length, kind in spans:
            self.pieces.append(body[at:start])
            self.kinds.append(kind)
            at = start + length
        self.pieces.append(body[at:])
        if self.render(point, probe_serial) != tbs:  # the template must give the builder's
            raise AssertionError("the DAC template does not reproduce the builder's TBS")

    def render(self, point: bytes, serial: int) -> bytes:
        import hashlib

        values = {"serial": _der_integer(serial), "point": point,
                  "skid": hashlib.sha1(point).digest()}
        parts = [self.pieces[0]]
        for kind, piece in zip(self.kinds, self.pieces[1:]):
            parts += (values[kind], piece)
        body = b"".join(parts)
        return b"\x30" + _der_length(len(body)) + body


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
