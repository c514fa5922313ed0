"""The identity ledger through the public commands: `batch --ledger`, `ledger stats|export|
import`, on SQLite and on a private PostgreSQL server (conftest.postgres); concurrent
batches killed with SIGKILL; a PostgreSQL restart mid-batch; locked, unreachable and newer
ledgers."""

import csv
import io
import json
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from test_batch import FAST, NO_QR, manifest_rows
from test_batch_resume import environment, kill_at_row, reap, rows_written, run, start


def batch_argv(out, count, ledger=None, *extra):
    argv = [sys.executable, "-m", "matter_factory_data", "batch", "-o", str(out), "--count",
            str(count), *FAST, *NO_QR, "--jobs", "1", *extra]
    return argv + (["--ledger", ledger] if ledger else [])


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def export(cli, url, fmt="json"):
    result = cli("ledger", "export", "--ledger", url, "--format", fmt)
    assert result.code == 0, result
    if fmt == "json":
        return json.loads(result.out)
    return list(csv.DictReader(io.StringIO(result.out)))


def device_facts(out: Path) -> list:
    """(sn, dac_serial, rd_uid hex, discriminator/passcode, key sha256) of every device of a
    lot, read from its manifest and images."""
    from matter_factory_data.core import certs, onboarding
    from matter_factory_data.station.batch.device import decoded_values

    facts = []
    for row in manifest_rows(out):
        values = decoded_values((out / row["image"]).read_bytes(), row["image"])
        payload = onboarding.parse_qr_code(row["qr_payload"])
        dac = certs.load_certificate(bytes(values["dac_cert"]), source="dac")
        facts.append({"sn": row["sn"], "dac_serial": row["dac_serial"],
                      "rd_uid": bytes(values["rd_uid"]).hex(),
                      "pair": (payload.discriminator, payload.passcode),
                      "key": certs.public_key_sha256(dac)})
    return facts


def assert_recorded_and_unique(cli, url, lots):
    """Across every lot: no value twice; every device in the ledger (issued, its key)."""
    facts = [f for out in lots for f in device_facts(out)]
    for name in ("sn", "dac_serial", "rd_uid", "pair", "key"):
        values = [f[name] for f in facts]
        assert len(values) == len(set(values)), f"{name} handed out twice"
    records = {r["dac_serial"]: r for r in export(cli, url)}
    for f in facts:
        record = records[f["dac_serial"]]  # every device's DAC is in the ledger
        assert (record["sn"], record["pubkey_sha256"], record["state"]) == \
            (f["sn"], f["key"], "issued")
    return facts, records


# --------------------------------------------------------------------------- SQLite

def test_a_lot_keeps_its_own_ledger(cli, tmp_path):
    out = tmp_path / "lot"
    assert cli("batch", "-o", out, "--count", "5", *FAST, *NO_QR, "--jobs", "1").code == 0
    url = sqlite_url(out / "ledger.db")
    assert oct((out / "ledger.db").stat().st_mode & 0o777) == "0o600"
    facts, records = assert_recorded_and_unique(cli, url, [out])
    assert len(records) == 5
    stats = cli("ledger", "stats", "--ledger", url)
    assert stats.code == 0 and "issued    5" in stats.out
    assert "claims never reported: 5" in stats.out  # issued, not yet programmed


def test_two_lots_on_one_ledger_never_share_a_value(cli, tmp_path):
    url = sqlite_url(tmp_path / "line.db")
    one, two = tmp_path / "one", tmp_path / "two"
    for out in (one, two):
        assert cli("batch", "-o", out, "--count", "6", *FAST, *NO_QR, "--jobs", "1",
                   "--ledger", url, "--sn_template", f"{out.name}-{{n:04d}}").code == 0
    assert not (one / "ledger.db").exists()  # the given ledger, not the lot's own
    facts, records = assert_recorded_and_unique(cli, url, [one, two])
    assert len(records) == 12
    stats = json.loads(cli("ledger", "stats", "--ledger", url, "--format", "json").out)
    assert stats["lots"] == 2 and stats["states"]["issued"] == 12


