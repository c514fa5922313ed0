"""Private keys read into their raw 32-byte P-256 scalar (SEC1 or PKCS#8, DER or PEM;
encrypted keys through ``cryptography``'s serialization, imported only then), and the
scalar's public point. Part of :mod:`.certview`.
"""

from __future__ import annotations

from typing import Optional

from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CredentialError
from . import der
from .cert_read import (
    _CURVES,
    _KEY_LABELS,
    _KEY_TYPES,
    EC_PUBLIC_KEY_OID,
    P256_OID,
    P256_ORDER,
    _algorithm,
    _fields,
    _pem_block,
    is_pem,
)

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
