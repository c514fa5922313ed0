"""Device attestation as a commissioner checks it (connectedhomeip's
``DefaultDeviceAttestationVerifier``), and the production profile's rules on test material.

Pure: certificates and Certification Declarations come in as bytes, findings go out as
sentences (:func:`attest_device`) or as :class:`Finding` objects with a rule id that
:mod:`.profile` rates (:func:`production_findings`). Nothing here reads files or prints.

The commissioner's checks, in its order:

* DAC and PAI readable Matter certificates; DAC -> PAI -> a PAA of the trust store, found by
  the PAI's issuer name and authority key identifier, each signature verified;
* PAI VID = DAC VID, PAI PID (if present) = DAC PID, PAA without PID (and its VID, if
  present, the DAC's);
* the DAC valid at the commissioning time; PAI and PAA valid at the DAC's notBefore;
* the CD: its CMS signature by a key of the CD-signer store (found by subject key
  identifier), ``format_version`` 1, ``vendor_id`` = the device's vendor ID,
  ``product_id_array`` holds the device's product ID; the DAC/PAI VID = ``vendor_id`` and the
  DAC PID in the array, unless ``dac_origin_vendor_id/_product_id`` are present (then the
  DAC and PAI must carry them); ``authorized_paa_list`` (when present) holds the PAA's SKID.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Optional

from ..errors import FactoryDataError
from . import certview
from .certview import CertView

#: Matter's test vendor IDs (connectedhomeip CHIPVendorIdentifiers.hpp: TestVendor1..4).
TEST_VENDOR_IDS = range(0xFFF1, 0xFFF5)

#: Subject key identifiers of connectedhomeip's published test and development roots
#: (credentials/test/attestation, credentials/development/attestation and
#: credentials/development/paa-root-certs): a PAA with one of them, or a PAI/DAC whose
#: authority key identifier is one of them, is test material.
TEST_PAA_SKIDS = {
    bytes.fromhex("6B7A5841DE2503CE410680A4431329877A061DF0"): "Matter Test PAA FFF1",
    bytes.fromhex("E2AEC49DF9EA9F32EC2C6CE3F07B5AA4A89801EB"): "Matter Test PAA FFF2",
    bytes.fromhex("785CE705B86B8F4E6FC793AA60CB43EA696882D5"): "Matter Test PAA (no VID)",
    bytes.fromhex("FA92CF095EFA42E11430651632FEFE1B2C77A7C8"): "Matter Development PAA",
    bytes.fromhex("EF18E0ECD4660434DF0DBC911ED452169966839F"):
        "the Matter Test PAA FFF1 that issued connectedhomeip's test PAI FFF1/8000",
}

#: The key of connectedhomeip's "Matter Test CD Signing Authority"
#: (credentials/test/certification-declaration); commissioners accept it only with test
#: keys enabled.
TEST_CD_SIGNER_SKID = bytes.fromhex("62FA823359ACFAA9963E1CFA140ADDF504F37160")

#: rule id -> what it requires (docs/factory-line.md lists them). core.profile rates them:
#: not reported under development, errors under production.
RULES = {
    "test-vendor-id": "no test vendor ID (0xFFF1..0xFFF4) in the image, the DAC, PAI, PAA or "
                      "the CD",
    "test-paa": "no certificate of connectedhomeip's published test or development roots",
    "test-cd-signer": "a CD that is not signed by the test CD signing key and whose "
                      "certification_type is not 0 (development)",
    "enable-key": "no test event trigger enable key in the factory data",
    "passcode-stored": "no setup passcode stored next to the SPAKE2+ verifier",
}


class Finding:
    """A production rule broken: ``rule`` (an id of :data:`RULES`), where, what."""

    __slots__ = ("rule", "source", "detail")

    def __init__(self, rule: str, source: str, detail: str) -> None:
        self.rule, self.source, self.detail = rule, source, detail

    def __str__(self) -> str:
        return f"{self.source}: {self.detail} (production rule '{self.rule}': {RULES[self.rule]})"

    def __repr__(self) -> str:
        return f"Finding({self.rule!r}, {self.source!r})"


def _hex(value: Optional[int]) -> str:
    return "none" if value is None else f"0x{value:04X}"


def _view(der: object, source: str) -> Optional[CertView]:
    try:
        return certview.parse_certificate(bytes(der), source=source,  # type: ignore[call-overload]
                                          profile=False)
    except (FactoryDataError, TypeError):
        return None


def _ids(view: CertView, source: str) -> tuple[Optional[int], Optional[int]]:
    try:
        return certview.matter_ids(view, source=source)
    except FactoryDataError:
        return None, None


def production_findings(values: dict, *, source: str, paa: Optional[bytes] = None,
                        cd: Optional[bytes] = None, passcode_stored: Optional[bool] = None,
                        names: Optional[dict] = None) -> list[Finding]:
    """The production rules over ``values`` (model keys: ``vendor_id``, ``dac_cert``,
    ``pai_cert`` as DER, ``enable_key``, ``passcode``, ``cd``), a PAA (DER) and a CD (DER,
    else ``values['cd']``). ``passcode_stored`` overrides whether ``passcode`` is in the
    data (generate knows it before the data exists). ``names`` names the inputs in
    messages by model key (``paa`` and ``cd`` too; default ``"<source> <key>"``). Unreadable
    inputs are left to the other checks."""
    found: list[Finding] = []
    given = names or {}

    def name(key: str) -> str:
        return given.get(key, f"{source} {key}".strip())

    def add(rule: str, where: str, detail: str) -> None:
        found.append(Finding(rule, where, detail))

    vid = values.get("vendor_id")
    if isinstance(vid, int) and vid in TEST_VENDOR_IDS:
        add("test-vendor-id", name("vendor_id"), f"the vendor ID is {_hex(vid)}, a test "
            "vendor ID")
    for key, role in (("dac_cert", "DAC"), ("pai_cert", "PAI"), ("paa", "PAA")):
        der = paa if key == "paa" else values.get(key)
        if der is None:
            continue
        where = name(key) if key != "paa" else given.get("paa", "the PAA")
        view = _view(der, where)
        if view is None:
            continue
        cert_vid, _ = _ids(view, where)
        if cert_vid in TEST_VENDOR_IDS:
            add("test-vendor-id", where, f"the {role} carries test vendor ID {_hex(cert_vid)}")
        for what, key_id in (("subject", view.subject_key_id),
                             ("authority", view.authority_key_id)):
            if key_id in TEST_PAA_SKIDS and (what == "authority" or role == "PAA"):
                add("test-paa", where, f"the {role}'s {what} key identifier "
                    f"{key_id.hex().upper()} is {TEST_PAA_SKIDS[key_id]}'s "
                    "(connectedhomeip's published test root)")
                break
    enable_key = values.get("enable_key")
    if enable_key:
        add("enable-key", name("enable_key"), "the factory data holds a test event "
            "trigger enable key")
    stored = passcode_stored if passcode_stored is not None else values.get("passcode") \
        is not None
    if stored:
        add("passcode-stored", name("passcode"), "the setup passcode is stored in the "
            "factory data (Matter specification 5.1.7 forbids it in production)")
    cd = cd if cd is not None else values.get("cd")
    if cd is not None:
        found += cd_production_findings(bytes(cd), given.get("cd", f"{source} CD".strip()))
    return found


def cd_production_findings(cd_der: bytes, source: str) -> list[Finding]:
    """Test material in a CD: its signer, certification_type 0, a test vendor ID."""
    from . import cd as cdmod

    try:
        declaration, skid = cdmod.parse(cd_der, source=source)
    except FactoryDataError:
        return []
    found = []
    if skid == TEST_CD_SIGNER_SKID:
        found.append(Finding("test-cd-signer", source, "the CD is signed by the Matter Test CD "
                             f"Signing Authority (key identifier {skid.hex().upper()})"))
    elif declaration.certification_type == 0:
        found.append(Finding("test-cd-signer", source, "the CD's certification_type is 0 "
                             "(development)"))
    if declaration.vendor_id in TEST_VENDOR_IDS:
        found.append(Finding("test-vendor-id", source, "the CD is for test vendor ID "
                             f"{_hex(declaration.vendor_id)}"))
    return found


# --------------------------------------------------------------------------- the CD


def cd_device_problems(cd_der: bytes, *, vendor_id: Optional[int], product_id: Optional[int],
                       dac: Optional[CertView] = None, pai: Optional[CertView] = None,
                       paa_skid: Optional[bytes] = None, source: str = "the CD") -> list[str]:
    """What a commissioner refuses in a CD for this device (its content; the signature is
    :func:`cd_signature_problems`'): unreadable, format_version, vendor_id, product_id_array,
    dac_origin, authorized_paa_list. ``dac``/``pai``/``paa_skid`` may be None (not checked)."""
    from . import cd as cdmod

    try:
        declaration, _ = cdmod.parse(cd_der, source=source)
    except FactoryDataError as exc:
        return [str(exc)]
    problems = []
    if declaration.format_version != 1:
        problems.append(f"{source} has format_version {declaration.format_version}; "
                        "commissioners accept only 1")
    if vendor_id is not None and declaration.vendor_id != vendor_id:
        problems.append(f"{source} is for vendor ID {_hex(declaration.vendor_id)} but the "
                        f"device's vendor ID is {_hex(vendor_id)}")
    pids = declaration.product_ids
    if product_id is not None and product_id not in pids:
        problems.append(f"{source} covers product ID(s) {', '.join(map(_hex, pids))} but not "
                        f"the device's {_hex(product_id)}")
    dac_vid, dac_pid = _ids(dac, "the DAC") if dac is not None else (None, None)
    pai_vid, pai_pid = _ids(pai, "the PAI") if pai is not None else (None, None)
    origin_vid, origin_pid = declaration.dac_origin_vendor_id, declaration.dac_origin_product_id
    if origin_vid is not None:
        if dac is not None and (dac_vid != origin_vid or dac_pid != origin_pid):
            problems.append(f"the DAC ({_hex(dac_vid)}/{_hex(dac_pid)}) is not the CD's "
                            f"dac_origin {_hex(origin_vid)}/{_hex(origin_pid)}")
        if pai is not None and (pai_vid != origin_vid
                                or (pai_pid is not None and pai_pid != origin_pid)):
            problems.append(f"the PAI ({_hex(pai_vid)}/{_hex(pai_pid)}) is not the CD's "
                            f"dac_origin {_hex(origin_vid)}/{_hex(origin_pid)}")
    else:
        if dac is not None and dac_vid != declaration.vendor_id:
            problems.append(f"the DAC's vendor ID {_hex(dac_vid)} is not the CD's vendor_id "
                            f"{_hex(declaration.vendor_id)} (and the CD has no dac_origin)")
        if pai is not None and pai_vid != declaration.vendor_id:
            problems.append(f"the PAI's vendor ID {_hex(pai_vid)} is not the CD's vendor_id "
                            f"{_hex(declaration.vendor_id)} (and the CD has no dac_origin)")
        if dac is not None and dac_pid not in pids:
            problems.append(f"the DAC's product ID {_hex(dac_pid)} is not in the CD's "
                            f"product_id_array (and the CD has no dac_origin)")
    if declaration.authorized_paa_list and paa_skid is not None \
            and paa_skid not in declaration.authorized_paa_list:
        problems.append(f"the PAA (key identifier {paa_skid.hex().upper()}) is not in the "
                        "CD's authorized_paa_list")
    return problems


def cd_signature_problems(cd_der: bytes, signers: dict, *, source: str = "the CD"
                          ) -> list[str]:
    """The CD's CMS signature against ``signers`` (SKID -> (source, DER certificate))."""
    from cryptography import x509

    from . import cd as cdmod

    try:
        _, skid = cdmod.parse(cd_der, source=source)
    except FactoryDataError as exc:
        return [str(exc)]
    if skid not in signers:
        return [f"{source} is signed by key identifier {skid.hex().upper()}, which is not in "
                "the CD-signer store"]
    signer_source, der = signers[skid]
    try:
        cdmod.verify(cd_der, x509.load_der_x509_certificate(der), source=source,
                     cert_source=signer_source)
    except (FactoryDataError, ValueError) as exc:
        return [str(exc)]
    return []


# --------------------------------------------------------------------------- the chain


@dataclass
class TrustStore:
    """Certificates by subject key identifier: ``{skid: (source, CertView)}``."""

    certificates: dict = field(default_factory=dict)

    def add(self, view: CertView, source: str) -> None:
        if view.subject_key_id is not None:
            self.certificates.setdefault(view.subject_key_id, (source, view))

    def find(self, key_id: Optional[bytes], subject: bytes) -> Optional[tuple[str, CertView]]:
        found = self.certificates.get(key_id) if key_id is not None else None
        if found is not None and found[1].subject == subject:
            return found
        return None

    def __len__(self) -> int:
        return len(self.certificates)


def _stamp(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y%m%d%H%M%S")


def _when(stamp: str) -> str:
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"


def dac_serial(values: dict) -> Optional[str]:
    """The DAC's serial number as the ledger records it (lower-case hex, no leading zeros);
    None when the image holds no readable DAC."""
    from cryptography import x509

    try:
        return f"{x509.load_der_x509_certificate(bytes(values['dac_cert'])).serial_number:x}"
    except (KeyError, TypeError, ValueError):
        return None


def ledger_result(problems: list[str]) -> str:
    """What the ledger records of an attest run: ``pass`` or ``fail: <first reason>``, one
    printable line of at most 200 characters."""
    if not problems:
        return "pass"
    reason = " ".join(problems[0].split())
    reason = "".join(c if c.isprintable() else "?" for c in reason)
    text = f"fail: {reason}"
    return text if len(text) <= 200 else text[:197] + "..."


def attest_device(values: dict, *, paa_store: TrustStore, cd_signers: Optional[dict],
                  at: _dt.datetime, cd: Optional[bytes] = None) -> list[str]:
    """Every reason a commissioner refuses this device, as sentences (empty: it attests).

    ``values``: model keys ``dac_cert``, ``pai_cert`` (DER), ``vendor_id``, ``product_id``
    (the Basic Information values the device reports) and, on STM32, ``cd``; ``cd`` overrides
    (an nRF device carries its CD in the firmware). ``cd_signers``: SKID -> (source, DER);
    None: the CD's signature is not checked (its content still is)."""
    problems: list[str] = []
    try:
        dac = certview.parse_certificate(bytes(values["dac_cert"]), source="the DAC")
        pai = certview.parse_certificate(bytes(values["pai_cert"]), source="the PAI")
    except KeyError as exc:
        return [f"the image has no {exc.args[0]}"]
    except FactoryDataError as exc:
        return [str(exc)]
    dac_vid, dac_pid = _ids(dac, "the DAC")
    pai_vid, pai_pid = _ids(pai, "the PAI")
    if dac_vid is None or dac_pid is None:
        problems.append(f"the DAC carries no Matter vendor ID and product ID "
                        f"({_hex(dac_vid)}/{_hex(dac_pid)})")
    if pai_vid is None:
        problems.append("the PAI carries no Matter vendor ID")
    elif pai_vid != dac_vid:
        problems.append(f"the PAI's vendor ID {_hex(pai_vid)} is not the DAC's {_hex(dac_vid)}")
    if pai_pid is not None and pai_pid != dac_pid:
        problems.append(f"the PAI's product ID {_hex(pai_pid)} is not the DAC's {_hex(dac_pid)}")
    try:
        certview.check_issued_by(dac, pai, child_source="the DAC", issuer_source="the PAI")
    except FactoryDataError as exc:
        problems.append(str(exc))
    paa_entry = paa_store.find(pai.authority_key_id, pai.issuer)
    paa = None
    if paa_entry is None:
        key_id = pai.authority_key_id.hex().upper() if pai.authority_key_id else "none"
        problems.append(f"no PAA in the trust store issued the PAI (its authority key "
                        f"identifier is {key_id})")
    else:
        paa_source, paa = paa_entry
        try:
            certview.check_issued_by(pai, paa, child_source="the PAI", issuer_source=paa_source)
        except FactoryDataError as exc:
            problems.append(str(exc))
        paa_vid, paa_pid = _ids(paa, paa_source)
        if paa_pid is not None:
            problems.append(f"{paa_source} carries product ID {_hex(paa_pid)}; a PAA carries none")
        if paa_vid is not None and paa_vid != dac_vid:
            problems.append(f"{paa_source} is for vendor ID {_hex(paa_vid)}, not the DAC's "
                            f"{_hex(dac_vid)}")
    now = _stamp(at)
    if dac.not_before > now:
        problems.append(f"the DAC is not yet valid at {_when(now)} (notBefore "
                        f"{_when(dac.not_before)})")
    elif dac.not_after < now:
        problems.append(f"the DAC has expired at {_when(now)} (notAfter {_when(dac.not_after)})")
    for issuer, name in ((pai, "the PAI"), (paa, "the PAA")):
        if issuer is not None and not issuer.not_before <= dac.not_before <= issuer.not_after:
            problems.append(f"{name} (valid {_when(issuer.not_before)} .. "
                            f"{_when(issuer.not_after)}) is not valid at the DAC's notBefore "
                            f"{_when(dac.not_before)}")
    cd = cd if cd is not None else values.get("cd")
    if cd is None:
        vid, pid = values.get("vendor_id"), values.get("product_id")
        if vid is not None and vid != dac_vid:
            problems.append(f"the image's vendor ID {_hex(vid)} is not the DAC's "
                            f"{_hex(dac_vid)}")
        if pid is not None and pid != dac_pid:
            problems.append(f"the image's product ID {_hex(pid)} is not the DAC's "
                            f"{_hex(dac_pid)}")
        return problems
    cd = bytes(cd)
    if cd_signers is not None:
        problems += cd_signature_problems(cd, cd_signers)
    problems += [p for p in cd_device_problems(
        cd, vendor_id=values.get("vendor_id"), product_id=values.get("product_id"), dac=dac,
        pai=pai, paa_skid=paa.subject_key_id if paa is not None else None)
        if p not in problems]
    return problems
