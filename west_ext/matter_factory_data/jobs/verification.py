"""``verify``: check factory data against its credentials, verifier and onboarding codes.

Each check yields a :class:`Check`; nothing stops at the first failure, so a report
shows everything that is wrong. Secrets (passcode, key) never appear in messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..core.profile import ProfilePolicy
from ..errors import OPT, CredentialError, OnboardingError
from ..formats import nrf_cbor


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str
    skipped: bool = False  # could not be checked (not a failure, but never "passed")
    warning: bool = False  # passed only because the profile accepts it (core.profile)


@dataclass
class Expectations:
    """What the data is checked against, besides itself (all optional)."""

    dac_cert: Optional[bytes] = None
    pai_cert: Optional[bytes] = None
    paa_cert: Optional[bytes] = None
    passcode: Optional[int] = None
    codes: list[tuple[str, str]] = field(default_factory=list)  # (source, "MT:..." or digits)
    policy: Optional[ProfilePolicy] = None  # None: the development profile


def verify(device_map: dict, expect: Expectations, fmt=None, *, reading=None,
           parser_problems: Optional[list] = None) -> list[Check]:
    """Every check. ``fmt`` is the image format (default nRF CBOR), whose lint is the
    device's view and whose ``model_values`` give the values by model key; ``reading``
    (formats.nrf_cbor.ImageReading of an nRF image) adds the item-level lint, or
    ``parser_problems`` gives it already found (``nrf_cbor.lint_canonical``). No exception
    escapes: a check that cannot run is a failed check naming what could not be checked."""
    checks: list[Check] = []
    passcode: Optional[int] = None
    checks += _guarded("the device parser's view",
                       lambda: _parser_checks(device_map, reading, fmt, parser_problems))
    if fmt is not None:
        try:
            device_map = fmt.model_values(device_map)
        except Exception as exc:  # noqa: BLE001  (the boundary: data-driven checks)
            return checks + [_crashed("the image's values", exc)]
    key_optional = fmt is not None and fmt.name != "nrf-cbor"
    if fmt is not None and fmt.name == "stm32-tlv":
        checks += _guarded("the Certification Declaration", lambda: _cd_checks(device_map))
    checks += _guarded("the credentials",
                       lambda: _credential_checks(device_map, expect, key_optional))
    try:
        passcode, passcode_checks = _passcode(device_map, expect)
        checks += passcode_checks
    except Exception as exc:  # noqa: BLE001  (the boundary: data-driven checks)
        checks.append(_crashed("the passcode", exc))
    checks += _guarded("the verifier", lambda: _verifier_checks(device_map, passcode,
                                                                bool(expect.codes)))
    checks += _guarded("the onboarding codes",
                       lambda: _code_checks(device_map, expect.codes, passcode))
    if not expect.codes:
        checks.append(Check(True, f"onboarding codes not checked: none given ({OPT.qr}, "
                                  f"{OPT.manual}, {OPT.codes}, or a .txt next to the image)",
                            skipped=True))
    return checks


def _guarded(what: str, group) -> list[Check]:
    try:
        return group()
    except Exception as exc:  # noqa: BLE001  (the boundary: data-driven checks)
        return [_crashed(what, exc)]


def _crashed(what: str, exc: Exception) -> Check:
    return Check(False, f"{what} could not be checked ({type(exc).__name__}: {exc})")


def _parser_checks(device_map: dict, reading, fmt, found: Optional[list] = None
                   ) -> list[Check]:
    if found is not None:
        problems = found
    elif reading is not None and reading.is_map and (fmt is None or fmt.name == "nrf-cbor"):
        problems = nrf_cbor.lint_image(reading)
    else:
        problems = fmt.lint(device_map) if fmt is not None else nrf_cbor.lint(device_map)
    checks = [Check(False, f"device parser: {p}") for p in problems
              if p.severity == nrf_cbor.ERROR]
    return checks or [Check(True, "the device parser accepts every key and value")]


def _cd_checks(data: dict) -> list[Check]:
    """The CD the device sends (STM32 tag 1) as a commissioner reads it: readable, format 1,
    the image's vendor ID, its product ID in the list, the DAC/PAI or dac_origin
    (core.attest.cd_device_problems). Its signature needs a CD-signer store: ``attest``."""
    from ..core import certview
    from ..core.attest import cd_device_problems
    from ..errors import FactoryDataError

    if data.get("cd") is None:
        return []  # the device parser's check reports the missing record
    views: list = []
    for key in ("dac_cert", "pai_cert"):
        try:
            views.append(certview.parse_certificate(bytes(data[key]), source=key, profile=False))
        except (KeyError, FactoryDataError):
            views.append(None)  # reported by the credential checks
    problems = cd_device_problems(bytes(data["cd"]), vendor_id=data.get("vendor_id"),
                                  product_id=data.get("product_id"), dac=views[0], pai=views[1],
                                  source="CERTIFICATION_DECLARATION")
    if problems:
        return [Check(False, problem) for problem in problems]
    return [Check(True, "the Certification Declaration covers the image's vendor and product "
                        "ID and its DAC")]


def _credential_checks(data: dict, expect: Expectations, key_optional: bool = False
                       ) -> list[Check]:
    from ..core import certs

    try:
        dac = certs.load_certificate(_bytes(data, "dac_cert"), source="dac_cert")
        pai = certs.load_certificate(_bytes(data, "pai_cert"), source="pai_cert")
        key = (certs.private_key_from_scalar(_bytes(data, "dac_key"), source="dac_key")
               if "dac_key" in data or not key_optional else None)
        paa = (certs.load_certificate(expect.paa_cert, source=str(OPT.paa_cert))
               if expect.paa_cert else None)
    except CredentialError as exc:
        return [Check(False, str(exc))]
    checks = [
        _attempt("DAC key matches the DAC certificate", certs.check_key_matches_certificate,
                 key, dac, key_source="dac_key", cert_source="dac_cert") if key is not None
        else _public_key_check(data, dac),
        _attempt("DAC is signed by the PAI", certs.check_issued_by, dac, pai,
                 child_source="dac_cert", issuer_source="pai_cert"),
    ]
    if paa is not None:
        checks.append(_attempt("PAI is signed by the PAA", certs.check_issued_by, pai, paa,
                               child_source="pai_cert", issuer_source=str(OPT.paa_cert)))
    else:
        checks.append(Check(True, f"PAI not checked against a PAA: none given ({OPT.paa_cert})",
                            skipped=True))
    checks += _guarded("the attestation profile", lambda: _profile_checks(data, expect))
    checks += _id_checks(data, certs.matter_ids(dac), certs.matter_ids(pai))
    for key_name, given in (("dac_cert", expect.dac_cert), ("pai_cert", expect.pai_cert)):
        if given is not None:
            same = certs.cert_der(certs.load_certificate(given, source=str(OPT[key_name]))) == \
                certs.cert_der(dac if key_name == "dac_cert" else pai)
            checks.append(Check(same, f"{key_name} {'equals' if same else 'differs from'} "
                                f"{OPT[key_name]}"))
    return checks


def _profile_checks(data: dict, expect: Expectations) -> list[Check]:
    """The Matter attestation profile (chip-cert validate-att-cert's rules), the DAC on the
    image's manufacturing date."""
    from ..core import attestation_profile, certview

    dac = certview.parse_certificate(_bytes(data, "dac_cert"), source="dac_cert", profile=False)
    pai = certview.parse_certificate(_bytes(data, "pai_cert"), source="pai_cert", profile=False)
    paa = (certview.parse_certificate(expect.paa_cert, source=str(OPT.paa_cert), profile=False)
           if expect.paa_cert else None)
    date = data.get("date")
    date_text = date.decode("ascii", "replace") if isinstance(date, bytes) else \
        date if isinstance(date, str) else None
    violations: list = attestation_profile.chain_violations(
        dac=dac, pai=pai, paa=paa, date=date_text,
        sources={"dac": "dac_cert", "pai": "pai_cert", "paa": str(OPT.paa_cert)})
    from ..core.attest import production_findings

    policy = expect.policy or ProfilePolicy()
    errors, warnings = policy.split(
        violations + production_findings(data, source="the image", paa=expect.paa_cert,
                                         names={"dac_cert": "dac_cert", "pai_cert": "pai_cert",
                                                "paa": str(OPT.paa_cert)}))
    violations = errors + warnings
    if not violations:
        return [Check(True, "the certificates follow the Matter attestation profile"
                            + ("" if paa else f" (the PAA not checked: no {OPT.paa_cert})"))]
    return [Check(False, policy.refusal(v, rule=v.rule).render()) if v in errors
            else Check(True, policy.warning(v).render(), warning=True)
            for v in violations]


def _public_key_check(data: dict, dac) -> Check:
    """Images without the private key (STM32: the key is in the CKS or PSA ITS): the stored
    public key must be the DAC's."""
    from ..core import certs

    if "dac_pub_key" not in data:
        return Check(True, "DAC key and certificate not compared: the image holds neither the "
                           "private nor the public key (the device keeps the key in its key "
                           "storage)", skipped=True)
    ok = data["dac_pub_key"] == certs.public_key_bytes(dac)
    return Check(ok, "DAC public key " + ("matches" if ok else "does not match") +
                 " the DAC certificate (the private key is not in the image)")


def _attempt(label: str, check, *args, **kwargs) -> Check:
    try:
        check(*args, **kwargs)
    except CredentialError as exc:
        return Check(False, str(exc))
    return Check(True, label)


def _id_checks(data: dict, dac_ids: tuple, pai_ids: tuple) -> list[Check]:
    vid, pid = data.get("vendor_id"), data.get("product_id")
    pairs = [("DAC VID", dac_ids[0], "vendor_id", vid), ("DAC PID", dac_ids[1], "product_id", pid),
             ("PAI VID", pai_ids[0], "vendor_id", vid)]
    if pai_ids[1] is not None:
        pairs.append(("PAI PID", pai_ids[1], "product_id", pid))
    checks = []
    for label, in_cert, key, in_data in pairs:
        ok = in_cert is not None and in_cert == in_data
        checks.append(Check(ok, f"{label} {_hex16(in_cert)} {'equals' if ok else 'differs from'} "
                                f"{key} {_hex16(in_data)}"))
    return checks


def _passcode(data: dict, expect: Expectations) -> tuple[Optional[int], list[Check]]:
    stored = data.get("passcode")
    if stored is not None and expect.passcode is not None and stored != expect.passcode:
        return stored, [Check(False, f"the passcode in the data differs from {OPT.passcode}")]
    return (stored if stored is not None else expect.passcode), []


def _verifier_checks(data: dict, passcode: Optional[int], codes_given: bool) -> list[Check]:
    from ..core.spake2p import compute_verifier, derivation_problem

    if passcode is None:
        if codes_given:
            return []  # checked against the codes' passcode below
        return [Check(True, "spake2_verifier not checked: no passcode known (the image stores "
                            f"none; give {OPT.passcode} or an onboarding code)", skipped=True)]
    problem = derivation_problem(passcode, data.get("spake2_salt"), data.get("spake2_it"))
    if problem:
        return [Check(True, f"spake2_verifier not checked: {problem}", skipped=True)]
    derived = compute_verifier(passcode, data["spake2_salt"], data["spake2_it"])
    ok = derived == data.get("spake2_verifier")
    return [Check(ok, "spake2_verifier " + ("matches" if ok else "does not match") +
                  " the passcode, salt and iteration count")]


def _code_checks(data: dict, codes: list[tuple[str, str]], passcode: Optional[int]) -> list[Check]:
    from ..core import onboarding

    checks = []
    for source, code in codes:
        try:
            if code.strip().upper().startswith("MT:"):
                payload = onboarding.parse_qr_code(code.strip())
                checks += _qr_checks(data, source, payload, passcode)
            else:
                manual = onboarding.parse_manual_code(code)
                checks += _manual_checks(data, source, manual, passcode)
        except OnboardingError as exc:
            checks.append(Check(False, f"{source}: {exc}"))
    return checks


def _qr_checks(data: dict, source: str, payload, passcode: Optional[int]) -> list[Check]:
    checks = [_field_check(source, "vendor_id", payload.vendor_id, data.get("vendor_id")),
              _field_check(source, "product_id", payload.product_id, data.get("product_id")),
              _field_check(source, "discriminator", payload.discriminator,
                           data.get("discriminator"))]
    return checks + [_code_passcode_check(data, source, payload.passcode, passcode)]


def _manual_checks(data: dict, source: str, manual, passcode: Optional[int]) -> list[Check]:
    disc = data.get("discriminator")
    short = disc >> 8 if isinstance(disc, int) else None
    checks = [_field_check(source, "short discriminator", manual.short_discriminator, short)]
    if manual.vendor_id is not None:
        checks.append(_field_check(source, "vendor_id", manual.vendor_id, data.get("vendor_id")))
        checks.append(_field_check(source, "product_id", manual.product_id,
                                   data.get("product_id")))
    return checks + [_code_passcode_check(data, source, manual.passcode, passcode)]


def _field_check(source: str, name: str, in_code, in_data) -> Check:
    ok = in_code == in_data
    shown = "(missing)" if in_data is None else in_data
    return Check(ok, f"{source}: {name} {in_code} {'equals' if ok else 'differs from'} the "
                     f"data's {shown}")


def _code_passcode_check(data: dict, source: str, code_passcode: int,
                         known: Optional[int]) -> Check:
    """With a known passcode compare directly; otherwise derive the verifier from the code's."""
    if known is not None:
        ok = code_passcode == known
        return Check(ok, f"{source}: passcode {'matches' if ok else 'differs from'} the data's")
    from ..core.spake2p import compute_verifier, derivation_problem

    problem = derivation_problem(code_passcode, data.get("spake2_salt"), data.get("spake2_it"))
    if problem:
        return Check(True, f"{source}: passcode not checked against the verifier: {problem}",
                     skipped=True)
    derived = compute_verifier(code_passcode, data["spake2_salt"], data["spake2_it"])
    ok = derived == data.get("spake2_verifier")
    return Check(ok, f"{source}: passcode {'matches' if ok else 'does not match'} the "
                     "data's verifier")


def _bytes(data: dict, key: str) -> bytes:
    value = data.get(key)
    if not isinstance(value, bytes):
        raise CredentialError(f"key {key!r} is missing or not a byte string")
    return value


def _hex16(value) -> str:
    return f"0x{value:04X}" if isinstance(value, int) else "(none)"
