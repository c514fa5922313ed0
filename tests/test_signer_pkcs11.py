"""The signer seam with a real SoftHSM2 token: DACs (station and batch), PAIs and CDs signed
in the token, bad token inputs as one line each. The commands run as real processes (the
token's configuration is read at C_Initialize, as on a station)."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from matter_factory_data.core import cd, certs
from matter_factory_data.core.signer import parse_pkcs11_uri
from matter_factory_data.errors import CredentialError

sys.path.insert(0, str(Path(__file__).parent))
import test_provision  # noqa: E402
from softhsm import Token  # noqa: E402

VID, PID = 0xFFF1, 0x8004
boards = test_provision.boards  # boards on pseudo-terminals
SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def run(env, *args, timeout=120):
    done = subprocess.run([sys.executable, "-m", "matter_factory_data", *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    return done


def one_line(done, code, *fragments):
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def hsm(tmp_path):
    """A token holding the PAI key (pai-key), the PAA key (paa-key), a P-384 key and a key
    that is not the PAI's; the certificates in tmp_path."""
    token = Token(tmp_path / "hsm")
    paa_key, pai_key = certs.new_key(), certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="Test PAA", not_before=SINCE)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name="Test PAI", vendor_id=VID, not_before=SINCE)
    token.import_key(pai_key, "pai-key", "01")
    token.import_key(paa_key, "paa-key", "02")
    token.import_key(ec.generate_private_key(ec.SECP384R1()), "p384-key", "03")
    token.import_key(certs.new_key(), "other-key", "04")
    for name, data in (("paa.der", certs.cert_der(paa)), ("pai.der", certs.cert_der(pai))):
        (tmp_path / name).write_bytes(data)
    token.paa, token.pai = paa, pai
    return token


# --------------------------------------------------------------------------- URIs (no token)

def test_uri_parts_are_percent_decoded_and_plus_stays_a_plus():
    uri = parse_pkcs11_uri("pkcs11:token=PAI%20HSM+1;object=pai-key;id=%01%a2;type=private"
                           "?module-path=/usr/lib/x.so&pin-source=file:/run/pin", "where")
    assert (uri.token, uri.object, uri.id, uri.module_path, uri.pin_source) == \
        ("PAI HSM+1", "pai-key", b"\x01\xa2", "/usr/lib/x.so", "/run/pin")


@pytest.mark.parametrize("text, fragment", [
    ("pkcs11:token=t;object=k?pin-value=1234", "pin-value is refused"),
    ("pkcs12:token=t;object=k", "does not start with pkcs11:"),
    ("pkcs11:token=t;object=k;colour=red", "unknown path attribute 'colour'"),
    ("pkcs11:object=k", "no token=LABEL"),
    ("pkcs11:token=t", "no object=LABEL"),
    ("pkcs11:token=t;object=k;type=public", "type=public cannot sign"),
    ("pkcs11:token=t;token=u;object=k", "'token' is given twice"),
    ("pkcs11:token=t;object=k?module-name=softhsm2", "module-name is not supported"),
    ("pkcs11:token=%0a;object=k", "token is empty or holds control characters"),
])
def test_bad_uris_are_refused(text, fragment):
    with pytest.raises(CredentialError) as caught:
        parse_pkcs11_uri(text, "--pai_key")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert "1234" not in str(caught.value)


# --------------------------------------------------------------------------- with a token

