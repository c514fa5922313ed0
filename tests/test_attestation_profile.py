"""The Matter attestation certificate profile (chip-cert validate-att-cert's rules) in
generate, partition, batch, verify and provision, under the profiles (core/profile.py):
development (the default, and --allow_nonconformant_certs) accepts with a warning naming
the rule; --profile production refuses with the rule named and nothing written."""

import datetime as dt

import pytest
from conftest import snapshot
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.1")
PID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.2")
UTC = dt.timezone.utc
SINCE = dt.datetime(2020, 1, 1, tzinfo=UTC)
UNTIL = dt.datetime(2040, 1, 1, tzinfo=UTC)
DATE = "2024-06-01"


def _name(cn, vid=None, pid=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if vid is not None:
        attrs.append(x509.NameAttribute(VID_OID, f"{vid:04X}"))
    if pid is not None:
        attrs.append(x509.NameAttribute(PID_OID, f"{pid:04X}"))
    return x509.Name(attrs)


def _cert(subject, key, issuer, issuer_key, *, ca, path_length, usage, since=SINCE,
          until=UNTIL, ku_critical=True, skid=True, akid_key=None):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(since).not_valid_after(until)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), True)
               .add_extension(x509.KeyUsage(
                   digital_signature="ds" in usage, content_commitment=False,
                   key_encipherment=False, data_encipherment=False, key_agreement=False,
                   key_cert_sign="kcs" in usage, crl_sign="crl" in usage, encipher_only=False,
                   decipher_only=False), ku_critical))
    if skid:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key((akid_key or issuer_key).public_key()),
        False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_chain(directory, *, pai_path_length=0, dac_ca=False, dac_usage=("ds",),
                dac_since=SINCE, dac_until=UNTIL, dac_ku_critical=True, dac_skid=True):
    """A PAA -> PAI -> DAC chain for VID 0xFFF1 / PID 0x8000, with one knob per rule."""
    directory.mkdir(parents=True, exist_ok=True)
    paa_key, pai_key, dac_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    paa_name = _name("Test PAA")
    paa = _cert(paa_name, paa_key, paa_name, paa_key, ca=True, path_length=1,
                usage=("kcs", "crl"))
    pai_name = _name("Test PAI", 0xFFF1)
    pai = _cert(pai_name, pai_key, paa_name, paa_key, ca=True, path_length=pai_path_length,
                usage=("kcs", "crl"))
    dac = _cert(_name("Test DAC", 0xFFF1, 0x8000), dac_key, pai_name, pai_key, ca=dac_ca,
                path_length=None, usage=dac_usage, since=dac_since, until=dac_until,
                ku_critical=dac_ku_critical, skid=dac_skid)
    der = serialization.Encoding.DER
    for name, cert in (("paa", paa), ("pai", pai), ("dac", dac)):
        (directory / f"{name}.der").write_bytes(cert.public_bytes(der))
    (directory / "dac_key.der").write_bytes(dac_key.private_bytes(
        der, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (directory / "pai_key.der").write_bytes(pai_key.private_bytes(
        der, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return directory


def generate_args(pki, out):
    return ["generate", "--sn", "SN1", "--vendor_id", "0xFFF1", "--product_id", "0x8000",
            "--vendor_name", "V", "--product_name", "P", "--date", DATE, "--hw_ver", "1",
            "--hw_ver_str", "1", "--spake2_it", "1000", "--spake2_salt",
            "U1BBS0UyUCBLZXkgU2FsdA==", "--discriminator", "0xF00", "--passcode", "20202021",
            "--dac_cert", pki / "dac.der", "--dac_key", pki / "dac_key.der",
            "--pai_cert", pki / "pai.der", "--paa_cert", pki / "paa.der",
            "-o", out / "fd", "--offset", "0xf7000", "--size", "0x1000"]


VIOLATIONS = [
    ("pai-pathlen-1", {"pai_path_length": 1}, "--pai_cert", "pai-ca-pathlen-0",
     "the PAI has basicConstraints cA=TRUE, pathLen=1"),
    ("dac-ca", {"dac_ca": True, "dac_usage": ("ds",)}, "--dac_cert", "dac-not-ca",
     "the DAC has basicConstraints cA=TRUE"),
    ("dac-key-usage", {"dac_usage": ("ds", "kcs")}, "--dac_cert", "dac-key-usage",
     "the DAC's keyUsage is digitalSignature + keyCertSign"),
    ("dac-expired", {"dac_until": dt.datetime(2023, 1, 1, tzinfo=UTC)}, "--dac_cert",
     "dac-valid-at-manufacturing-date", "the DAC has expired by the manufacturing date "
     "2024-06-01 (notAfter 2023-01-01)"),
    ("dac-not-yet-valid", {"dac_since": dt.datetime(2025, 1, 1, tzinfo=UTC)}, "--dac_cert",
     "dac-valid-at-manufacturing-date", "the DAC is not yet valid on the manufacturing date "
     "2024-06-01 (notBefore 2025-01-01)"),
    ("ku-not-critical", {"dac_ku_critical": False}, "--dac_cert", "key-usage-critical",
     "the DAC's keyUsage is not critical"),
    ("no-skid", {"dac_skid": False}, "--dac_cert", "skid-20-bytes",
     "the DAC's subjectKeyIdentifier is missing"),
]


@pytest.mark.parametrize("knobs, option, rule, detail", [v[1:] for v in VIOLATIONS],
                         ids=[v[0] for v in VIOLATIONS])
def test_profiles_decide_a_nonconformant_chain_naming_the_rule(cli, tmp_path, knobs, option,
                                                               rule, detail):
    pki = write_chain(tmp_path / "pki", **knobs)
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    refused = cli(*generate_args(pki, out), "--profile", "production")
    assert refused.code == 2, refused
    assert refused.err.startswith(f"error: {option} {pki}/"), refused.err
    assert f"{detail} (Matter attestation profile rule '{rule}': " in refused.err
    assert "refused by --profile=production" in refused.err
    assert refused.err.count("\n") == 1 and snapshot(out) == before

    warned = cli(*generate_args(pki, out))  # the development profile, the default
    assert warned.code == 0, warned
    assert warned.err.startswith(f"warning: {option} {pki}/"), warned.err
    assert f"{detail} (Matter attestation profile rule '{rule}': " in warned.err
    assert "accepted by the development profile (--profile=production refuses it)" \
        in warned.err
    assert (out / "fd.bin").is_file()

    spelled = cli(*generate_args(pki, out), "--overwrite", "--allow_nonconformant_certs")
    assert spelled.code == 0, spelled
    assert f"rule '{rule}'" in spelled.err
    assert "(accepted: --allow_nonconformant_certs)" in spelled.err

    checked = cli("verify", out / "fd.bin", "--paa_cert", pki / "paa.der")
    assert checked.code == 0 and "warn  " in checked.out and f"rule '{rule}'" in checked.out
    strict = cli("verify", out / "fd.bin", "--paa_cert", pki / "paa.der",
                 "--profile", "production")
    assert strict.code == 1 and "FAIL  " in strict.out and f"rule '{rule}'" in strict.out

    json_in = out / "fd.json"
    warned = cli("partition", "-i", json_in, "-o", tmp_path / "p", "--offset", "0xf7000",
                 "--size", "0x1000")
    assert warned.code == 0 and f"rule '{rule}'" in warned.err, warned
    assert warned.err.startswith("warning: "), warned.err
    refused = cli("partition", "-i", json_in, "-o", tmp_path / "q", "--offset", "0xf7000",
                  "--size", "0x1000", "--profile", "production")
    assert refused.code == 2 and f"rule '{rule}'" in refused.err, refused
    assert refused.err.count("\n") == 1 and not (tmp_path / "q.bin").exists()


def test_production_with_allow_nonconformant_certs_is_refused_as_contradictory(cli, tmp_path):
    pki = write_chain(tmp_path / "pki")
    out = tmp_path / "out"
    out.mkdir()
    for command in (generate_args(pki, out),
                    ["verify", tmp_path / "missing.bin"],
                    ["partition", "-i", tmp_path / "missing.json", "-o", out / "p",
                     "--offset", "0xf7000", "--size", "0x1000"]):
        result = cli(*command, "--profile", "production", "--allow_nonconformant_certs")
        assert result.code == 2, result
        assert result.err == ("error: --profile=production and --allow_nonconformant_certs "
                              "contradict each other: the production profile refuses what the "
                              "other accepts; give one of them\n"), result.err
    assert not any(out.iterdir())


def test_an_unknown_profile_is_a_usage_error(cli, tmp_path):
    result = cli("generate", "--defaults", "-o", tmp_path / "fd", "--profile", "strict")
    assert result.code == 2 and "--profile" in result.err and "production" in result.err
    assert not any(tmp_path.iterdir())


def test_a_conformant_chain_passes_everywhere(cli, tmp_path):
    pki = write_chain(tmp_path / "pki")
    out = tmp_path / "out"
    result = cli(*generate_args(pki, out))
    assert result.code == 0 and "warning" not in result.err, result
    checked = cli("verify", out / "fd.bin", "--paa_cert", pki / "paa.der", "--passcode",
                  "20202021")
    assert checked.code == 0, checked
    assert "ok    the certificates follow the Matter attestation profile" in checked.out


def test_gen_certs_makes_a_conformant_chain_valid_on_the_manufacturing_date(cli, tmp_path):
    result = cli("generate", "--defaults", "--date", "2021-03-04", "-o", tmp_path / "fd")
    assert result.code == 0 and "warning" not in result.err, result
    checked = cli("verify", tmp_path / "fd.bin", "--paa_cert", tmp_path / "PAA_cert.der")
    assert "ok    the certificates follow the Matter attestation profile" in checked.out, checked


def test_batch_under_the_profiles_with_a_pai_with_path_length_1(cli, tmp_path):
    pki = write_chain(tmp_path / "pki", pai_path_length=1)
    out = tmp_path / "b"
    args = ["batch", "-o", out, "--count", "1", "--defaults", "--vendor_id", "0xFFF1",
            "--product_id", "0x8000", "--date", DATE, "--qr", "none",
            "--pai_cert", pki / "pai.der", "--pai_key", pki / "pai_key.der"]
    refused = cli(*args, "--profile", "production")
    assert refused.code == 2, refused
    assert "rule 'pai-ca-pathlen-0'" in refused.err and refused.err.count("\n") == 1
    assert "refused by --profile=production" in refused.err
    assert not out.exists() or not any(out.iterdir())
    made = cli(*args)
    assert made.code == 0, made
    assert "warning: --pai_cert" in made.err and "rule 'pai-ca-pathlen-0'" in made.err
    checked = cli("verify", out)
    assert checked.code == 0, checked
    strict = cli("verify", out, "--profile", "production")
    assert strict.code == 1 and "rule 'pai-ca-pathlen-0'" in strict.out, strict


def test_provision_checks_the_pai_under_the_profile(cli, tmp_path):
    pki = write_chain(tmp_path / "pki", pai_path_length=1)
    manifest = tmp_path / "station.csv"
    args = ["provision", "--port", str(tmp_path / "no-such-port"), "--manifest", manifest,
            "--pai_cert", pki / "pai.der", "--pai_key", pki / "pai_key.der",
            "--vendor_id", "0xFFF1", "--product_id", "0x8000"]
    refused = cli(*args, "--profile", "production")
    assert refused.code == 2, refused
    assert "rule 'pai-ca-pathlen-0'" in refused.err and refused.err.count("\n") == 1
    assert not manifest.exists()
    warned = cli(*args)  # goes on, then the port cannot be opened
    assert "warning: --pai_cert" in warned.err and "rule 'pai-ca-pathlen-0'" in warned.err
    assert "accepted by the development profile" in warned.err


def test_stm32_generate_and_partition_under_the_profiles(cli, tmp_path):
    pki = write_chain(tmp_path / "pki", pai_path_length=1)
    out = tmp_path / "out"
    out.mkdir()
    stm32 = ["--format", "stm32-tlv", "--board", "wba65", "--gen_cd"]
    made = cli(*generate_args(pki, out)[:-6], "-o", out / "fd", *stm32)
    assert made.code == 0, made
    assert "rule 'pai-ca-pathlen-0'" in made.err and "accepted by the development profile" \
        in made.err
    refused = cli(*generate_args(pki, out)[:-6], "-o", out / "q", *stm32,
                  "--profile", "production")
    assert refused.code == 2 and "rule 'pai-ca-pathlen-0'" in refused.err, refused
    assert not list(out.glob("q*"))
    partition = ["partition", "-i", out / "fd.json", "--format", "stm32-tlv", "--board", "wba65"]
    parted = cli(*partition, "-o", tmp_path / "p", "--profile", "production")
    assert parted.code == 2, parted
    assert "rule 'pai-ca-pathlen-0'" in parted.err and parted.err.count("\n") == 1
    assert not list(tmp_path.glob("p.*"))
    parted = cli(*partition, "-o", tmp_path / "p")
    assert parted.code == 0 and "rule 'pai-ca-pathlen-0'" in parted.err, parted
