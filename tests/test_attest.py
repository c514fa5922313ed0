"""`matter-factory-data attest IMAGE|LOT --paa-store DIR [--cd-store DIR]`, as a line runs it:
a PKI the tests make (a production VID 0x1234 and the test VID 0xFFF1), a CD signer the tests
make, and connectedhomeip's published Matter Test PAA FFF1 (tests/data/connectedhomeip)."""

import datetime as dt
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "connectedhomeip"
PAST = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


class Pki:
    """A PAA (in a trust-store directory) and a CD signer (in a CD-signer store)."""

    def __init__(self, root: Path, *, vendor_id=None, name="Acme") -> None:
        from matter_factory_data.core import cd, certs

        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        key = certs.new_key()
        self.paa = certs.make_paa(key=key, common_name=f"{name} PAA", vendor_id=vendor_id,
                                  not_before=PAST)
        (root / "paa.der").write_bytes(certs.cert_der(self.paa))
        (root / "paa_key.der").write_bytes(certs.key_der(key))
        self.store = root / "paa-store"
        self.store.mkdir()
        (self.store / "paa.pem").write_bytes(certs.cert_pem(self.paa))
        self.signer, self.signer_key = cd.make_dev_signer()
        (root / "cd_cert.der").write_bytes(certs.cert_der(self.signer))
        (root / "cd_key.der").write_bytes(certs.key_der(self.signer_key))
        self.cd_store = root / "cd-store"
        self.cd_store.mkdir()
        (self.cd_store / "signer.der").write_bytes(certs.cert_der(self.signer))

    def issuer_args(self):
        return ("--paa_cert", self.root / "paa.der", "--paa_key", self.root / "paa_key.der")

    def cd_args(self):
        return ("--gen_cd", "--cert_declaration_cert", self.root / "cd_cert.der",
                "--cert_declaration_key", self.root / "cd_key.der")

    def sign_cd(self, path: Path, **fields) -> Path:
        from matter_factory_data.core import cd

        path.write_bytes(cd.sign(cd.CertificationDeclaration(**fields),
                                 signing_key=self.signer_key, signing_cert=self.signer))
        return path


def generate(cli, out: Path, pki: Pki, *extra, vendor_id="0x1234", product_id="0x8001"):
    result = cli("generate", "--defaults", "-o", out, "--vendor_id", vendor_id,
                 "--product_id", product_id, "--date", "2024-01-01", *pki.issuer_args(),
                 *pki.cd_args(), *extra)
    assert result.code == 0, result
    return out


def fails(result, *fragments):
    assert result.code == 1, result
    assert "Traceback" not in result.out + result.err
    for fragment in fragments:
        assert fragment in result.out, (fragment, result.out)
    assert "attestation fails" in result.err or "fail attestation" in result.err


@pytest.fixture
def acme(tmp_path):
    return Pki(tmp_path / "acme")


def test_a_production_pki_device_attests_with_its_cd(cli, tmp_path, acme):
    out = generate(cli, tmp_path / "out" / "fd", acme)
    cd = tmp_path / "out" / "CD.der"
    for image in ("fd.bin", "fd.hex", "fd.json"):
        result = cli("attest", tmp_path / "out" / image, "--paa-store", acme.store,
                     "--cd-store", acme.cd_store, "--cd", cd)
        assert result.code == 0, result
        assert f"{out.parent / image}: attestation passes" in result.out
        assert "FAIL" not in result.out


def test_a_pai_from_another_paa_is_refused(cli, tmp_path, acme):
    generate(cli, tmp_path / "out" / "fd", acme)
    other = Pki(tmp_path / "other", name="Other")
    result = cli("attest", tmp_path / "out" / "fd.bin", "--paa-store", other.store)
    fails(result, "no PAA in the trust store issued the PAI")


