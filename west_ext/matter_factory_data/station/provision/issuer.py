"""Checking a device's PKCS#10 CSR and issuing its DAC from the PAI.

Independent of ports and frames: a station with a vendor's own protocol uses it as is.
The CSR must be signed by its own key (proof of possession) with ecdsa-with-SHA256, the key
must be P-256, and the subject must be exactly (single-valued components, printable text):
commonName (any, 1..64 characters), the Matter vendor ID and product ID attributes
(1.3.6.1.4.1.37244.2.1 / .2.2, 4 upper-case hex digits) equal to the station's, and
serialNumber (2.5.4.5: the device's serial number, 1..32 bytes). The DAC gets the station's
subject (common name, VID, PID), the device's public key and a fresh random serial number
never issued before by this station (the manifest's are loaded at start). A device key or
serial number gets at most one DAC: the identity ledger decides (see docs/factory-line.md), or,
without one (a station script using this class alone), one DAC per key and serial per run.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

from ...errors import CredentialError

VID_OID = "1.3.6.1.4.1.37244.2.1"
PID_OID = "1.3.6.1.4.1.37244.2.2"
CN_OID = "2.5.4.3"
SERIAL_OID = "2.5.4.5"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"


class CsrRefused(CredentialError):
    """The CSR is not one this station signs; the message says why."""


class NotIssued(CredentialError):
    """No DAC for a valid CSR: the ledger's policy refused it, or the ledger could not record
    it (the DAC is never sent unrecorded)."""


class CheckedCsr(NamedTuple):
    public_key: ec.EllipticCurvePublicKey
    sn: str


class Issued(NamedTuple):
    dac: bytes  # DER
    serial: int


class CsrIssuer:
    """Issues DACs for CSRs of one product (``vendor_id``/``product_id``) from one PAI."""

    def __init__(self, *, pai_cert, pai_key, vendor_id: int, product_id: int,
                 common_name: str = "Matter DAC", used_serials: Iterable[int] = (),
                 ledger=None) -> None:
        from ...core import certs

        self.vendor_id, self.product_id = vendor_id, product_id
        self.pai_der = certs.cert_der(pai_cert)
        self._issuer = certs.DacIssuer(issuer_cert=pai_cert, issuer_key=pai_key,
                                       common_name=common_name, vendor_id=vendor_id,
                                       product_id=product_id, not_before=None)
        self._used = set(used_serials)
        self._keys: dict = {}  # device public key -> DAC serial, this run
        self._sns: dict = {}  # device serial number -> DAC serial, this run
        self._lock = threading.Lock()
        #: write-ahead: a :class:`~..ledger.station.StationLedger` records each DAC (or
        #: gives the recorded one again) before issue() returns it
        self.ledger = ledger

    def check(self, der: bytes) -> CheckedCsr:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            csr = x509.load_der_x509_csr(der)
            public = csr.public_key()
        except (ValueError, TypeError) as exc:
            raise CsrRefused(f"not a DER PKCS#10 request ({str(exc).splitlines()[0]})") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise CsrRefused(f"the key is {type(public).__name__.lstrip('_')}, not EC P-256")
        if not isinstance(public.curve, ec.SECP256R1):
            raise CsrRefused(f"the key is on curve {public.curve.name}, not P-256 (secp256r1)")
        algorithm = csr.signature_algorithm_oid.dotted_string
        if algorithm != ECDSA_WITH_SHA256:
            name = getattr(csr.signature_algorithm_oid, "_name", "") or algorithm
            raise CsrRefused(f"signed with {name} ({algorithm}); accepted: ecdsa-with-SHA256 "
                             f"({ECDSA_WITH_SHA256}) only")
        if not csr.is_signature_valid:
            raise CsrRefused("the signature does not verify with the request's own key")
        return CheckedCsr(public, self._subject_sn(csr.subject))

    def _subject_sn(self, subject) -> str:

        values: dict = {}
        for rdn in subject.rdns:
            if len(rdn) != 1:
                raise CsrRefused("foreign subject: a multi-valued name component (accepted: "
                                 "one attribute each)")
        for attribute in subject:
            oid = attribute.oid.dotted_string
            if oid not in (CN_OID, VID_OID, PID_OID, SERIAL_OID) or oid in values:
                raise CsrRefused(f"foreign subject: attribute {oid} is not accepted (accepted "
                                 "once each: CN, Matter VID, Matter PID, serialNumber)")
            values[oid] = str(attribute.value)
        for oid, name, expected in ((VID_OID, "vendor ID", self.vendor_id),
                                    (PID_OID, "product ID", self.product_id)):
            given = values.get(oid)
            if given != f"{expected:04X}":
                raise CsrRefused(f"foreign subject: {name} {given or '(none)'}, but this station "
                                 f"issues DACs for {expected:04X}")
        sn = values.get(SERIAL_OID, "")
        if not values.get(CN_OID):
            raise CsrRefused("foreign subject: no commonName")
        from ...core.certs import subject_text_problem

        for oid, name in ((CN_OID, "commonName"), (SERIAL_OID, "serialNumber")):
            problem = subject_text_problem(values.get(oid, ""))
            if problem:
                raise CsrRefused(f"foreign subject: {name} {problem}")
        if not 1 <= len(sn.encode("utf-8")) <= 32:
            raise CsrRefused("foreign subject: serialNumber (the device's serial number, 1..32 "
                             "bytes) is missing or too long")
        return sn

    def issue(self, checked: CheckedCsr) -> Issued:
        """The DAC for a checked CSR. With a ledger, it is recorded before it is returned,
        and the ledger's policy decides about a key or serial number it knows (a refusal or a
        ledger failure raises :class:`NotIssued`, and no DAC is returned). Without one, a
        device key or serial number that already got a DAC in this run (a cloned key, a
        replayed CSR, two boards with one serial) is refused."""
        from ...core import certs
        from ...core.validate import shown

        if self.ledger is not None:
            from ..ledger.station import NotIssued as LedgerRefusal

            def sign(serial: int) -> bytes:
                return certs.cert_der(self._issuer.issue(checked.public_key, serial))

            try:
                dac, serial = self.ledger.issue(checked.sn, checked.public_key, sign)
            except LedgerRefusal as exc:
                raise NotIssued(str(exc)) from None
            return Issued(dac, serial)
        key = certs.public_key_bytes(checked.public_key)
        with self._lock:
            earlier = self._keys.get(key)
            if earlier is not None:
                raise CsrRefused(f"this device key already got DAC {earlier:x} in this run "
                                 "(a cloned key or a replayed CSR)")
            earlier = self._sns.get(checked.sn)
            if earlier is not None:
                raise CsrRefused(f"the serial number {shown(checked.sn)} already got DAC "
                                 f"{earlier:x} in this run")
            serial = secrets.randbits(127) | (1 << 126)
            while serial in self._used:
                serial = secrets.randbits(127) | (1 << 126)
            self._used.add(serial)
            self._keys[key] = self._sns[checked.sn] = serial
        try:
            dac = self._issuer.issue(checked.public_key, serial)
        except BaseException:  # not issued (a signer failed): the key and serial may retry
            with self._lock:
                self._keys.pop(key, None)
                self._sns.pop(checked.sn, None)
            raise
        return Issued(certs.cert_der(dac), serial)
