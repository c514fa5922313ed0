"""core/profile.py: the one table of what a rule's finding is under each profile."""

import pytest

from matter_factory_data.core import attest, attestation_profile
from matter_factory_data.core.profile import (
    DEVELOPMENT,
    ERROR,
    OFF,
    PRODUCTION,
    RULES,
    WARNING,
    ProfilePolicy,
    policy,
)
from matter_factory_data.errors import CredentialError, InputError


class Finding:
    def __init__(self, rule):
        self.rule = rule

    def __str__(self):
        return f"finding of {self.rule} {{not a template}}"


def test_every_rule_the_device_does_not_enforce_warns_in_development_and_refuses_in_production():
    assert set(RULES) == set(attestation_profile.RULES) - {"x509-v3", "ecdsa-with-SHA256",
                                                          "p256-key",
                                                          "issuer-valid-for-dac-validity"} \
        | set(attest.RULES)
    for rule in RULES:
        expected = OFF if rule in attest.RULES else WARNING
        assert ProfilePolicy(DEVELOPMENT).severity(rule) == expected
        assert ProfilePolicy(PRODUCTION).severity(rule) == ERROR


def test_development_material_is_silent_in_development_and_refused_in_production():
    findings = [Finding("test-vendor-id"), Finding("enable-key")]
    assert ProfilePolicy().apply(findings) == []
    assert ProfilePolicy().split(findings) == ([], [])
    with pytest.raises(CredentialError) as refused:
        ProfilePolicy(PRODUCTION).apply(findings)
    assert str(refused.value) == (
        "finding of test-vendor-id {not a template} (and 1 more profile finding(s)); refused "
        "by --profile=production (the development profile, the default, accepts it)")


@pytest.mark.parametrize("rule", ["x509-v3", "p256-key", "ecdsa-with-SHA256", "not-a-rule"])
def test_a_rule_outside_the_table_is_an_error_under_every_profile(rule):
    for name in (DEVELOPMENT, PRODUCTION):
        with pytest.raises(CredentialError):
            ProfilePolicy(name).apply([Finding(rule)])


def test_apply_returns_warnings_or_raises_the_first_refusal_counting_the_rest():
    findings = [Finding("pai-ca-pathlen-0"), Finding("dac-key-usage")]
    warnings = ProfilePolicy().apply(findings)
    assert [w.render() for w in warnings] == [
        "finding of pai-ca-pathlen-0 {not a template}; accepted by the development profile "
        "(--profile=production refuses it)",
        "finding of dac-key-usage {not a template}; accepted by the development profile "
        "(--profile=production refuses it)"]
    with pytest.raises(CredentialError) as refused:
        ProfilePolicy(PRODUCTION).apply(findings)
    assert str(refused.value) == (
        "finding of pai-ca-pathlen-0 {not a template} (and 1 more profile finding(s)); refused "
        "by --profile=production (the development profile, the default, accepts it with a "
        "warning)")
    assert refused.value.render(lambda s: f"<{s}>").endswith(
        "refused by <profile=production> (the development profile, the default, accepts it "
        "with a warning)")


def test_the_policy_of_a_request():
    assert policy(None).name == DEVELOPMENT and not policy(None).production
    assert policy("production").production
    assert policy("development", allow_nonconformant_certs=True).explicit_allow
    with pytest.raises(InputError, match="contradict"):
        policy("production", allow_nonconformant_certs=True)
    with pytest.raises(InputError, match="not a profile"):
        policy("strict")


def test_the_test_material_rules_named_in_profile_are_those_of_core_attest():
    """pipeline.production_rules skips core.attest when a profile reports none of
    TEST_MATERIAL_RULES: the list must be exactly the rules production_findings emits."""
    from matter_factory_data.core.profile import TEST_MATERIAL_RULES

    assert set(TEST_MATERIAL_RULES) == set(attest.RULES)
    assert not ProfilePolicy().reports_any(TEST_MATERIAL_RULES)
    assert ProfilePolicy(PRODUCTION).reports_any(TEST_MATERIAL_RULES)
    assert ProfilePolicy().reports_any(["test-vendor-id", "dac-not-ca"])  # a warning counts
