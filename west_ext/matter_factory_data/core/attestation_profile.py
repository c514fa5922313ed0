"""The Matter attestation certificate profile (Matter Core specification 6.2.2), as
connectedhomeip's ``chip-cert validate-att-cert`` applies it, for DAC, PAI and PAA.

Each rule has a short name that every message carries, so a refusal says which rule was
broken. ``chip-cert`` checks the DAC's validity against the current time; a factory tool
checks it against the manufacturing date (the DAC must be valid on the day the device is
made), and the PAI and PAA against the DAC's notBefore, as chip-cert's chain check does.
Signatures and VID/PID are checked by :func:`certview.check_attestation_chain`.
"""

from __future__ import annotations

from typing import Optional

from . import certview
from .certview import (
    ECDSA_WITH_SHA256_OID,
    KEY_USAGE_CRL_SIGN,
    KEY_USAGE_DIGITAL_SIGNATURE,
    KEY_USAGE_KEY_CERT_SIGN,
    CertView,
)

_BASIC_CONSTRAINTS = "2.5.29.19"
_KEY_USAGE = "2.5.29.15"
_SKID = "2.5.29.14"
_AKID = "2.5.29.35"

#: rule name -> what it requires (docs/options.md lists these)
RULES = {
    "x509-v3": "X.509 version 3",
    "ecdsa-with-SHA256": "signed with ecdsa-with-SHA256",
    "p256-key": "an EC P-256 (prime256v1) public key",
    "extension-once": "no extension appears more than once",
    "basic-constraints-critical": "basicConstraints present and critical",
    "dac-not-ca": "DAC: basicConstraints cA FALSE, no pathLen",
    "pai-ca-pathlen-0": "PAI: basicConstraints cA TRUE, pathLen 0",
    "paa-ca-pathlen-0-or-1": "PAA: basicConstraints cA TRUE, pathLen absent or 1",
    "key-usage-critical": "keyUsage present and critical",
    "dac-key-usage": "DAC: keyUsage exactly digitalSignature",
    "ca-key-usage": "PAI/PAA: keyUsage keyCertSign and cRLSign (digitalSignature also allowed), "
                    "nothing else",
    "skid-20-bytes": "subjectKeyIdentifier present, non-critical, 20 bytes",
    "akid-20-bytes": "authorityKeyIdentifier present (DAC, PAI), non-critical, keyIdentifier "
                     "20 bytes",
    "dac-valid-at-manufacturing-date": "DAC: valid on the manufacturing date (not expired, "
                                       "not yet valid)",
    "issuer-valid-at-dac-issuance": "PAI/PAA: valid at the DAC's notBefore",
    "paa-no-product-id": "PAA: no product ID in the subject",
    "issuer-valid-for-dac-validity": "PAI: valid when a station issues DACs from it (not "
                                     "expired, not yet valid)",
    "issuer-outlives-dacs": "PAI: valid until the notAfter of the DACs a station issues from "
                            "it",
}


class Violation:
    __slots__ = ("rule", "source", "detail")

    def __init__(self, rule: str, source: str, detail: str) -> None:
        self.rule, self.source, self.detail = rule, source, detail

    def __str__(self) -> str:
        return (f"{self.source}: {self.detail} (Matter attestation profile rule "
                f"'{self.rule}': {RULES[self.rule]})")

    def __repr__(self) -> str:
        return f"Violation({self.rule!r}, {self.source!r})"


def format_violations(cert: CertView, role: str, source: str) -> list[Violation]:
    """The per-certificate rules for ``role`` "dac", "pai" or "paa"."""
    found: list[Violation] = []

    def add(rule: str, detail: str) -> None:
        found.append(Violation(rule, source, detail))

    name = role.upper()
    if cert.version != 3:
        add("x509-v3", f"the {name} is X.509 v{cert.version}")
    if cert.signature_algorithm != ECDSA_WITH_SHA256_OID:
        add("ecdsa-with-SHA256", f"the {name} is signed with {cert.signature_algorithm}")
    if cert.public_key is None:
        add("p256-key", f"the {name} does not hold an EC P-256 public key")
    if cert.duplicated:
        add("extension-once", f"the {name} has extension(s) {', '.join(sorted(cert.duplicated))} "
                              "more than once")
        return found  # the extension values cannot be trusted
    present, critical = cert.present, cert.critical
    if _BASIC_CONSTRAINTS not in present or _BASIC_CONSTRAINTS not in critical:
        add("basic-constraints-critical", f"the {name}'s basicConstraints is "
            + ("missing" if _BASIC_CONSTRAINTS not in present else "not critical"))
    if role == "dac" and (cert.is_ca or cert.path_length is not None):
        add("dac-not-ca", f"the DAC has basicConstraints cA={str(cert.is_ca).upper()}"
            + (f", pathLen={cert.path_length}" if cert.path_length is not None else ""))
    if role == "pai" and (not cert.is_ca or cert.path_length != 0):
        add("pai-ca-pathlen-0", f"the PAI has basicConstraints cA={str(cert.is_ca).upper()}, "
            f"pathLen={'absent' if cert.path_length is None else cert.path_length}")
    if role == "paa" and (not cert.is_ca or cert.path_length not in (None, 1)):
        add("paa-ca-pathlen-0-or-1", f"the PAA has basicConstraints "
            f"cA={str(cert.is_ca).upper()}, pathLen={cert.path_length}")
    if _KEY_USAGE not in present or _KEY_USAGE not in critical:
        add("key-usage-critical", f"the {name}'s keyUsage is "
            + ("missing" if _KEY_USAGE not in present else "not critical"))
    usage = cert.key_usage or 0
    ca_bits = KEY_USAGE_KEY_CERT_SIGN | KEY_USAGE_CRL_SIGN
    if _KEY_USAGE in present:
        if role == "dac" and usage != KEY_USAGE_DIGITAL_SIGNATURE:
            add("dac-key-usage", f"the DAC's keyUsage is {_usage_names(usage)}")
        if role != "dac" and ((usage & ca_bits) != ca_bits
                              or usage & ~(ca_bits | KEY_USAGE_DIGITAL_SIGNATURE)):
            add("ca-key-usage", f"the {name}'s keyUsage is {_usage_names(usage)}")
    if _SKID not in present or _SKID in critical or len(cert.subject_key_id or b"") != 20:
        add("skid-20-bytes", f"the {name}'s subjectKeyIdentifier is "
            + _id_state(_SKID, cert.subject_key_id, present, critical))
    if (role != "paa" or _AKID in present) and (
            _AKID not in present or _AKID in critical or len(cert.authority_key_id or b"") != 20):
        add("akid-20-bytes", f"the {name}'s authorityKeyIdentifier is "
            + _id_state(_AKID, cert.authority_key_id, present, critical))
    if role == "paa":
        try:
            _, pid = certview.matter_ids(cert, source=source)
        except Exception:  # noqa: BLE001  (a malformed ID is reported by the VID/PID check)
            pid = None
        if pid is not None:
            add("paa-no-product-id", f"the PAA carries product ID 0x{pid:04X}")
    return found