def test_a_serial_number_claimed_by_another_lot_is_refused(cli, tmp_path):
    url = sqlite_url(tmp_path / "line.db")
    first = cli("batch", "-o", tmp_path / "a", "--count", "3", *FAST, *NO_QR, "--jobs", "1",
                "--ledger", url, "--sn_template", "SN-{n:04d}")
    assert first.code == 0
    second = cli("batch", "-o", tmp_path / "b", "--count", "3", *FAST, *NO_QR, "--jobs", "1",
                 "--ledger", url, "--sn_template", "SN-{n:04d}")
    assert second.code == 1
    assert second.err.count("\n") == 1 and "Traceback" not in second.err
    assert "device 1: its serial number (SN-0001) is already claimed" in second.err
    assert manifest_rows(tmp_path / "b") == []  # nothing issued twice
    assert len(export(cli, url)) == 3


def test_export_csv_is_formula_safe_and_import_is_idempotent(cli, tmp_path):
    from matter_factory_data.station.ledger import open_ledger
    from matter_factory_data.station.ledger.ledger import Claim, new_token

    out = tmp_path / "lot"
    assert cli("batch", "-o", out, "--count", "4", *FAST, *NO_QR, "--jobs", "1").code == 0
    url = sqlite_url(tmp_path / "central.db")
    imported = cli("ledger", "import", "--ledger", url, out)
    assert imported.code == 0 and "imported 4 device(s)" in imported.out, imported
    again = cli("ledger", "import", "--ledger", url, out)
    assert again.code == 0 and "imported 0 device(s)" in again.out and "4 already" in again.out
    assert_recorded_and_unique(cli, url, [out])
    with open_ledger(url) as ledger:  # a device-chosen serial number meant as a formula
        lot = ledger.lot("station:x", "station", "x")
        ledger.claim(lot, "x", [Claim(new_token(), None, "=HYPERLINK(1)", "abc", "00",
                                      state="issued")])
    rows = export(cli, url, "csv")
    assert len(rows) == 5
    assert [r["sn"] for r in rows if "HYPERLINK" in r["sn"]] == ["'=HYPERLINK(1)"]
    assert set(rows[0]) >= {"dac_serial", "sn", "pubkey_sha256", "pai_sha256", "station",
                            "state", "claimed_at", "issued_at", "reported_at"}


def test_import_of_a_lot_colliding_with_the_ledger_imports_nothing(cli, tmp_path):
    url = sqlite_url(tmp_path / "line.db")
    assert cli("batch", "-o", tmp_path / "a", "--count", "3", *FAST, *NO_QR, "--jobs", "1",
               "--ledger", url, "--sn_template", "X-{n}").code == 0
    assert cli("batch", "-o", tmp_path / "b", "--count", "3", *FAST, *NO_QR, "--jobs", "1",
               "--sn_template", "X-{n}").code == 0  # its own ledger: no collision seen
    result = cli("ledger", "import", "--ledger", url, tmp_path / "b")
    assert result.code == 1 and result.err.count("\n") == 1, result
    assert "serial number" in result.err and "nothing was imported" in result.err
    assert len(export(cli, url)) == 3


@pytest.mark.parametrize("url, message", [
    ("sqlite://relative.db", "a SQLite URL has no host"),
    ("sqlite:///", "the path must be absolute"),
    ("sqlite:////tmp/x.db?timeout=abc", "timeout='abc' is not accepted"),
    ("sqlite:////tmp/x.db?mode=ro", "unknown parameter 'mode'"),
    ("mysql://x/y", "unknown scheme 'mysql'"),
    ("postgresql://u:secret@/db", "password in the URL"),
    ("postgresql://u@/", "name the database"),
    ("sqlite:///nonexistent-dir/x.db", "the directory /nonexistent-dir does not exist"),
])
def test_a_bad_ledger_url_is_one_line_and_writes_nothing(cli, tmp_path, url, message):
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR, "--ledger", url)
    assert result.code == 2, result
    assert result.err.startswith("error: --ledger: ") and message in result.err, result.err
    assert result.err.count("\n") == 1
    assert not out.exists()


