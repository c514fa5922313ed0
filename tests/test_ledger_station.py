"""`provision` on a ledger: each DAC recorded before it is sent, outcomes reported, a known
key or serial number gets its recorded DAC again or a refusal, never a second DAC; a
ledger that cannot record means no DAC and an error to the board."""

import json
import sqlite3
import threading
import time

from cryptography import x509
from test_provision import Board, boards, pai, provision, rows  # noqa: F401 (fixtures)


def ledger_rows(cli, url):
    result = cli("ledger", "export", "--ledger", url, "--format", "json")
    assert result.code == 0, result
    return json.loads(result.out)


def wait_error(board, limit=3.0):
    deadline = time.monotonic() + limit
    while not hasattr(board, "error") and time.monotonic() < deadline:
        time.sleep(0.02)
    return getattr(board, "error", None)


def test_each_dac_is_recorded_and_reported(cli, boards, pai, tmp_path):  # noqa: F811
    url = f"sqlite://{tmp_path / 'line.db'}"
    team = [boards("healthy", sn=f"SN-{i}") for i in range(3)] + [boards("failing", sn="SN-F")]
    result = provision(cli, pai, tmp_path / "m.csv", [b.path for b in team], "--ledger", url,
                       "--station", "bench-3")
    assert result.code == 1
    records = {r["sn"]: r for r in ledger_rows(cli, url)}
    assert {sn: r["state"] for sn, r in records.items()} == \
        {"SN-0": "ok", "SN-1": "ok", "SN-2": "ok", "SN-F": "failed"}
    from matter_factory_data.core import certs

    for board in team[:3]:
        record = records[board.sn]
        dac = x509.load_der_x509_certificate(board.dac)
        assert record["dac_serial"] == f"{dac.serial_number:x}"
        assert record["pubkey_sha256"] == certs.public_key_sha256(board.key)
        assert record["station"] == "bench-3" and record["reported_at"]


def test_the_station_keeps_its_own_ledger_next_to_the_manifest(cli, boards, pai, tmp_path):  # noqa: F811
    board = boards("healthy", sn="SN-1")
    assert provision(cli, pai, tmp_path / "m.csv", [board.path]).code == 0
    assert (tmp_path / "m.ledger.db").is_file()
    [record] = ledger_rows(cli, f"sqlite://{tmp_path / 'm.ledger.db'}")
    assert record["state"] == "ok"


def test_a_cloned_key_or_a_second_key_for_one_serial_is_refused(cli, boards, pai, tmp_path):  # noqa: F811
    url = f"sqlite://{tmp_path / 'line.db'}"
    first = boards("healthy", sn="SN-1")
    assert provision(cli, pai, tmp_path / "m.csv", [first.path], "--ledger", url).code == 0
    clone = Board("healthy", sn="SN-2")
    clone.key = first.key  # the same device key under another serial number
    clone.start()
    same_sn = boards("healthy", sn="SN-1")  # another key claiming SN-1
    replay = Board("healthy", sn="SN-1")
    replay.key = first.key  # the very device again, after it was reported ok
    replay.start()
    try:
        result = provision(cli, pai, tmp_path / "m.csv", [clone.path, same_sn.path,
                                                          replay.path], "--ledger", url)
        assert result.code == 1
        for board, why in ((clone, "already has a DAC for serial number 'SN-1'"),
                           (same_sn, "serial number 'SN-1' already has a DAC for another"),
                           (replay, "is already ok")):
            assert "DAC" not in board.received, board.sn
            assert why in (wait_error(board) or ""), (board.sn, board.__dict__.get("error"))
    finally:
        clone.close()
        replay.close()
    manifest = rows(tmp_path / "m.csv")
    assert [r["status"] for r in manifest] == ["ok", "failed", "failed", "failed"]
    assert all(r["dac_serial"] == "" for r in manifest[1:])
    assert len(ledger_rows(cli, url)) == 1  # never a second DAC


