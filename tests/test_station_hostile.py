"""The station under attack: hostile boards on pseudo-terminals (cloned keys, replayed CSRs,
forged serial numbers, SHA-224 CSRs, disconnects), a PAI it must refuse, a manifest that
cannot be written, and SIGTERM/SIGHUP sent to the real process mid-lot."""

from __future__ import annotations

import datetime as dt
import os
import resource
import signal
import subprocess
import sys
import time

import pytest
import test_provision
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_provision import PID, VID, all_rows, provision, rows

from matter_factory_data.core import certs

boards, pai = test_provision.boards, test_provision.pai  # the boards on pseudo-terminals
HEADER = "time,port,protocol,sn,dac_serial,status,code,error\n"


def station(pai_dir, manifest, ports, *extra, timeout="1.5", **popen):
    args = [sys.executable, "-m", "matter_factory_data", "provision", "--manifest",
            str(manifest), "--pai_cert", str(pai_dir / "pai.der"), "--pai_key",
            str(pai_dir / "pai_key.der"), "--vendor_id", hex(VID), "--product_id", hex(PID),
            "--timeout", timeout, *extra]
    for port in ports:
        args += ["--port", port]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **popen)


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --------------------------------------------------------------------------- device text

def test_a_forged_serial_number_never_reaches_the_terminal_or_the_manifest_raw(
        cli, boards, pai, tmp_path):
    board = boards("healthy", sn="=1+1\x1b[2J\nFORGED-SN: ok")
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 1
    shown = result.out + result.err
    assert "\x1b" not in shown and "\nFORGED" not in shown
    assert "serialNumber contains a control character (U+001B, ESC)" in result.err
    assert result.err.count("\n") == 1
    raw = (tmp_path / "m.csv").read_text()
    assert "\x1b" not in raw and raw.count("\n") == 2  # header + one row
    [row] = rows(tmp_path / "m.csv")
    assert row["status"] == "failed" and "control character (U+001B, ESC)" in row["error"]
    assert "DAC" not in board.received


def test_a_formula_serial_number_is_stored_formula_safe(cli, boards, pai, tmp_path):
    board = boards("healthy", sn="=1+1")
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 0, result.err
    [row] = rows(tmp_path / "m.csv")
    assert row["sn"] == "'=1+1"
    assert all(not value.startswith(("=", "+", "-", "@")) for r in all_rows(tmp_path / "m.csv")
               for value in r.values())


def test_a_csr_signed_with_sha224_is_refused(cli, boards, pai, tmp_path):
    board = boards("sha224")
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 1
    assert "CSR refused: signed with ecdsa-with-SHA224 (1.2.840.10045.4.3.1); accepted: " \
           "ecdsa-with-SHA256" in result.err
    assert "DAC" not in board.received


# --------------------------------------------------------------------------- clones

def test_a_cloned_key_or_a_replayed_csr_gets_no_second_dac(cli, boards, pai, tmp_path):
    """The ledger's policy (docs/factory-line.md): a key known under another serial number
    (a clone) is refused; the same key and serial number (a replayed CSR) gets the recorded
    DAC again, byte for byte, or a refusal once it was reported ok -- never a second DAC."""
    key = ec.generate_private_key(ec.SECP256R1())
    first = boards("healthy", sn="SN-1", key=key)
    clone = boards("healthy", sn="SN-2", key=key)
    replay = boards("replay", given_csr=first.csr())
    result = provision(cli, pai, tmp_path / "m.csv", [b.path for b in (first, clone, replay)])
    assert result.code == 1
    outcome = rows(tmp_path / "m.csv")
    assert "refused: this device key already has a DAC for serial number 'SN-" in result.err
    # the first board to ask wins the key; the clone's and the replay's fate follows from it
    assert sum("DAC" in b.received for b in (first, clone)) == 1
    dacs = {b.dac for b in (first, clone, replay) if "DAC" in b.received}
    assert len(dacs) == 1  # whoever got a DAC for that key got the same one
    issued = {r["dac_serial"] for r in all_rows(tmp_path / "m.csv") if r["dac_serial"]}
    assert len(issued) == 1  # one DAC serial for that key, recorded before it was sent
    assert [r["status"] for r in outcome].count("ok") >= 1


def test_two_boards_claiming_one_serial_number_get_one_dac(cli, boards, pai, tmp_path):
    team = [boards("healthy", sn="SN-9"), boards("healthy", sn="SN-9")]
    result = provision(cli, pai, tmp_path / "m.csv", [b.path for b in team])
    assert result.code == 1
    statuses = sorted(r["status"] for r in rows(tmp_path / "m.csv"))
    assert statuses == ["failed", "ok"]
    assert "refused: serial number 'SN-9' already has a DAC for another device key" \
        in result.err
    assert sum("DAC" in b.received for b in team) == 1