def test_a_paa_with_the_same_name_and_key_id_but_another_key_is_refused(cli, tmp_path, acme):
    """Found by subject and SKID, then the signature is verified."""
    from matter_factory_data.core import certs

    generate(cli, tmp_path / "out" / "fd", acme)
    forged_store = tmp_path / "forged"
    forged_store.mkdir()
    # same subject, another key, and the SKID copied from the real PAA
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = certs.new_key()
    real = acme.paa
    skid = real.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    forged = (x509.CertificateBuilder().subject_name(real.subject).issuer_name(real.subject)
              .public_key(key.public_key()).serial_number(7)
              .not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
              .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                           False), critical=True)
              .add_extension(skid, critical=False)
              .sign(key, hashes.SHA256()))
    (forged_store / "paa.der").write_bytes(certs.cert_der(forged))
    result = cli("attest", tmp_path / "out" / "fd.bin", "--paa-store", forged_store)
    fails(result, "was not signed by the key of")


def test_the_cd_must_cover_the_device_and_be_signed_by_the_store(cli, tmp_path, acme):
    generate(cli, tmp_path / "out" / "fd", acme)
    image = tmp_path / "out" / "fd.bin"
    other_pid = acme.sign_cd(tmp_path / "pid.der", vendor_id=0x1234, product_ids=(0x8005,))
    fails(cli("attest", image, "--paa-store", acme.store, "--cd-store", acme.cd_store,
              "--cd", other_pid),
          "covers product ID(s) 0x8005 but not the device's 0x8001",
          "the DAC's product ID 0x8001 is not in the CD's product_id_array")
    other_vid = acme.sign_cd(tmp_path / "vid.der", vendor_id=0x1235, product_ids=(0x8001,))
    fails(cli("attest", image, "--paa-store", acme.store, "--cd", other_vid),
          "is for vendor ID 0x1235 but the device's vendor ID is 0x1234")
    stranger = Pki(tmp_path / "stranger", name="Stranger")
    foreign = stranger.sign_cd(tmp_path / "foreign.der", vendor_id=0x1234,
                               product_ids=(0x8001,))
    fails(cli("attest", image, "--paa-store", acme.store, "--cd-store", acme.cd_store,
              "--cd", foreign), "which is not in the CD-signer store")
    version = acme.sign_cd(tmp_path / "v2.der", vendor_id=0x1234, product_ids=(0x8001,),
                           format_version=2)
    fails(cli("attest", image, "--paa-store", acme.store, "--cd", version),
          "has format_version 2; commissioners accept only 1")


def test_dac_origin_and_authorized_paa_list(cli, tmp_path, acme):
    from matter_factory_data.core import certs

    generate(cli, tmp_path / "out" / "fd", acme)
    image = tmp_path / "out" / "fd.bin"
    # the CD of another vendor's product, with the DAC from 0x1234's PKI as its origin
    origin = acme.sign_cd(tmp_path / "origin.der", vendor_id=0x1234, product_ids=(0x8001,),
                          dac_origin_vendor_id=0x1234, dac_origin_product_id=0x8001)
    assert cli("attest", image, "--paa-store", acme.store, "--cd-store", acme.cd_store,
               "--cd", origin).code == 0
    wrong_origin = acme.sign_cd(tmp_path / "origin2.der", vendor_id=0x1234,
                                product_ids=(0x8001,), dac_origin_vendor_id=0x1234,
                                dac_origin_product_id=0x8002)
    fails(cli("attest", image, "--paa-store", acme.store, "--cd", wrong_origin),
          "is not the CD's dac_origin 0x1234/0x8002")
    skid = certs.subject_key_id(acme.paa)
    listed = acme.sign_cd(tmp_path / "listed.der", vendor_id=0x1234, product_ids=(0x8001,),
                          authorized_paa_list=(skid,))
    assert cli("attest", image, "--paa-store", acme.store, "--cd", listed).code == 0
    unlisted = acme.sign_cd(tmp_path / "unlisted.der", vendor_id=0x1234, product_ids=(0x8001,),
                            authorized_paa_list=(b"\x01" * 20,))
    fails(cli("attest", image, "--paa-store", acme.store, "--cd", unlisted),
          "is not in the CD's authorized_paa_list")