def test_a_newer_schema_is_refused_and_left_alone(cli, tmp_path):
    path = tmp_path / "line.db"
    url = sqlite_url(path)
    assert cli("ledger", "import", "--ledger", url, tmp_path / "none").code == 2  # no lot
    assert not path.exists()
    out = tmp_path / "lot"
    assert cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR, "--ledger", url).code == 0
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    before = path.read_bytes()
    for argv in (("ledger", "stats", "--ledger", url),
                 ("batch", "-o", tmp_path / "lot2", "--count", "2", *FAST, *NO_QR, "--ledger",
                  url)):
        result = cli(*argv)
        assert result.code == 2 and result.err.count("\n") == 1, result
        assert "schema version 99 is newer than this tool's 2" in result.err
    assert path.read_bytes() == before
    assert not (tmp_path / "lot2").exists()


def test_a_locked_ledger_is_one_line_and_issues_nothing(cli, tmp_path):
    path = tmp_path / "line.db"
    url = sqlite_url(path)
    assert cli("ledger", "stats", "--ledger", url).code == 2  # stats never creates one
    assert cli("batch", "-o", tmp_path / "a", "--count", "1", *FAST, *NO_QR, "--ledger",
               url).code == 0
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = cli("batch", "-o", tmp_path / "b", "--count", "2", *FAST, *NO_QR,
                     "--ledger", url + "?timeout=0.3")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 1 and result.err.count("\n") == 1, result
    assert "locked by another process for more than 0.3 s" in result.err
    assert not (tmp_path / "b").exists()
    assert len(export(cli, url)) == 1


# --------------------------------------------------------------------------- concurrency