def test_a_board_vanishing_after_its_dac_is_recorded(cli, boards, pai, tmp_path):
    board = boards("vanish-after-dac")
    result = provision(cli, pai, tmp_path / "m.csv", [board.path])
    assert result.code == 1
    [row] = rows(tmp_path / "m.csv")
    serial = f"{x509.load_der_x509_certificate(board.dac).serial_number:x}"
    assert row["status"] == "failed" and row["dac_serial"] == serial
    assert [r["dac_serial"] for r in all_rows(tmp_path / "m.csv")
            if r["status"] == "issued"] == [serial]


# --------------------------------------------------------------------------- the PAI

def _pai(paa, paa_key, key, *, not_before, not_after, path_length=0):
    from cryptography.x509.oid import ObjectIdentifier

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PAI"),
                         x509.NameAttribute(ObjectIdentifier("1.3.6.1.4.1.37244.2.1"),
                                            f"{VID:04X}")])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(paa.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                paa_key.public_key()), False)
            .sign(paa_key, hashes.SHA256()))


@pytest.mark.parametrize("case, fragment, production_only", [
    ("expired", "the PAI has expired (valid 2020-01-01 .. 2021-01-01)", False),
    ("not-yet-valid", "the PAI is not yet valid (valid 2090-01-01 .. 9999-12-31", False),
    ("ends-early", "the PAI ends before the DACs issued from it (valid 2020-01-01 .. "
                   "2040-01-01; the DACs are valid until 9999-12-31", True),
    ("pathlen-5", "'pai-ca-pathlen-0'", True),
])
def test_a_pai_the_station_must_refuse(cli, boards, tmp_path, case, fragment, production_only):
    utc = dt.timezone.utc
    since, forever = dt.datetime(2020, 1, 1, tzinfo=utc), certs.NO_WELL_DEFINED_EXPIRY
    windows = {"expired": (since, dt.datetime(2021, 1, 1, tzinfo=utc)),
               "not-yet-valid": (dt.datetime(2090, 1, 1, tzinfo=utc), forever),
               "ends-early": (since, dt.datetime(2040, 1, 1, tzinfo=utc)),
               "pathlen-5": (since, forever)}
    paa_key, key = certs.new_key(), certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="PAA", not_before=since)
    cert = _pai(paa, paa_key, key, not_before=windows[case][0], not_after=windows[case][1],
                path_length=5 if case == "pathlen-5" else 0)
    (tmp_path / "pai.der").write_bytes(certs.cert_der(cert))
    (tmp_path / "pai_key.der").write_bytes(certs.key_der(key))
    refused = provision(cli, tmp_path, tmp_path / "m.csv", ["/dev/null"],
                        *(["--profile", "production"] if production_only else []))
    assert refused.code == 2, refused
    assert refused.err.count("\n") == 1 and fragment in refused.err, refused.err
    assert not (tmp_path / "m.csv").exists()
    if production_only:  # the development profile (default) warns, names the rule, goes on
        board = boards("healthy", sn="SN-P")
        result = provision(cli, tmp_path, tmp_path / "m.csv", [board.path])
        assert result.code == 0, result.err
        assert result.err.startswith("warning: ") and fragment in result.err


# --------------------------------------------------------------------------- the manifest