def test_the_dac_is_checked_at_the_commissioning_time(cli, tmp_path, acme):
    generate(cli, tmp_path / "out" / "fd", acme)
    image = tmp_path / "out" / "fd.bin"
    fails(cli("attest", image, "--paa-store", acme.store, "--at", "2023-12-31"),
          "the DAC is not yet valid at 2023-12-31 (notBefore 2024-01-01)")
    assert cli("attest", image, "--paa-store", acme.store, "--at", "2024-01-02").code == 0


def test_an_stm32_image_is_detected_and_its_cd_checked(cli, tmp_path, acme):
    out = tmp_path / "st" / "fd"
    result = cli("generate", "--defaults", "--format", "stm32-tlv", "-o", out,
                 "--vendor_id", "0x1234", "--product_id", "0x8004", "--date", "2024-01-01",
                 *acme.issuer_args(), *acme.cd_args())
    assert result.code == 0, result
    ok = cli("attest", f"{out}.bin", "--paa-store", acme.store, "--cd-store", acme.cd_store)
    assert ok.code == 0, ok
    assert "no Certification Declaration" not in ok.out
    st_json = cli("attest", f"{out}.json", "--paa-store", acme.store, "--cd-store",
                  acme.cd_store)
    assert st_json.code == 0, st_json  # ST's JSON form, told from its keys
    other = Pki(tmp_path / "other", name="Other")
    fails(cli("attest", f"{out}.bin", "--paa-store", acme.store, "--cd-store", other.cd_store),
          "which is not in the CD-signer store")


def test_a_lot_is_attested_device_by_device(cli, tmp_path, acme):
    lot = tmp_path / "lot"
    result = cli("batch", "-o", lot, "--count", "3", "--spake2_it", "1000", "--defaults",
                 "--qr", "none", "--vendor_id", "0x1234", "--product_id", "0x8001",
                 "--date", "2024-01-01", *acme.issuer_args(), *acme.cd_args())
    assert result.code == 0, result
    ok = cli("attest", lot, "--paa-store", acme.store, "--cd-store", acme.cd_store)
    assert ok.code == 0, ok
    assert f"{lot}: all 3 devices pass attestation" in ok.out
    # one device whose image another PKI made: only that device fails, in 1 or 2 workers
    other = Pki(tmp_path / "other", name="Other")
    generate(cli, tmp_path / "o" / "fd", other)
    import csv

    with open(lot / "manifest.csv", newline="") as stream:
        second = list(csv.DictReader(stream))[1]
    (lot / second["image"]).write_bytes((tmp_path / "o" / "fd.bin").read_bytes())
    for jobs in ("1", "2"):
        one = cli("attest", lot, "--paa-store", acme.store, "--cd-store", acme.cd_store,
                  "--jobs", jobs)
        fails(one, "FAIL  device 2: no PAA in the trust store issued the PAI")
        assert "device 1:" not in one.out and "device 3:" not in one.out
        assert "1 of 3 devices fail attestation" in one.err
        # the in-process run leaves Ctrl-C alone (programs started later inherit an ignore)
        import signal

        assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    bad = cli("attest", lot, "--paa-store", other.store)
    fails(bad, "device 1: no PAA in the trust store", "device 3: no PAA in the trust store")
    assert "device 2:" not in bad.out  # made by the other PKI: that store trusts it
    assert "2 of 3 devices fail attestation" in bad.err


