"""A signing key in a PKCS#11 token (an HSM, SoftHSM2), addressed by an RFC 7512 URI.

The private key never leaves the token: only SHA-256 digests go in and raw ``r||s``
signatures come out (``CKM_ECDSA``, which every EC token offers; SoftHSM2 2.6 has no
``CKM_ECDSA_SHA256``), turned into DER here. ``python-pkcs11`` is imported only when a URI
is given, so ordinary runs never load it.

The module and PIN come from the URI (``module-path``, ``pin-source=file:``) or from the
environment (``MFD_PKCS11_MODULE``, ``MFD_PKCS11_PIN``); a PIN is never accepted in the URI
and never appears in a message. Every call into the module holds one process-wide lock:
modules initialised without mutex callbacks (SoftHSM2) are not safe across threads. After a
``fork`` the child calls :meth:`Pkcs11Signer.after_fork` (``C_Finalize`` + ``C_Initialize``,
a new session and login), as PKCS#11 requires.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Mapping
from typing import Any, Optional

from ..core.signer import Pkcs11Uri, Signer, parse_pkcs11_uri, verify_signature
from ..errors import CredentialError, Message, Where

MODULE_ENV = "MFD_PKCS11_MODULE"
PIN_ENV = "MFD_PKCS11_PIN"

#: DER of the named-curve OIDs a token may report in CKA_EC_PARAMS.
_CURVES = {bytes.fromhex("06082a8648ce3d030107"): "P-256 (secp256r1)",
           bytes.fromhex("06052b81040022"): "P-384 (secp384r1)",
           bytes.fromhex("06052b81040023"): "P-521 (secp521r1)",
           bytes.fromhex("06052b8104000a"): "secp256k1",
           bytes.fromhex("06082a8648ce3d030101"): "P-192 (secp192r1)"}
_P256 = bytes.fromhex("06082a8648ce3d030107")

_LOCK = threading.RLock()  # every call into a module, process-wide
_SESSIONS: dict = {}  # (module, token label, token serial, pid) -> logged-in session


class Pkcs11Signer(Signer):
    """The key named by ``uri`` in its token, checked against ``certificate``'s public key."""

    def __init__(self, uri: Pkcs11Uri, where: Where, *, module: str, pin: str,
                 certificate) -> None:
        self.uri, self.where, self.module, self._pin = uri, where, module, pin
        self.source = f"{where} {uri.text}"
        self._public = certificate.public_key()
        self._pid = os.getpid()
        self._key: Any = None
        self._open()
        self._check_matches()

    # -- the Signer interface
    def public_key(self):
        return self._public

    def sign(self, data: bytes) -> bytes:
        from pkcs11 import Mechanism, PKCS11Error
        from pkcs11.util.ec import encode_ecdsa_signature

        digest = hashlib.sha256(data).digest()
        with _LOCK:
            try:
                raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)
            except PKCS11Error as exc:
                raise self._error(f"the token failed to sign ({_name(exc)})") from None
        return encode_ecdsa_signature(raw)

    def after_fork(self) -> None:
        if os.getpid() == self._pid:
            return
        import pkcs11

        with _LOCK:
            for key in [k for k in _SESSIONS if k[3] != os.getpid()]:
                del _SESSIONS[key]  # the parent's: not valid in this process
            try:
                pkcs11.lib(self.module).reinitialize()
            except pkcs11.PKCS11Error as exc:
                raise self._error(f"cannot reinitialise the PKCS#11 module after fork "
                                  f"({_name(exc)})") from None
            self._pid = os.getpid()
            self._open()

    def close(self) -> None:
        with _LOCK:
            session = _SESSIONS.pop(self._session_key(), None)
            if session is not None:
                with contextlib.suppress(Exception):  # a vanished token: nothing to release
                    session.close()
            self._key = None

    # -- opening
    def _error(self, detail: str, event_code: str = "") -> CredentialError:
        """``event_code``: the stable code of the line software's error event (events.py)."""
        error = CredentialError(Message.at(self.where, f"{_shown(self.uri)}: {detail}"))
        if event_code:
            error.event_code = event_code  # type: ignore[attr-defined]
        return error

    def _session_key(self) -> tuple:
        return (self.module, self.uri.token, self.uri.token_serial, os.getpid(), self._pin)

    def _open(self) -> None:
        import pkcs11
        from pkcs11 import Attribute, KeyType, ObjectClass, exceptions

        with _LOCK:
            try:
                lib = pkcs11.lib(self.module)
            except (pkcs11.PKCS11Error, OSError, RuntimeError) as exc:
                raise self._error(f"cannot load the PKCS#11 module {self.module} "
                                  f"({_name(exc)})") from None
            session = _SESSIONS.get(self._session_key())
            if session is None:
                session = self._login(lib, exceptions)
                _SESSIONS[self._session_key()] = session
            query: dict = {"object_class": ObjectClass.PRIVATE_KEY}
            if self.uri.object is not None:
                query["label"] = self.uri.object
            if self.uri.id is not None:
                query["id"] = self.uri.id
            try:
                key = session.get_key(**query)
            except exceptions.NoSuchKey:
                raise self._error(f"no private key {_object(self.uri)} in the token") from None
            except exceptions.MultipleObjectsReturned:
                raise self._error(f"several private keys match {_object(self.uri)}; name one "
                                  "with object= and id=") from None
            except pkcs11.PKCS11Error as exc:
                raise self._error(f"cannot find the key ({_name(exc)})") from None
            try:
                key_type = key.key_type
                params = bytes(key[Attribute.EC_PARAMS]) if key_type == KeyType.EC else b""
            except pkcs11.PKCS11Error as exc:
                raise self._error(f"cannot read the key's attributes ({_name(exc)})") from None
        if key_type != KeyType.EC:
            raise self._error(f"the key is {getattr(key_type, 'name', key_type)}, not EC P-256")
        if params != _P256:
            curve = _CURVES.get(params, f"the curve with parameters {params.hex()}")
            raise self._error(f"the key is on {curve}, not P-256 (secp256r1)")
        self._key = key

    def _login(self, lib, exceptions):
        token_query = {k: v for k, v in (("token_label", self.uri.token),
                                         ("token_serial", self.uri.token_serial)) if v}
        try:
            token = lib.get_token(**token_query)
        except exceptions.NoSuchToken:
            raise self._error(f"no token {_token(self.uri)} in {self.module}") from None
        except exceptions.MultipleTokensReturned:
            raise self._error(f"several tokens match {_token(self.uri)}; add serial=") from None
        except exceptions.PKCS11Error as exc:
            raise self._error(f"cannot list the tokens ({_name(exc)})") from None
        try:
            return token.open(user_pin=self._pin)
        except (exceptions.PinIncorrect, exceptions.PinInvalid, exceptions.PinLenRange):
            raise self._error(f"the token {_token(self.uri)} refused the PIN (wrong PIN)",
                              "HSM_PIN_INCORRECT") \
                from None
        except exceptions.PinLocked:
            raise self._error(f"the token {_token(self.uri)} has locked its user PIN",
                              "HSM_PIN_INCORRECT") from None
        except exceptions.PinExpired:
            raise self._error(f"the user PIN of the token {_token(self.uri)} has expired") \
                from None
        except (exceptions.TokenNotPresent, exceptions.DeviceRemoved):
            raise self._error(f"the token {_token(self.uri)} is not present") from None
        except exceptions.PKCS11Error as exc:
            raise self._error(f"cannot log in to the token {_token(self.uri)} "
                              f"({_name(exc)})") from None

    def _check_matches(self) -> None:
        """Sign a fresh nonce in the token and verify it with the certificate's key."""
        nonce = secrets.token_bytes(32)
        if not verify_signature(self._public, self.sign(nonce), nonce):
            raise self._error("the key in the token is not the key of the certificate given "
                              "with it (a signature made by the token does not verify with "
                              "the certificate's public key)")