def test_a_manifest_that_cannot_be_written_means_the_dac_is_not_sent(boards, pai, tmp_path):
    """Files may not grow past LIMIT bytes (RLIMIT_FSIZE): the ledger (made beforehand, far
    smaller) still records, the manifest -- filled with old rows to just below the limit --
    cannot take the "issued" row, so the DAC is not sent."""
    limit = 1 << 20
    ledger = f"sqlite:///{tmp_path / 'm.ledger.db'}"
    from matter_factory_data.station.ledger import open_ledger

    open_ledger(ledger).close()  # created with its schema, before the limit applies
    old_row = "2026-01-01T00:00:00+0000,/dev/ttyOLD,csr,,,failed,,no answer\n"
    filler = HEADER + old_row * ((limit - len(HEADER) - 8) // len(old_row))
    manifest = tmp_path / "m.csv"
    manifest.write_text(filler)
    board = boards("healthy", sn="SN-W")

    def small_files():  # the manifest cannot grow: every append fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = station(pai, manifest, [board.path], "--ledger", ledger, preexec_fn=small_files)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, (out, err)
    assert "Traceback" not in err and "internal error" not in err
    assert f"error: {board.path}: the DAC was not sent: it cannot be recorded" in err
    assert "the outcome row could not be written" in err
    assert "DAC" not in board.received and "ERROR" in board.received
    assert manifest.read_text() == filler


# --------------------------------------------------------------------------- signals

@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_mid_lot_records_every_board(boards, pai, tmp_path, stop):
    manifest = tmp_path / "m.csv"
    done, waiting, silent = (boards("healthy", sn="SN-D"), boards("slow-status", sn="SN-S"),
                             boards("silent"))
    process = station(pai, manifest, [b.path for b in (done, waiting, silent)], timeout="60")
    try:
        wait_for(lambda: hasattr(done, "dac") and hasattr(waiting, "dac"), 30)
        wait_for(lambda: "ok" in [r["status"] for r in rows(manifest)], 30)
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (out, err)
    assert f"stopped by {stop.name}" in err and "Traceback" not in err
    by_port = {r["port"]: r for r in rows(manifest)}
    assert by_port[done.path]["status"] == "ok"
    assert by_port[waiting.path]["status"] == "interrupted"
    serial = f"{x509.load_der_x509_certificate(waiting.dac).serial_number:x}"
    assert by_port[waiting.path]["dac_serial"] == serial  # the DAC it holds is recorded
    assert by_port[silent.path]["status"] == "interrupted"
    assert manifest.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_mid_batch_keeps_every_finished_device(tmp_path, stop):
    import csv

    out = tmp_path / "lot"
    argv = [sys.executable, "-m", "matter_factory_data", "batch", "-o", str(out), "--count",
            "400", "--jobs", "2", "--defaults", "--spake2_it", "1000", "--qr", "none"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        manifest = out / "manifest.csv"
        wait_for(lambda: manifest.exists() and manifest.read_text().count("\n") > 20, 60)
        process.send_signal(stop)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert f"stopped by {stop.name}" in err and "Traceback" not in err
    raw = manifest.read_text()
    assert raw.endswith("\n")
    made = raw.count("\n") - 1
    assert 20 <= made < 400
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open(manifest, newline="") as stream:
        indexes = [int(r["index"]) for r in csv.DictReader(stream)]
    assert sorted(indexes) == list(range(1, 401))


def test_a_signer_failing_mid_lot_is_one_row_and_no_dac(boards, pai, tmp_path):
    """A token removed mid-lot: the board gets an ERROR frame, its row says why."""
    import threading

    from matter_factory_data.core.signer import Signer
    from matter_factory_data.errors import CredentialError
    from matter_factory_data.station.provision.issuer import CsrIssuer
    from matter_factory_data.station.provision.protocol import CsrSession, Timeouts
    from matter_factory_data.station.provision.transport import SerialTransport

    cert = certs.load_certificate((pai / "pai.der").read_bytes(), source="pai")

    class Removed(Signer):
        def public_key(self):
            return cert.public_key()

        def sign(self, data):
            raise CredentialError("--pai_key: pkcs11:token=t;object=k: the token is not present")

    issuer = CsrIssuer(pai_cert=cert, pai_key=Removed(), vendor_id=VID, product_id=PID)
    board = boards("healthy", sn="SN-R")
    transport = SerialTransport(board.path)
    try:
        outcome = CsrSession(issuer, Timeouts(answer=3, csr=3, status=3))(
            transport, board.path, threading.Event())
    finally:
        transport.close()
    assert outcome.status == "failed" and outcome.dac_serial == ""
    assert outcome.error == "the DAC could not be issued (--pai_key: pkcs11:token=t;object=k: " \
                            "the token is not present)"
    wait_for(lambda: "ERROR" in board.received, 5)
    assert "DAC" not in board.received
    assert not issuer._keys and not issuer._sns  # not issued: the board may try again


def test_device_text_is_escaped_for_the_terminal_and_the_manifest(tmp_path):
    """Whatever text a session's outcome carries: one escaped line on the terminal, one
    formula-safe line in the manifest."""
    import io

    from matter_factory_data.station.provision.outcome import FAILED, Outcome
    from matter_factory_data.station.provision.station import StationManifest, _report
    from matter_factory_data.ui import UI

    hostile = "=1+1\x1b[2J\nFORGED-SN: ok"
    outcome = Outcome("/dev/ttyX", "csr", FAILED, sn=hostile, error=f"device said {hostile}")
    manifest = StationManifest(tmp_path / "m.csv")
    manifest.append(outcome)
    raw = (tmp_path / "m.csv").read_text()
    assert raw.count("\n") == 2 and "\x1b" not in raw
    [row] = all_rows(tmp_path / "m.csv")
    assert row["sn"] == "'=1+1\\x1b[2J\\nFORGED-SN: ok"
    err = io.StringIO()
    _report(UI(out=io.StringIO(), err=err), outcome)
    assert err.getvalue() == "error: /dev/ttyX: device said =1+1\\x1b[2J\\nFORGED-SN: ok\n"
