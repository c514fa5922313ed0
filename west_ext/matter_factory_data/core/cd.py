"""Matter Certification Declaration (Matter specification 6.3.1).

The content is an anonymous TLV structure (context tags 0..11); the envelope
is a CMS ``ContentInfo`` of type ``SignedData`` with pkcs7-data content, no
certificates and one ``SignerInfo`` (v3, ``[0] subjectKeyIdentifier``,
SHA-256, ecdsa-with-SHA256, no signed attributes) whose signature covers the
TLV content itself.  The ASN.1 is built and parsed with :mod:`asn1crypto`,
signatures are made and checked with :mod:`cryptography`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CredentialError, InputError, VerificationError
from . import certs, tlv

if TYPE_CHECKING:
    from .signer import Signer

__all__ = [
    "CertificationDeclaration",
    "DEV_SIGNER_COMMON_NAME",
    "MAX_PRODUCT_IDS",
    "MAX_AUTHORIZED_PAAS",
    "CERTIFICATE_ID_LENGTH",
    "encode_content",
    "decode_content",
    "build_cms",
    "sign",
    "parse",
    "verify",
    "make_dev_signer",
]

MAX_PRODUCT_IDS = 100
MAX_AUTHORIZED_PAAS = 10
CERTIFICATE_ID_LENGTH = 19
SKID_LENGTH = 20
DEV_SIGNER_COMMON_NAME = "Matter Development CD Signing Authority"

_DETERMINISTIC_ECDSA = "deterministic_signing" in inspect.signature(ec.ECDSA.__init__).parameters
_DEV_SIGNER_NOT_BEFORE = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)

# Context tags of the certification elements, in the order the specification requires.
_TAGS = {
    "format_version": 0,
    "vendor_id": 1,
    "product_ids": 2,
    "device_type_id": 3,
    "certificate_id": 4,
    "security_level": 5,
    "security_information": 6,
    "version_number": 7,
    "certification_type": 8,
    "dac_origin_vendor_id": 9,
    "dac_origin_product_id": 10,
    "authorized_paa_list": 11,
}
_REQUIRED_TAGS = tuple(range(9))

# Unsigned integer fields: (low, high, text of the accepted range).
_UINT_RANGES = {
    "format_version": (0, 0xFFFF, "0..65535 (16-bit)"),
    "vendor_id": (1, 0xFFFF, "0x0001..0xFFFF"),
    "device_type_id": (0, 0xFFFFFFFF, "0..4294967295 (32-bit)"),
    "security_level": (0, 0xFF, "0..255 (8-bit)"),
    "security_information": (0, 0xFFFF, "0..65535 (16-bit)"),
    "version_number": (0, 0xFFFF, "0..65535 (16-bit)"),
    "certification_type": (0, 2, "0 (development), 1 (provisional) or 2 (official)"),
    "dac_origin_vendor_id": (1, 0xFFFF, "0x0001..0xFFFF, given together with "
                             "dac_origin_product_id"),
    "dac_origin_product_id": (1, 0xFFFF, "0x0001..0xFFFF, given together with "
                              "dac_origin_vendor_id"),
}


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, (bool, tlv.SignedInt))


@dataclass(frozen=True)
class CertificationDeclaration:
    """The certification elements of a CD (spec 6.3.1)."""

    vendor_id: int
    product_ids: tuple[int, ...]
    device_type_id: int = 0
    certificate_id: str = "ZIG20141ZB330001-24"
    security_level: int = 0
    security_information: int = 0
    version_number: int = 0xFFFF
    certification_type: int = 0
    format_version: int = 1
    dac_origin_vendor_id: int | None = None
    dac_origin_product_id: int | None = None
    authorized_paa_list: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.product_ids, list):
            object.__setattr__(self, "product_ids", tuple(self.product_ids))
        if isinstance(self.authorized_paa_list, list):
            object.__setattr__(self, "authorized_paa_list", tuple(self.authorized_paa_list))

    def validate(self, *, source: str = "The certification declaration") -> None:
        """Raise InputError naming the first field outside the limits of spec 6.3.1."""

        def bad(name: str, value: Any, accepted: str) -> InputError:
            return InputError(f"{source} has {name} {value!r}, which is not accepted; "
                              f"expected {accepted}.")

        for name, (low, high, accepted) in _UINT_RANGES.items():
            value = getattr(self, name)
            if value is None and name.startswith("dac_origin_"):
                continue
            if not _is_uint(value) or not low <= value <= high:
                raise bad(name, value, accepted)
        if (self.dac_origin_vendor_id is None) != (self.dac_origin_product_id is None):
            raise bad("dac_origin_vendor_id/dac_origin_product_id",
                      (self.dac_origin_vendor_id, self.dac_origin_product_id),
                      "both or neither of them")
        pids = self.product_ids
        if not isinstance(pids, tuple) or not 1 <= len(pids) <= MAX_PRODUCT_IDS:
            raise bad("product_ids", pids, f"1..{MAX_PRODUCT_IDS} product IDs")
        for pid in pids:
            if not _is_uint(pid) or not 1 <= pid <= 0xFFFF:
                raise bad("product_ids entry", pid, "product IDs 0x0001..0xFFFF")
        cid = self.certificate_id
        if (not isinstance(cid, str) or len(cid) != CERTIFICATE_ID_LENGTH or not cid.isascii()
                or not cid.isprintable()):
            raise bad("certificate_id", cid, f"exactly {CERTIFICATE_ID_LENGTH} printable ASCII "
                      "characters such as 'ZIG20141ZB330001-24'")
        paas = self.authorized_paa_list
        if not isinstance(paas, tuple) or len(paas) > MAX_AUTHORIZED_PAAS:
            raise bad("authorized_paa_list", paas,
                      f"at most {MAX_AUTHORIZED_PAAS} PAA subject key identifiers")
        for skid in paas:
            if not isinstance(skid, bytes) or len(skid) != SKID_LENGTH:
                raise bad("authorized_paa_list entry", skid,
                          f"a {SKID_LENGTH}-byte PAA subject key identifier")


# --------------------------------------------------------------------------- TLV content


def encode_content(cd: CertificationDeclaration) -> bytes:
    """The TLV certification elements (anonymous structure, context tags in order)."""
    cd.validate()
    members: dict[int, Any] = {}
    for name, tag in _TAGS.items():
        value = getattr(cd, name)
        if value is None or (name == "authorized_paa_list" and not value):
            continue
        members[tag] = list(value) if isinstance(value, tuple) else value
    return tlv.encode(members)


def decode_content(
    data: bytes, *, source: str = "The certification declaration content"
) -> CertificationDeclaration:
    """Parse and validate TLV certification elements."""
    root = tlv.decode(data, source=source)

    def bad(what: str) -> InputError:
        return InputError(f"{source} {what}; expected the certification elements of Matter "
                          "specification 6.3.1 (context tags 0..11 in ascending order).")

    if not isinstance(root, dict):
        raise bad("is not a TLV structure")
    tags = list(root)
    unknown = sorted(set(tags) - set(_TAGS.values()))
    if unknown:
        raise bad(f"has unknown context tag {unknown[0]}")
    if tags != sorted(tags):
        raise bad("has its elements out of order")
    missing = [tag for tag in _REQUIRED_TAGS if tag not in root]
    if missing:
        raise bad(f"lacks the required context tag {missing[0]}")
    values: dict[str, Any] = {}
    for name, tag in _TAGS.items():
        if tag not in root:
            continue
        value = root[tag]
        if name == "product_ids":
            if not isinstance(value, list) or not all(_is_uint(v) for v in value):
                raise bad("has a product_ids element that is not an array of unsigned integers")
            value = tuple(int(v) for v in value)
        elif name == "authorized_paa_list":
            if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
                raise bad("has an authorized_paa_list that is not an array of byte strings")
            if not value:
                raise bad("has an empty authorized_paa_list")
            value = tuple(value)
        elif name == "certificate_id":
            if not isinstance(value, str):
                raise bad("has a certificate_id that is not a UTF-8 string")
        elif not _is_uint(value):
            raise bad(f"has a {name} element that is not an unsigned integer")
        values[name] = value
    cd = CertificationDeclaration(**values)
    cd.validate(source=source)
    return cd


# --------------------------------------------------------------------------- CMS envelope


class _AlgorithmIdentifier(core.Sequence):
    """A plain AlgorithmIdentifier: asn1crypto's DigestAlgorithm would force NULL parameters."""

    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