@pytest.mark.parametrize("args, fragment", [
    (("--paa-store", "missing"), "missing: not a directory"),
    (("--paa-store", "empty"), "no certificate"),
    (("--paa-store", "junk"), "is not a readable X.509 certificate"),
    (("--paa-store", "store", "--at", "yesterday"), "--at: 'yesterday' is not a date"),
])
def test_bad_input_is_exit_2(cli, tmp_path, acme, args, fragment):
    generate(cli, tmp_path / "out" / "fd", acme)
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.pem").write_text("not a certificate")
    args = [str(acme.store) if a == "store" else str(tmp_path / a)
            if a in ("missing", "empty", "junk") else a for a in args]
    result = cli("attest", tmp_path / "out" / "fd.bin", *args)
    assert result.code == 2, result
    assert fragment in result.err
    assert result.err.startswith("error: --paa-store " if "store" in fragment or
                                 "certificate" in fragment or "directory" in fragment
                                 else "error: --at")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_an_image_of_neither_format_is_bad_input(cli, tmp_path, acme):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x01\x02\x03\x04" * 8)
    result = cli("attest", junk, "--paa-store", acme.store)
    assert result.code == 2, result
    assert "cannot tell the format" in result.err and "Traceback" not in result.err
    assert cli("attest", tmp_path / "none.bin", "--paa-store", acme.store).code == 2


def test_test_vendor_material_attests_only_with_a_store_that_trusts_it(cli, tmp_path):
    """A commissioner's store decides: a test-VID PKI attests against its own PAA."""
    test = Pki(tmp_path / "test", vendor_id=0xFFF1, name="Test")
    generate(cli, tmp_path / "out" / "fd", test, vendor_id="0xFFF1", product_id="0x8000")
    assert cli("attest", tmp_path / "out" / "fd.bin", "--paa-store", test.store,
               "--cd-store", test.cd_store, "--cd", tmp_path / "out" / "CD.der").code == 0
    acme = Pki(tmp_path / "acme")
    fails(cli("attest", tmp_path / "out" / "fd.bin", "--paa-store", acme.store),
          "no PAA in the trust store")


