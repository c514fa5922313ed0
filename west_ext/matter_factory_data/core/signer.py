"""The one signing interface: whatever holds a CA key (a key file in memory, a PKCS#11
token) signs certificates and Certification Declarations through a :class:`Signer`.

A signer gives its public key and signs bytes with ECDSA P-256 / SHA-256, returning the DER
``ECDSA-Sig-Value``. Certificates are issued through :func:`sign_certificate`: built by
``cryptography`` (with a throwaway key when the real one is not in memory), then the TBS part
is signed by the signer and the certificate assembled with ``asn1crypto``.

``pkcs11:`` URIs (RFC 7512) are parsed here (:func:`parse_pkcs11_uri`); the token signer
itself lives in :mod:`..jobs.pkcs11_signer` (it loads a module and reads the PIN).
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, Optional
from urllib.parse import unquote, unquote_to_bytes

from ..errors import CredentialError, Message, Where


class Signer:
    """A P-256 signing key. ``private_key`` is the key itself when it is in memory (a file),
    None when it never leaves its token."""

    #: what to call it in messages ("--pai_key pkcs11:token=...")
    source: str = "the signing key"
    private_key: Any = None

    def public_key(self):
        raise NotImplementedError

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA-Sig-Value of ``data`` (ecdsa-with-SHA256)."""
        raise NotImplementedError

    def after_fork(self) -> None:
        """Make the signer usable in a forked child process (a token reconnects)."""

    def close(self) -> None:
        """Release the token session, if any."""


class KeySigner(Signer):
    """A key in memory (read from a key file): today's behaviour, signed by ``cryptography``."""

    def __init__(self, key, source: str = "the signing key") -> None:
        self.private_key, self.source = key, source

    def public_key(self):
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def as_signer(key_or_signer) -> Signer:
    """A :class:`Signer` for a signer or a ``cryptography`` EC private key."""
    return key_or_signer if isinstance(key_or_signer, Signer) else KeySigner(key_or_signer)


def private_key_of(key_or_signer):
    """The in-memory private key (a key, or a signer holding one), else None."""
    if isinstance(key_or_signer, Signer):
        return key_or_signer.private_key
    return key_or_signer


def public_key_of(key_or_signer):
    if isinstance(key_or_signer, Signer):
        return key_or_signer.public_key()
    return key_or_signer.public_key()


_THROWAWAY: dict = {}
_THROWAWAY_LOCK = threading.Lock()


def throwaway_key():
    """A per-process P-256 key that signs a certificate whose signature is then replaced."""
    from cryptography.hazmat.primitives.asymmetric import ec

    with _THROWAWAY_LOCK:
        if "key" not in _THROWAWAY:
            _THROWAWAY["key"] = ec.generate_private_key(ec.SECP256R1())
        return _THROWAWAY["key"]


def resign_certificate(cert, signer: Signer):
    """``cert`` (signed by a throwaway key) with its TBS part signed by ``signer`` instead;
    the signature algorithm stays ecdsa-with-SHA256 (no parameters) inside and outside."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509

    tbs = cert.tbs_certificate_bytes
    signature = signer.sign(tbs)
    assembled = asn1_x509.Certificate({
        "tbs_certificate": asn1_x509.TbsCertificate.load(tbs),
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature_value": signature,
    }).dump()
    return x509.load_der_x509_certificate(assembled)


def verify_signature(public_key, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- RFC 7512

PKCS11_SCHEME = "pkcs11:"
_PATH_ATTRIBUTES = ("token", "manufacturer", "serial", "model", "library-manufacturer",
                    "library-description", "library-version", "object", "type", "id",
                    "slot-manufacturer", "slot-description", "slot-id")
_QUERY_ATTRIBUTES = ("pin-source", "pin-value", "module-name", "module-path")


class Pkcs11Uri(NamedTuple):
    token: Optional[str]
    token_serial: Optional[str]
    object: Optional[str]
    id: Optional[bytes]
    type: Optional[str]
    module_path: Optional[str]
    pin_source: Optional[str]
    text: str  # the URI as given (it holds no PIN: pin-value is refused)


def is_pkcs11_uri(value: str) -> bool:
    return isinstance(value, str) and value[:len(PKCS11_SCHEME)].lower() == PKCS11_SCHEME


def parse_pkcs11_uri(text: str, where: Where) -> Pkcs11Uri:
    """The parts of a ``pkcs11:`` URI this tool uses; anything else is one clear error.
    Percent-encoding only (a ``+`` stays a plus); ``pin-value`` is refused (a PIN in argv is
    visible to every user of the machine and ends up in shell histories and logs)."""

    def bad(detail: str) -> CredentialError:
        return CredentialError(Message.at(where, f"bad PKCS#11 URI: {detail} (accepted: "
                                                 "pkcs11:token=LABEL;object=LABEL?module-path="
                                                 "/path/module.so&pin-source=file:/path/pin)"))

    if not is_pkcs11_uri(text):
        raise bad("it does not start with pkcs11:")
    body = text[len(PKCS11_SCHEME):]
    path, _, query = body.partition("?")
    values: dict = {}
    for part, allowed, separator in ((path, _PATH_ATTRIBUTES, ";"),
                                     (query, _QUERY_ATTRIBUTES, "&")):
        for item in filter(None, part.split(separator)):
            name, equals, value = item.partition("=")
            name = name.strip().lower()
            if not equals:
                raise bad(f"{name!r} has no value")
            if name not in allowed:
                where_text = "path" if separator == ";" else "query"
                raise bad(f"unknown {where_text} attribute {name!r}")
            if name in values:
                raise bad(f"{name!r} is given twice")
            values[name] = value
    if "pin-value" in values:
        raise bad("pin-value is refused: a PIN on the command line is visible to every user "
                  "of this machine; use pin-source=file:/path or the environment variable "
                  "MFD_PKCS11_PIN")
    if "module-name" in values:
        raise bad("module-name is not supported; give module-path=/path/to/module.so or set "
                  "MFD_PKCS11_MODULE")
    if "token" not in values and "serial" not in values:
        raise bad("no token=LABEL (or serial=...) names the token")
    if "object" not in values and "id" not in values:
        raise bad("no object=LABEL (or id=%01...) names the key")
    kind = values.get("type")
    if kind is not None and unquote(kind) != "private":
        raise bad(f"type={unquote(kind)} cannot sign; the key is type=private")

    def text_of(name: str) -> Optional[str]:
        raw = values.get(name)
        if raw is None:
            return None
        try:
            decoded = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise bad(f"{name} is not UTF-8 after percent-decoding") from None
        if not decoded or not decoded.isprintable():
            raise bad(f"{name} is empty or holds control characters")
        return decoded

    pin_source = text_of("pin-source")
    if pin_source is not None and pin_source.startswith("file:"):
        pin_source = pin_source[len("file:"):]
        if pin_source.startswith("//"):
            pin_source = pin_source[2:]
    elif pin_source is not None and pin_source.startswith("|"):
        raise bad("pin-source=|command is not supported; give pin-source=file:/path")
    key_id = unquote_to_bytes(values["id"]) if "id" in values else None
    if key_id is not None and not key_id:
        raise bad("id is empty")
    return Pkcs11Uri(token=text_of("token"), token_serial=text_of("serial"),
                     object=text_of("object"), id=key_id, type=text_of("type"),
                     module_path=text_of("module-path"), pin_source=pin_source, text=text)