def _sha256_algorithm() -> algos.DigestAlgorithm:
    """SHA-256 AlgorithmIdentifier with absent parameters, as connectedhomeip encodes it."""
    bare = _AlgorithmIdentifier({"algorithm": "2.16.840.1.101.3.4.2.1"})
    return algos.DigestAlgorithm.load(bare.dump())


def build_cms(content: bytes, signer_skid: bytes, signature: bytes) -> bytes:
    """DER CMS ContentInfo(SignedData) around ``content`` with a ready DER ECDSA ``signature``.

    Useful with an external signer (HSM): sign ``content`` with ECDSA/SHA-256 and pass
    the DER signature.
    """
    sha256 = _sha256_algorithm()
    signer_info = cms.SignerInfo({
        "version": "v3",
        "sid": cms.SignerIdentifier(name="subject_key_identifier", value=bytes(signer_skid)),
        "digest_algorithm": sha256,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": bytes(signature),
    })
    signed_data = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [sha256],
        "encap_content_info": {"content_type": "data", "content": bytes(content)},
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def sign(
    cd: CertificationDeclaration, *, signing_key: ec.EllipticCurvePrivateKey | Signer,
    signing_cert: x509.Certificate, deterministic: bool = False,
) -> bytes:
    """Encode ``cd`` and sign it: the DER CMS SignedData of spec 6.3.1."""
    certs.check_key_matches_certificate(
        signing_key, signing_cert, key_source="The CD signing key",
        cert_source="the CD signing certificate",
    )
    skid = certs.subject_key_id(signing_cert, source="The CD signing certificate")
    content = encode_content(cd)
    if deterministic and not _DETERMINISTIC_ECDSA:
        raise InputError(
            "Deterministic CD signing was requested but the installed cryptography package "
            "does not support it; upgrade cryptography or sign non-deterministically."
        )
    from .signer import Signer, private_key_of

    key = private_key_of(signing_key)
    if key is None and isinstance(signing_key, Signer):  # a token signs SHA-256 of the content
        return build_cms(content, skid, signing_key.sign(content))
    algorithm = (ec.ECDSA(hashes.SHA256(), deterministic_signing=True) if deterministic
                 else ec.ECDSA(hashes.SHA256()))
    return build_cms(content, skid, key.sign(content, algorithm))