def test_connectedhomeip_published_test_paa(cli, tmp_path):
    """A chain issued under connectedhomeip's published Matter Test PAA FFF1 (its real
    certificate text) attests against a store holding that certificate, with a CD signed by
    the published test CD signing key."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "Chip-Test-PAA-FFF1-Cert.pem").write_bytes(
        (DATA / "Chip-Test-PAA-FFF1-Cert.pem").read_bytes())
    cd_store = tmp_path / "cds"
    cd_store.mkdir()
    (cd_store / "cd.pem").write_bytes((DATA / "Chip-Test-CD-Signing-Cert.pem").read_bytes())
    out = tmp_path / "out" / "fd"
    result = cli("generate", "--defaults", "-o", out, "--vendor_id", "0xFFF1",
                 "--product_id", "0x8000", "--date", "2024-01-01",
                 "--paa_cert", DATA / "Chip-Test-PAA-FFF1-Cert.pem",
                 "--paa_key", DATA / "Chip-Test-PAA-FFF1-Key.pem", "--gen_cd", "--cd_type", "0",
                 "--cert_declaration_cert", DATA / "Chip-Test-CD-Signing-Cert.pem",
                 "--cert_declaration_key", DATA / "Chip-Test-CD-Signing-Key.pem")
    assert result.code == 0, result
    ok = cli("attest", f"{out}.bin", "--paa-store", store, "--cd-store", cd_store,
             "--cd", tmp_path / "out" / "CD.der", "--at", "2030-01-01")
    assert ok.code == 0, ok
    other = Pki(tmp_path / "other", name="Other")
    fails(cli("attest", f"{out}.bin", "--paa-store", store, "--cd-store", other.cd_store,
              "--cd", tmp_path / "out" / "CD.der"),
          "signed by key identifier 62FA823359ACFAA9963E1CFA140ADDF504F37160, which is not in "
          "the CD-signer store")


def _lot(cli, lot, pki, count="3"):
    result = cli("batch", "-o", lot, "--count", count, "--spake2_it", "1000", "--defaults",
                 "--qr", "none", "--vendor_id", "0x1234", "--product_id", "0x8001",
                 "--date", "2024-01-01", *pki.issuer_args(), *pki.cd_args())
    assert result.code == 0, result
    return lot


def _export(cli, url):
    import json

    result = cli("ledger", "export", "--ledger", url, "--format", "json")
    assert result.code == 0, result
    return json.loads(result.out)


def test_attest_reports_every_device_to_the_ledger(cli, tmp_path, acme):
    import csv

    lot = _lot(cli, tmp_path / "lot", acme)
    url = f"sqlite:///{lot / 'ledger.db'}"
    before = {r["dac_serial"]: r for r in _export(cli, url)}
    assert all(r["attest"] is None and r["attested_at"] is None for r in before.values())
    ok = cli("attest", lot, "--paa-store", acme.store, "--cd-store", acme.cd_store,
             "--ledger", url, "--station", "line-7")
    assert ok.code == 0, ok
    rows = _export(cli, url)
    assert len(rows) == 3
    for row in rows:
        assert row["attest"] == "pass" and row["attested_at"], row
        assert row["attest_station"] == "line-7"
        assert row["state"] == before[row["dac_serial"]]["state"]  # state left alone
    # a device whose image another PKI made: the ledger does not know its DAC (exit 1, one
    # line); a store that trusts none: every known device is recorded "fail: <reason>"
    other = Pki(tmp_path / "other", name="Other")
    generate(cli, tmp_path / "o" / "fd", other)
    with open(lot / "manifest.csv", newline="") as stream:
        second = list(csv.DictReader(stream))[1]
    (lot / second["image"]).write_bytes((tmp_path / "o" / "fd.bin").read_bytes())
    for jobs in ("1", "2"):
        bad = cli("attest", lot, "--paa-store", acme.store, "--ledger", url, "--jobs", jobs)
        assert bad.code == 1, bad
        unknown = [line for line in bad.out.splitlines() if "not in the ledger" in line]
        assert len(unknown) == 1 and unknown[0].startswith("FAIL  device 2: "), bad.out
    third = cli("attest", lot, "--paa-store", other.store, "--ledger", url)
    assert third.code == 1 and "Traceback" not in third.err, third
    results = {r["dac_serial"]: r["attest"] for r in _export(cli, url)}
    assert results[second["dac_serial"].lower()] == "pass"  # its row: last attested as good
    failed = [v for k, v in results.items() if k != second["dac_serial"].lower()]
    assert len(failed) == 2 and all(v.startswith("fail: no PAA in the trust store") and
                                    "\n" not in v for v in failed), results
    csv_out = cli("ledger", "export", "--ledger", url, "--format", "csv")
    assert csv_out.code == 0 and "attest,attested_at,attest_station" in csv_out.out


def test_attest_an_image_against_a_ledger_that_does_not_know_it(cli, tmp_path, acme):
    lot = _lot(cli, tmp_path / "lot", acme, count="1")
    generate(cli, tmp_path / "out" / "fd", acme)
    result = cli("attest", tmp_path / "out" / "fd.bin", "--paa-store", acme.store,
                 "--ledger", f"sqlite:///{lot / 'ledger.db'}")
    assert result.code == 1, result
    assert "not in the ledger" in result.out and "1 device(s) not in the ledger" in result.err


@pytest.mark.parametrize("url, fragment", [
    ("http://nowhere", "--ledger"),
    ("sqlite:///MISSING", "no such ledger"),
])
def test_a_bad_ledger_url_is_exit_2_before_anything(cli, tmp_path, acme, url, fragment):
    generate(cli, tmp_path / "out" / "fd", acme)
    url = url.replace("MISSING", str(tmp_path / "none.db"))
    result = cli("attest", tmp_path / "out" / "fd.bin", "--paa-store", acme.store,
                 "--ledger", url)
    assert result.code == 2, result
    assert fragment in result.err and result.err.count("\n") == 1, result.err
    assert "attestation" not in result.out
    assert not (tmp_path / "none.db").exists()