def test_batch_signs_every_dac_in_the_token_with_forked_workers(hsm, tmp_path):
    out = tmp_path / "lot"
    done = run(hsm.env, "batch", "-o", out, "--count", "12", "--jobs", "2", "--defaults",
               "--spake2_it", "1000", "--qr", "none", "--vendor_id", hex(VID), "--product_id",
               hex(PID),
               "--pai_cert", tmp_path / "pai.der", "--pai_key", hsm.uri("pai-key"))
    assert done.returncode == 0, done.stderr
    assert "1234" not in done.stdout + done.stderr
    with open(out / "manifest.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 12
    from matter_factory_data.formats import nrf_cbor

    serials = set()
    for row in rows:
        data = nrf_cbor.decode_image((out / row["image"]).read_bytes())
        dac = x509.load_der_x509_certificate(bytes(data["dac_cert"]))
        dac.verify_directly_issued_by(hsm.pai)  # signed by the key in the token
        assert dac.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.2"
        serials.add(dac.serial_number)
    assert len(serials) == 12
    assert not list(out.rglob("*pai*key*")) and not list(out.rglob("PAI_key*"))


def test_generate_makes_the_pai_with_the_paa_key_and_signs_the_cd_in_the_token(hsm,
                                                                                tmp_path):
    cd_cert, cd_key = cd.make_dev_signer()
    (tmp_path / "cd.der").write_bytes(certs.cert_der(cd_cert))
    hsm.import_key(cd_key, "cd-key", "05")
    out = tmp_path / "gen"
    done = run(hsm.env, "generate", "--vendor_id", hex(VID), "--product_id", hex(PID),
               "--gen_certs", "--paa_cert", tmp_path / "paa.der", "--paa_key",
               hsm.uri("paa-key"), "--cert_declaration_cert", tmp_path / "cd.der",
               "--cert_declaration_key", hsm.uri("cd-key"), "--defaults", "--spake2_it", "1000",
               "--passcode", "20202021", "--discriminator", "0xF00", "--sn", "SN1",
               "--date", "2025-01-01", "--hw_ver", "1", "--hw_ver_str", "1.0",
               "--rd_uid", "00112233445566778899aabbccddeeff", "--out", out / "fd",
               "--gen_cd")
    assert done.returncode == 0, done.stderr
    pai = x509.load_der_x509_certificate((out / "PAI_cert.der").read_bytes())
    pai.verify_directly_issued_by(hsm.paa)
    cd.verify((out / "CD.der").read_bytes(), cd_cert)


@pytest.mark.parametrize("case, fragment", [
    ("wrong-pin", "refused the PIN (wrong PIN)"),
    ("no-token", "no token token='absent'"),
    ("no-object", "no private key object='absent' in the token"),
    ("p384", "the key is on P-384 (secp384r1), not P-256"),
    ("other-key", "is not the key of the certificate"),
    ("no-module", "does not exist (from module-path)"),
    ("no-module-given", "no PKCS#11 module"),
    ("not-a-module", "cannot load the PKCS#11 module"),
    ("no-pin", "no PIN"),
    ("pin-value", "pin-value is refused"),
])
def test_bad_token_inputs_are_one_line_and_nothing_is_issued(hsm, tmp_path, case, fragment):
    env = dict(hsm.env)
    env.pop("MFD_PKCS11_PIN", None)
    env.pop("MFD_PKCS11_MODULE", None)
    uri = hsm.uri("pai-key")
    if case == "wrong-pin":
        (tmp_path / "bad-pin").write_text("9999\n")
        uri = uri.replace(str(hsm.pin_file), str(tmp_path / "bad-pin"))
    elif case == "no-token":
        uri = uri.replace("token=pai-test", "token=absent")
    elif case in ("no-object", "p384", "other-key"):
        uri = hsm.uri({"no-object": "absent", "p384": "p384-key",
                       "other-key": "other-key"}[case])
    elif case == "no-module":
        uri = uri.replace(hsm.module, str(tmp_path / "absent.so"))
    elif case == "no-module-given":
        uri = hsm.uri("pai-key", module=False)
    elif case == "not-a-module":
        (tmp_path / "junk.so").write_bytes(b"not an ELF file")
        uri = uri.replace(hsm.module, str(tmp_path / "junk.so"))
    elif case == "no-pin":
        uri = hsm.uri("pai-key", pin=False)
    elif case == "pin-value":
        uri = hsm.uri("pai-key", pin=False) + "&pin-value=1234"
    manifest = tmp_path / "m.csv"
    done = run(env, "provision", "--manifest", manifest, "--port", "/dev/null", "--pai_cert",
               tmp_path / "pai.der", "--pai_key", uri, "--vendor_id", hex(VID),
               "--product_id", hex(PID))
    line = one_line(done, 2, fragment)
    assert line.startswith("error: --pai_key: pkcs11:") or case == "pin-value", line
    assert "1234" not in line.replace(hsm.module, "") or case == "pin-value"
    assert "9999" not in line
    assert not manifest.exists()


def test_module_and_pin_from_the_environment(hsm, tmp_path):
    env = dict(hsm.env, MFD_PKCS11_MODULE=hsm.module, MFD_PKCS11_PIN="1234")
    out = tmp_path / "lot"
    done = run(env, "batch", "-o", out, "--count", "2", "--jobs", "1", "--defaults", "--spake2_it",
               "1000", "--qr", "none", "--vendor_id", hex(VID), "--product_id", hex(PID),
               "--pai_cert", tmp_path / "pai.der", "--pai_key",
               hsm.uri("pai-key", module=False, pin=False))
    assert done.returncode == 0, done.stderr
    env["MFD_PKCS11_PIN"] = "0000"
    done = run(env, "batch", "-o", tmp_path / "lot2", "--count", "2", "--defaults", "--spake2_it",
               "1000", "--qr", "none", "--vendor_id", hex(VID), "--product_id", hex(PID),
               "--pai_cert", tmp_path / "pai.der", "--pai_key",
               hsm.uri("pai-key", module=False, pin=False))
    one_line(done, 2, "refused the PIN")
    assert not (tmp_path / "lot2").exists() or not any((tmp_path / "lot2").iterdir())


def test_the_pkcs11_module_is_not_loaded_without_a_uri(tmp_path):
    key = certs.new_key()
    paa = certs.make_paa(key=key, common_name="PAA", not_before=SINCE)
    (tmp_path / "paa.der").write_bytes(certs.cert_der(paa))
    (tmp_path / "paa_key.der").write_bytes(certs.key_der(key))
    code = ("import sys\nfrom matter_factory_data.cli import main\n"
            f"rc = main(['batch', '-o', {str(tmp_path / 'lot')!r}, '--count', '2', "
            "'--defaults', '--spake2_it', '1000', '--qr', 'none', '--vendor_id', '0xFFF1', "
            "'--product_id', "
            f"'0x8004', '--paa_cert', {str(tmp_path / 'paa.der')!r}, '--paa_key', "
            f"{str(tmp_path / 'paa_key.der')!r}])\n"
            "assert rc == 0, rc\nassert 'pkcs11' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_station_issues_from_the_token_to_several_boards_at_once(hsm, tmp_path, boards):
    """Worker threads share the token (one process-wide lock): every DAC verifies."""
    team = [boards("healthy", sn=f"SN-{i}") for i in range(4)]
    manifest = tmp_path / "m.csv"
    argv = ["provision", "--manifest", manifest, "--pai_cert", tmp_path / "pai.der",
            "--pai_key", hsm.uri("pai-key"), "--vendor_id", hex(VID), "--product_id",
            hex(PID), "--timeout", "10"]
    for board in team:
        argv += ["--port", board.path]
    done = run(hsm.env, *argv)
    assert done.returncode == 0, done.stderr
    assert "1234" not in done.stdout + done.stderr
    for board in team:
        x509.load_der_x509_certificate(board.dac).verify_directly_issued_by(hsm.pai)
    with open(manifest, newline="") as stream:
        statuses = sorted(r["status"] for r in csv.DictReader(stream))
    assert statuses == ["issued"] * 4 + ["ok"] * 4


def test_a_forked_child_reconnects_to_the_token_before_signing(hsm, tmp_path):
    """after_fork() in a child: C_Finalize/C_Initialize, its own login and session (the
    parent's session is not used), and its signatures verify."""
    script = f"""
import os, sys
from cryptography import x509
from matter_factory_data.core.signer import verify_signature
from matter_factory_data.jobs import pkcs11_signer
pai = x509.load_der_x509_certificate(open({str(tmp_path / 'pai.der')!r}, 'rb').read())
signer = pkcs11_signer.open_token_signer({hsm.uri('pai-key')!r}, 'key', pai)
parent_session = next(iter(pkcs11_signer._SESSIONS.values()))
pid = os.fork()
if pid == 0:
    signer.after_fork()
    sessions = list(pkcs11_signer._SESSIONS.items())
    ok = (len(sessions) == 1 and sessions[0][0][3] == os.getpid()
          and sessions[0][1] is not parent_session
          and verify_signature(pai.public_key(), signer.sign(b'tbs'), b'tbs'))
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert verify_signature(pai.public_key(), signer.sign(b'x'), b'x')  # the parent still signs
"""
    done = subprocess.run([sys.executable, "-c", script], env=hsm.env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