def concurrent_lots(cli, tmp_path, url, count=120, killed=2):
    """Four batches on one ledger at once; ``killed`` of them get SIGKILL at a random row and
    are run again to the end."""
    rng = random.Random(15)
    lots = [tmp_path / f"lot{i}" for i in range(4)]
    targets = {i: rng.randrange(5, count // 2) for i in range(killed)}
    processes = [start(batch_argv(out, count, url)) for out in lots]
    deadline = time.monotonic() + 120
    while targets:  # every victim watched at once: each is killed at its own row
        for i, target in list(targets.items()):
            if rows_written(lots[i]) >= target:
                os.killpg(processes[i].pid, signal.SIGKILL)
                del targets[i]
            else:
                assert processes[i].poll() is None, f"lot{i} ended before row {target}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    for process in processes:
        _, err, hung = reap(process, 240)
        assert not hung, err
    for process in processes[killed:]:
        assert process.returncode == 0
    for out in lots[:killed]:
        again = run(batch_argv(out, count, url), timeout=240)
        assert again.returncode == 0, again.stderr
    facts, records = assert_recorded_and_unique(cli, url, lots)
    assert len(facts) == 4 * count
    stats = json.loads(cli("ledger", "stats", "--ledger", url, "--format", "json").out)
    assert stats["states"]["claimed"] == 0  # claims cut short by the kills are voided
    assert stats["states"]["issued"] == 4 * count
    return stats


def test_four_batches_on_one_sqlite_file_killed_at_random(cli, tmp_path):
    concurrent_lots(cli, tmp_path, sqlite_url(tmp_path / "line.db"))


def test_four_batches_on_one_postgresql_killed_at_random(cli, tmp_path, pg_ledger):
    concurrent_lots(cli, tmp_path, pg_ledger)


# --------------------------------------------------------------------------- PostgreSQL

def test_postgresql_ledger_stats_and_export(cli, tmp_path, pg_ledger):
    out = tmp_path / "lot"
    assert cli("batch", "-o", out, "--count", "4", *FAST, *NO_QR, "--jobs", "1", "--ledger",
               pg_ledger, "--station", "line-1").code == 0
    facts, records = assert_recorded_and_unique(cli, pg_ledger, [out])
    assert {r["station"] for r in records.values()} == {"line-1"}
    stats = cli("ledger", "stats", "--ledger", pg_ledger)
    assert stats.code == 0 and "issued    4" in stats.out


def test_a_postgresql_restart_mid_batch_loses_nothing(cli, tmp_path, postgres, pg_ledger):
    out = tmp_path / "lot"
    process = start(batch_argv(out, 300, pg_ledger))
    assert kill_at_row(process, out, 40, sig=0)  # signal 0: just wait for the 40th row
    postgres.restart()
    assert process.poll() is None and rows_written(out) < 300  # restarted mid-batch
    _, err, hung = reap(process, 240)
    assert not hung and process.returncode == 0, err
    assert_recorded_and_unique(cli, pg_ledger, [out])


def test_an_unreachable_postgresql_is_one_line(cli, tmp_path, postgres):
    url = f"postgresql://fl@/nodb?host={tmp_path}&port=1"
    result = cli("batch", "-o", tmp_path / "lot", "--count", "2", *FAST, *NO_QR, "--ledger",
                 url)
    assert result.code == 1 and result.err.count("\n") == 1, result
    assert "cannot connect" in result.err
    assert not (tmp_path / "lot").exists()


def test_postgresql_gone_mid_batch_stops_and_resumes(cli, tmp_path, postgres, pg_ledger):
    out = tmp_path / "lot"
    env = environment()
    env["MFD_LEDGER_RETRY_SECONDS"] = "1"
    import subprocess

    process = subprocess.Popen(batch_argv(out, 400, pg_ledger), start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        assert kill_at_row(process, out, 30, sig=0)
        postgres._run("pg_ctl", "-D", postgres.data, "-m", "fast", "-w", "stop")
        _, err, hung = reap(process, 120)
    finally:
        postgres.restart_stopped()
    assert not hung and process.returncode == 1, err
    problems = [line for line in err.splitlines() if line.startswith("error")]
    assert len(problems) == 1 and "unreachable" in problems[0], err
    made = rows_written(out)
    assert 30 <= made < 400
    again = run(batch_argv(out, 400, pg_ledger), timeout=240)
    assert again.returncode == 0, again.stderr
    assert_recorded_and_unique(cli, pg_ledger, [out])


def test_a_full_ledger_is_one_line_and_records_nothing_of_the_step(tmp_path):
    from matter_factory_data.station.ledger import LedgerError, open_ledger
    from matter_factory_data.station.ledger.ledger import Claim, new_token

    url = sqlite_url(tmp_path / "line.db")
    with open_ledger(url) as ledger:
        lot = ledger.lot("lot", "batch", "x")
        pages = ledger.backend.conn.execute("PRAGMA page_count").fetchone()[0]
        ledger.backend.conn.execute(f"PRAGMA max_page_count = {pages}")
        claims = [Claim(new_token(), i, f"SN-{i}", f"{i:x}", "00" * 32, state="issued",
                        dac=b"\x30" * 600) for i in range(1, 200)]
        with pytest.raises(LedgerError) as failure:
            ledger.claim(lot, "x", claims)
        assert "full" in str(failure.value) and "\n" not in str(failure.value)
        assert ledger.export_rows() == []  # the whole step rolled back


@pytest.mark.parametrize("station", ["=cmd|' /C calc'!A0", "a\x1b[2Jb", "x" * 65])
def test_a_bad_station_name_is_refused(cli, tmp_path, station):
    result = cli("batch", "-o", tmp_path / "lot", "--count", "1", *FAST, *NO_QR,
                 "--station", station)
    assert result.code == 2 and result.err.startswith("error: --station: "), result
    assert result.err.count("\n") == 1 and "\x1b" not in result.err
    assert not (tmp_path / "lot").exists()


def test_the_ledger_is_for_the_csr_protocol(cli, tmp_path):
    result = cli("provision", "--manifest", tmp_path / "m.csv", "--port", "x", "--protocol",
                 "st-demo", "--ledger", sqlite_url(tmp_path / "l.db"))
    assert result.code == 2 and "--ledger is for --protocol csr" in result.err
    assert not (tmp_path / "l.db").exists() and not (tmp_path / "m.csv").exists()


def test_a_known_key_recorded_twice_in_a_block_is_refused_whole(tmp_path):
    from matter_factory_data.station.ledger import LedgerConflict, open_ledger
    from matter_factory_data.station.ledger.ledger import Claim, new_token

    with open_ledger(sqlite_url(tmp_path / "line.db")) as ledger:
        lot = ledger.lot("lot", "batch", "x")
        claims = [Claim(new_token(), i, f"SN-{i}", f"{i:x}", "00") for i in (1, 2)]
        assert ledger.claim(lot, "x", claims) == [None, None]
        with pytest.raises(LedgerConflict):
            ledger.issued([(claims[0].token, "ab" * 32, "00"), (claims[1].token, "ab" * 32, "00")])
        assert {r["state"] for r in ledger.export_rows()} == {"claimed"}


def test_a_line_script_reports_batch_devices(cli, tmp_path):
    out = tmp_path / "lot"
    assert cli("batch", "-o", out, "--count", "3", *FAST, *NO_QR, "--jobs", "1").code == 0
    url = sqlite_url(out / "ledger.db")
    rows = manifest_rows(out)
    done = cli("ledger", "report", "--ledger", url, "--sn", rows[0]["sn"], "--state", "ok",
               "--station", "flash-1", "--image_sha256", rows[0]["image_sha256"])
    assert done.code == 0 and done.out.startswith(f"{rows[0]['sn']}: ok"), done
    assert cli("ledger", "report", "--ledger", url, "--dac_serial", rows[1]["dac_serial"],
               "--state", "scrapped").code == 0
    records = {r["sn"]: r for r in export(cli, url)}
    assert [records[r["sn"]]["state"] for r in rows] == ["ok", "scrapped", "issued"]
    assert records[rows[0]["sn"]]["station"] == "flash-1"
    stats = cli("ledger", "stats", "--ledger", url)
    assert "claims never reported: 1" in stats.out and rows[2]["sn"] in stats.out
    unknown = cli("ledger", "report", "--ledger", url, "--sn", "NOPE", "--state", "ok")
    assert unknown.code == 1 and "no device with serial number 'NOPE'" in unknown.err
    bad = cli("ledger", "report", "--ledger", url, "--sn", rows[2]["sn"], "--state", "ok",
              "--image_sha256", "xyz")
    assert bad.code == 2 and bad.err.startswith("error: --image_sha256: ")
    assert export(cli, url) == list(records.values())  # a refused report changes nothing


def test_a_version_1_ledger_is_migrated_to_version_2(cli, tmp_path):
    from matter_factory_data.station.ledger import schema

    assert schema.SCHEMA_VERSION == 2
    assert [s.split(" ADD COLUMN ")[1] for s in schema.MIGRATIONS[2]] == [
        "attest TEXT", "attested_at TEXT", "attest_station TEXT"]
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:  # a ledger as version 1 of the tool made it
        for statement in schema.statements(1, "sqlite"):
            db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (1)")
        db.execute("INSERT INTO lots (name, kind, station, created_at) VALUES "
                   "('old', 'batch', 's', '2025-01-01')")
        db.execute("INSERT INTO identities (token, lot_id, sn, dac_serial, pai_sha256, state, "
                   "station, claimed_at) VALUES ('t', 1, 'SN1', 'abc', 'x', 'ok', 's', "
                   "'2025-01-01')")
    db.close()
    result = cli("ledger", "stats", "--ledger", sqlite_url(path))
    assert result.code == 0, result
    assert "schema 2" in result.out
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        columns = [row[1] for row in db.execute("PRAGMA table_info(identities)")]
        assert columns[-3:] == ["attest", "attested_at", "attest_station"]
        assert db.execute("SELECT sn, state, attest FROM identities").fetchall() == [
            ("SN1", "ok", None)]
    db.close()