def _unwrap(der: bytes, source: str) -> tuple[bytes, bytes, bytes]:
    """(TLV content, signer SKID, DER signature) of a CD envelope, checking its shape."""

    def bad(what: str) -> InputError:
        return InputError(f"{source} {what}; expected a DER CMS SignedData certification "
                          "declaration as in Matter specification 6.3.1.")

    try:
        info = cms.ContentInfo.load(bytes(der), strict=True)
        if info["content_type"].native != "signed_data":
            raise bad(f"has content type {info['content_type'].dotted}")
        signed = info["content"]
        if signed["version"].native != "v3":
            raise bad(f"has SignedData version {signed['version'].native}")
        digests = [d["algorithm"].native for d in signed["digest_algorithms"]]
        if digests != ["sha256"]:
            raise bad(f"has digest algorithms {digests}")
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "data":
            raise bad(f"has encapsulated content type {encap['content_type'].dotted}")
        if not isinstance(encap["content"].native, bytes):
            raise bad("has no encapsulated content")
        if signed["certificates"].native is not None or signed["crls"].native is not None:
            raise bad("carries certificates or CRLs")
        if len(signed["signer_infos"]) != 1:
            raise bad(f"has {len(signed['signer_infos'])} signer infos")
        signer = signed["signer_infos"][0]
        if signer["version"].native != "v3":
            raise bad(f"has SignerInfo version {signer['version'].native}")
        if signer["sid"].name != "subject_key_identifier":
            raise bad("identifies its signer by issuer and serial number")
        if signer["digest_algorithm"]["algorithm"].native != "sha256":
            raise bad("has a signer digest algorithm other than SHA-256")
        if signer["signature_algorithm"]["algorithm"].dotted != "1.2.840.10045.4.3.2":
            raise bad("has a signature algorithm other than ecdsa-with-SHA256")
        if signer["signed_attrs"].native is not None:
            raise bad("has signed attributes")
        if info.dump(force=True) != bytes(der):
            raise bad("is not DER encoded")
        return (encap["content"].native, signer["sid"].chosen.native,
                signer["signature"].native)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise bad("is not a readable CMS structure") from None


def parse(
    der: bytes, *, source: str = "The certification declaration"
) -> tuple[CertificationDeclaration, bytes]:
    """(certification elements, signer SKID) of a signed CD, without checking the signature."""
    content, skid, _ = _unwrap(der, source)
    return decode_content(content, source=f"{source} content"), skid


def verify(
    der: bytes, signing_cert: x509.Certificate, *, source: str = "The certification declaration",
    cert_source: str = "the CD signing certificate",
) -> CertificationDeclaration:
    """Parse ``der`` and check it was signed by the key of ``signing_cert``."""
    content, skid, signature = _unwrap(der, source)
    cd = decode_content(content, source=f"{source} content")
    try:
        expected = certs.subject_key_id(signing_cert, source=cert_source)
    except CredentialError as error:
        raise VerificationError(str(error)) from None
    if skid != expected:
        raise VerificationError(
            f"{source} names signer key identifier {skid.hex().upper()} but {cert_source} has "
            f"{expected.hex().upper()}; give the certificate of the key that signed it."
        )
    public = signing_cert.public_key()
    try:
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public.verify(signature, content, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerificationError(
            f"{source} has a signature that does not verify with {cert_source}; the content "
            "was altered or signed with another key."
        ) from None
    return cd


# --------------------------------------------------------------------------- dev signer


def make_dev_signer(
    seed: bytes | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed development CD signing certificate and its key.

    With a ``seed`` the key, serial and validity are fixed, so the DER is reproducible
    (where ``cryptography`` supports deterministic ECDSA).
    """
    key = certs.new_key(seed)
    serial = not_before = None
    if seed is not None:
        digest = hashlib.sha256(b"matter-factory-data/cd-signer-serial" + bytes(seed)).digest()
        serial = int.from_bytes(digest[:19], "big") | 1 << 150
        not_before = _DEV_SIGNER_NOT_BEFORE
    subject = certs._subject(DEV_SIGNER_COMMON_NAME, None, None)  # package-internal helper
    skid = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    cert = certs._build(
        subject=subject, key=key, issuer=subject, issuer_key=key, issuer_skid=skid, ca=False,
        path_length=None, serial=serial, not_before=not_before, not_after=None,
        deterministic=seed is not None and certs.SUPPORTS_DETERMINISTIC_SIGNING,
    )
    return cert, key