def _usage_names(usage: int) -> str:
    names = ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
             "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"]
    chosen = [n for i, n in enumerate(names) if usage & (1 << i)]
    return " + ".join(chosen) if chosen else "empty"


def _id_state(oid: str, value: Optional[bytes], present: frozenset, critical: frozenset) -> str:
    if oid not in present:
        return "missing"
    if oid in critical:
        return "marked critical"
    if value is None:
        return "without a keyIdentifier"
    return f"{len(value)} bytes, not 20"


def _day(date: str) -> str:
    return date.replace("-", "")


def _when(stamp: str) -> str:
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"


def validity_violations(dac: CertView, date: Optional[str], source: str, *,
                        pai: Optional[CertView] = None, pai_source: str = "the PAI",
                        paa: Optional[CertView] = None, paa_source: str = "the PAA"
                        ) -> list[Violation]:
    """The DAC on the manufacturing date ``YYYY-MM-DD``; the PAI and PAA at the DAC's
    notBefore."""
    found = []
    if date and len(date) == 10:
        day = _day(date)
        if dac.not_before > day + "235959":
            found.append(Violation("dac-valid-at-manufacturing-date", source,
                                   f"the DAC is not yet valid on the manufacturing date {date} "
                                   f"(notBefore {_when(dac.not_before)})"))
        elif dac.not_after < day + "000000":
            found.append(Violation("dac-valid-at-manufacturing-date", source,
                                   f"the DAC has expired by the manufacturing date {date} "
                                   f"(notAfter {_when(dac.not_after)})"))
    for issuer, issuer_source, name in ((pai, pai_source, "PAI"), (paa, paa_source, "PAA")):
        if issuer is not None and not issuer.not_before <= dac.not_before <= issuer.not_after:
            found.append(Violation("issuer-valid-at-dac-issuance", issuer_source,
                                   f"the {name} (valid {_when(issuer.not_before)} .. "
                                   f"{_when(issuer.not_after)}) is not valid at the DAC's "
                                   f"notBefore {_when(dac.not_before)}"))
    return found


def issuer_validity_violations(issuer: CertView, source: str, *, start: str, end: str,
                               name: str = "PAI") -> list[Violation]:
    """The issuer must be valid for every moment of a DAC valid ``start`` .. ``end``
    (``YYYYMMDDHHMMSS``, UTC): not yet valid, expired, or ending before the DACs do."""
    span = f"valid {_when(issuer.not_before)} .. {_when(issuer.not_after)}"
    if issuer.not_before > start:
        detail = f"the {name} is not yet valid ({span}; the DACs are issued from {_when(start)})"
    elif issuer.not_after < start:
        detail = f"the {name} has expired ({span})"
    elif issuer.not_after < end:
        until = "9999-12-31 (no well-defined expiry)" if end.startswith("9999") else _when(end)
        return [Violation("issuer-outlives-dacs", source,
                          f"the {name} ends before the DACs issued from it ({span}; the DACs "
                          f"are valid until {until}): use a {name} valid until then")]
    else:
        return []
    return [Violation("issuer-valid-for-dac-validity", source, detail)]


def chain_violations(*, dac: Optional[CertView], pai: Optional[CertView],
                     paa: Optional[CertView] = None, date: Optional[str] = None,
                     sources: Optional[dict] = None) -> list[Violation]:
    """Every profile rule over the certificates given (any may be None)."""
    sources = sources or {}
    found: list[Violation] = []
    for role, cert in (("dac", dac), ("pai", pai), ("paa", paa)):
        if cert is not None:
            found += format_violations(cert, role, sources.get(role, f"the {role.upper()}"))
    if dac is not None:
        found += validity_violations(dac, date, sources.get("dac", "the DAC"), pai=pai,
                                     pai_source=sources.get("pai", "the PAI"), paa=paa,
                                     paa_source=sources.get("paa", "the PAA"))
    return found


def enforce(violations: list[Violation], policy) -> list:
    """Apply ``policy`` (:class:`.profile.ProfilePolicy`): raise CredentialError for the
    first violation it refuses (naming how many more), else return the warnings
    (:class:`~matter_factory_data.errors.Message`)."""
    return policy.apply(violations)
