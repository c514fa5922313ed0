"""Profiles: how strict the tool is about rules the device does not enforce.

``development`` (the default) is compatible with connectedhomeip's reference generator and
its documentation: a rule that neither the device's factory data parser nor the reference
generator enforces -- the Matter attestation profile's certificate rules
(:mod:`.attestation_profile`), the DAC's validity on the manufacturing date -- is a warning
naming the rule, and the job goes on. ``production`` makes them errors. Values the device
would reject are errors in every profile; they are not in this table.

Every place that applies such a rule (``generate``, ``partition``, ``batch``, ``verify``,
``provision``, the build step) asks one :class:`ProfilePolicy` what a finding is. A new rule
(test vendor IDs, test PAAs, ... for production) is one more row of :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from ..errors import CredentialError, InputError, Message, Subject

DEVELOPMENT = "development"
PRODUCTION = "production"
PROFILES = (DEVELOPMENT, PRODUCTION)

#: The subject that names the production profile: ``--profile=production`` on the command
#: line, ``CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y`` in a build.
PRODUCTION_SUBJECT = "profile=production"

WARNING = "warning"
ERROR = "error"
#: Not reported: development material is normal under the development profile.
OFF = "off"

#: rule id -> (severity under development, severity under production). Rules not listed are
#: errors in every profile.
RULES: dict[str, tuple[str, str]] = {
    # The Matter attestation profile (chip-cert validate-att-cert): neither the device's
    # parser nor the reference generator checks these.
    "extension-once": (WARNING, ERROR),
    "basic-constraints-critical": (WARNING, ERROR),
    "dac-not-ca": (WARNING, ERROR),
    "pai-ca-pathlen-0": (WARNING, ERROR),  # connectedhomeip's nrfconnect test PAI: pathLen 1
    "paa-ca-pathlen-0-or-1": (WARNING, ERROR),
    "key-usage-critical": (WARNING, ERROR),
    "dac-key-usage": (WARNING, ERROR),
    "ca-key-usage": (WARNING, ERROR),
    "skid-20-bytes": (WARNING, ERROR),
    "akid-20-bytes": (WARNING, ERROR),
    # A commissioner checks the DAC at commissioning time, not on the manufacturing date
    # (Nordic's documented example: DAC valid from 2022-02-05, --date 2022-02-02).
    "dac-valid-at-manufacturing-date": (WARNING, ERROR),
    "issuer-valid-at-dac-issuance": (WARNING, ERROR),
    "paa-no-product-id": (WARNING, ERROR),
    # provision: a PAI ending before its DACs (no well-defined expiry) leaves devices with a
    # chain that expires; commissioners that check the PAI's validity then refuse them.
    "issuer-outlives-dacs": (WARNING, ERROR),
    # Development and test material (core.attest.production_findings): normal in
    # development (connectedhomeip's and Nordic's documented examples use them), so not
    # reported there; production refuses them. --include_passcode keeps its own warning.
    "test-vendor-id": (OFF, ERROR),  # 0xFFF1..0xFFF4 in the image, DAC, PAI, PAA or CD
    "test-paa": (OFF, ERROR),  # connectedhomeip's published test/development roots
    "test-cd-signer": (OFF, ERROR),  # the test CD signing key, or certification_type 0
    "enable-key": (OFF, ERROR),  # the test event trigger enable key
    "passcode-stored": (OFF, ERROR),  # --include_passcode (warned about separately)
    # SPAKE2+ iteration counts below 1000 are refused under every profile (core/model.py:
    # the device and the specification's minimum), so they are not in this table.
    # Not here, so errors everywhere: issuer-valid-for-dac-validity (provision: the PAI is
    # expired or not yet valid now, when the station issues DACs).
    # Not here, so errors everywhere: x509-v3, ecdsa-with-SHA256, p256-key -- a DAC or PAI
    # breaking them fails attestation on every commissioner.
}


#: The production rules of :mod:`.attest` (its ``RULES``), named here so that a command can
#: tell that a profile reports none of them without importing that module (and its
#: certificate and CD readers); tests/test_profile.py keeps the two lists the same.
TEST_MATERIAL_RULES = ("test-vendor-id", "test-paa", "test-cd-signer", "enable-key",
                       "passcode-stored")


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class ProfilePolicy:
    """What a rule's finding is under one profile: :meth:`severity`, and :meth:`apply`
    (raise for the first error, return the warnings)."""

    __slots__ = ("name", "explicit_allow")

    def __init__(self, name: str = DEVELOPMENT, *, explicit_allow: bool = False) -> None:
        if name not in PROFILES:
            raise InputError.naming("{0}: " + _escape(repr(name)) + " is not a profile "
                                    f"(accepted: {', '.join(PROFILES)})", "profile")
        self.name = name
        self.explicit_allow = explicit_allow

    @property
    def production(self) -> bool:
        return self.name == PRODUCTION

    def severity(self, rule: str) -> str:
        development, production = RULES.get(rule, (ERROR, ERROR))
        return production if self.production else development

    def reports_any(self, rules: Iterable[str]) -> bool:
        """Whether a finding of one of ``rules`` would be reported (warning or error)."""
        return any(self.severity(rule) != OFF for rule in rules)

    def is_error(self, rule: str) -> bool:
        return self.severity(rule) == ERROR

    def warning(self, finding: object) -> Message:
        """A finding accepted under this profile, as a warning that says so."""
        spelled = " (accepted: {1})" if self.explicit_allow else ""
        subjects: tuple = ((PRODUCTION_SUBJECT, "allow_nonconformant_certs")
                           if self.explicit_allow else (PRODUCTION_SUBJECT,))
        text, named = _finding_template(finding, len(subjects))
        return Message(text + "; accepted by the development profile ({0} refuses it)"
                       + spelled, subjects + named)

    def refusal(self, finding: object, more: int = 0, rule: Optional[str] = None
                ) -> CredentialError:
        """The error for a finding this profile refuses (``rule``: its id, to say whether
        the development profile warns about it or says nothing). ``finding``: a text, or a
        finding whose ``source`` may be a :class:`~..errors.Subject` (then the message names
        it in the vocabulary of the front end that reports it: an option, a Kconfig symbol)."""
        extra = f" (and {more} more profile finding(s))" if more else ""
        if self.production:
            quiet = rule is not None and RULES.get(rule, (ERROR, ERROR))[0] == OFF
            text, named = _finding_template(finding, 1)
            return CredentialError(Message(
                text + _escape(extra) + "; refused by {0} (the development profile, the "
                "default, accepts it" + ("" if quiet else " with a warning") + ")",
                (PRODUCTION_SUBJECT, *named)))
        text, named = _finding_template(finding, 0)
        return CredentialError(Message(text + _escape(extra) + "; a device or commissioner "
                                       "refuses it, under every profile", named))

    def apply(self, findings: Iterable) -> list[Message]:
        """``findings``: objects with a ``rule`` id and a ``str()`` naming the rule (such as
        :class:`.attestation_profile.Violation`). Raises the first one this profile refuses
        (naming how many more it refuses), else returns the rest as warnings."""
        findings = list(findings)
        errors = [f for f in findings if self.is_error(f.rule)]
        if errors:
            raise self.refusal(errors[0], len(errors) - 1, errors[0].rule)
        return [self.warning(f) for f in findings if self.severity(f.rule) == WARNING]

    def split(self, findings: Iterable) -> tuple[list, list]:
        """``(errors, warnings)`` of ``findings`` under this profile (for reports that go
        on after an error, such as ``verify``)."""
        errors: list = []
        warnings: list = []
        for finding in findings:
            severity = self.severity(finding.rule)
            if severity != OFF:
                (errors if severity == ERROR else warnings).append(finding)
        return errors, warnings

    def __repr__(self) -> str:
        return f"ProfilePolicy({self.name!r})"


def _finding_template(finding: object, index: int) -> tuple[str, tuple]:
    """``(template, subjects)`` of a finding: its text, with a leading subject (a finding's
    ``source`` that is a :class:`~..errors.Subject`) as the placeholder ``{index}``."""
    text = str(finding)
    source = getattr(finding, "source", None)
    if isinstance(source, Subject) and text.startswith(f"{source}: "):
        return "{" + str(index) + "}: " + _escape(text[len(str(source)) + 2:]), (source.name,)
    return _escape(text), ()


def policy(name: Optional[str] = None, *, allow_nonconformant_certs: bool = False
           ) -> ProfilePolicy:
    """The policy of a request: ``name`` (None: development). The explicit spelling of the
    development behaviour, ``allow_nonconformant_certs``, contradicts ``production`` and is
    refused with it."""
    chosen = ProfilePolicy(name or DEVELOPMENT, explicit_allow=allow_nonconformant_certs)
    if chosen.production and allow_nonconformant_certs:
        raise InputError.naming("{0} and {1} contradict each other: the "
                                "production profile refuses what the other accepts; give "
                                "one of them", PRODUCTION_SUBJECT, "allow_nonconformant_certs")
    return chosen