def test_a_board_that_failed_gets_its_recorded_dac_again(cli, boards, pai, tmp_path):  # noqa: F811
    url = f"sqlite://{tmp_path / 'line.db'}"
    failing = boards("failing", sn="SN-7")
    assert provision(cli, pai, tmp_path / "m.csv", [failing.path], "--ledger", url).code == 1
    retry = Board("healthy", sn="SN-7")
    retry.key = failing.key
    retry.start()
    try:
        assert provision(cli, pai, tmp_path / "m.csv", [retry.path], "--ledger", url).code == 0
    finally:
        retry.close()
    assert retry.dac == failing.dac  # the same certificate, not a second one
    [record] = ledger_rows(cli, url)
    assert record["state"] == "ok"
    assert [r["dac_serial"] for r in rows(tmp_path / "m.csv")] == [record["dac_serial"]] * 2


class LateBoard(Board):
    """Sends its CSR only once ``go`` is set (so the test can lock the ledger first)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.go = threading.Event()

    def _late(self):
        self.go.wait(10)
        self._healthy()


def test_a_ledger_that_cannot_record_means_no_dac_and_an_error(cli, pai, tmp_path):  # noqa: F811
    path = tmp_path / "line.db"
    url = f"sqlite://{path}?timeout=0.2"
    board = LateBoard("late", sn="SN-L")
    board.start()
    holder = None
    try:
        def lock_then_go():
            nonlocal holder
            time.sleep(0.5)  # the station has opened the ledger by now
            holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            holder.execute("BEGIN IMMEDIATE")
            board.go.set()

        threading.Thread(target=lock_then_go, daemon=True).start()
        result = provision(cli, pai, tmp_path / "m.csv", [board.path], "--ledger", url)
        told = wait_error(board)
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        board.close()
    assert result.code == 1
    assert "DAC" not in board.received
    assert "the ledger could not record the DAC" in (told or "")
    [row] = rows(tmp_path / "m.csv")
    assert row["status"] == "failed" and row["dac_serial"] == ""
    assert "locked" in row["error"] and result.err.count("\n") == 1
    assert ledger_rows(cli, f"sqlite://{path}") == []


class QuietBoard(Board):
    """Takes its DAC and PAI, then never sends its final status."""

    def _quiet(self):
        for frame in self.frames():
            if frame.kind == "HELLO" and not hasattr(self, "dac"):
                self.send("CSR", self.csr())
            elif frame.kind == "DAC":
                self.dac = frame.payload


def test_sigkill_after_dacs_were_sent_leaves_every_dac_recorded(cli, pai, tmp_path):  # noqa: F811
    import os
    import signal
    import subprocess
    import sys

    from test_batch_resume import environment

    url = f"sqlite://{tmp_path / 'line.db'}"
    team = [QuietBoard("quiet", sn=f"SN-Q{i}") for i in range(3)]
    for board in team:
        board.start()
    argv = [sys.executable, "-m", "matter_factory_data", "provision", "--manifest",
            str(tmp_path / "m.csv"), "--pai_cert", str(pai / "pai.der"), "--pai_key",
            str(pai / "pai_key.der"), "--vendor_id", "0xFFF1", "--product_id", "0x8004",
            "--timeout", "60", "--ledger", url]
    for board in team:
        argv += ["--port", board.path]
    station = subprocess.Popen(argv, start_new_session=True, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not all(hasattr(b, "dac") for b in team):
            assert time.monotonic() < deadline and station.poll() is None
            time.sleep(0.02)
        os.killpg(station.pid, signal.SIGKILL)  # the boards hold DACs, no outcome yet
        station.wait(10)
    finally:
        if station.poll() is None:
            os.killpg(station.pid, signal.SIGKILL)
        for board in team:
            board.close()
    records = {r["dac_serial"]: r for r in ledger_rows(cli, url)}
    for board in team:
        serial = f"{x509.load_der_x509_certificate(board.dac).serial_number:x}"
        assert records[serial]["sn"] == board.sn and records[serial]["state"] == "issued"
    stats = cli("ledger", "stats", "--ledger", url)
    assert "claims never reported: 3" in stats.out