def open_token_signer(uri_text: str, where: Where, certificate,
                      environ: Optional[Mapping[str, str]] = None) -> Pkcs11Signer:
    """The token key of a ``pkcs11:`` URI, checked to be the key of ``certificate``."""
    from ..files.inputs import read_file

    env: Mapping[str, str] = os.environ if environ is None else environ
    uri = parse_pkcs11_uri(uri_text, where)

    def bad(detail: str) -> CredentialError:
        return CredentialError(Message.at(where, f"{_shown(uri)}: {detail}"))

    module = uri.module_path or env.get(MODULE_ENV)
    if not module:
        raise bad(f"no PKCS#11 module: add module-path=/path/to/module.so to the URI or set "
                  f"{MODULE_ENV}")
    if not os.path.isfile(module):
        raise bad(f"the PKCS#11 module {module} does not exist (from "
                  f"{'module-path' if uri.module_path else MODULE_ENV})")
    if uri.pin_source is not None:
        raw = read_file(uri.pin_source, f"{where} pin-source", limit=4096)
        pin = raw.decode("utf-8", "replace").rstrip("\r\n")
    elif env.get(PIN_ENV) is not None:
        pin = env[PIN_ENV]
    else:
        raise bad(f"no PIN: add pin-source=file:/path/to/pin to the URI or set {PIN_ENV}")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        raise bad("python-pkcs11 is not installed (pip install "
                  "'matter-factory-data[hsm]')") from None
    return Pkcs11Signer(uri, where, module=module, pin=pin, certificate=certificate)


def _shown(uri: Pkcs11Uri) -> str:
    """The URI as it may be shown: it never holds a PIN (pin-value is refused)."""
    text = uri.text
    return text if text.isprintable() else repr(text)[1:-1]


def _token(uri: Pkcs11Uri) -> str:
    return " ".join(f"{k}={v!r}" for k, v in (("token", uri.token),
                                              ("serial", uri.token_serial)) if v)


def _object(uri: Pkcs11Uri) -> str:
    return " ".join(f"{k}={v}" for k, v in (("object", repr(uri.object) if uri.object else ""),
                                            ("id", uri.id.hex() if uri.id else "")) if v)


def _name(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
