"""`batch` interrupted (kill -9, Ctrl-C) and rerun; extension; seeded resume reproducibility.

The batch runs as a separate process (`python -m matter_factory_data batch ...`) in its own
session, so the kill reaches its worker processes too. Set MFD_TEST_SCRATCH to a fast
directory for the batch outputs (see test_batch.py).
"""

import hashlib
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, snapshot
from test_batch import FAST, NO_QR, assert_unique, identity_facts, manifest_rows

COUNT = 160
#: Each trial: (seed of its random delays). Fixed, so a failure can be rerun as it was.
TRIALS = [11, 22, 33, 44]
#: How long a correct implementation may take to stop after Ctrl-C.
STOP_TIMEOUT = 6


def command(out, count, *extra):
    return [sys.executable, "-m", "matter_factory_data", "batch", "-o", str(out), "--count",
            str(count), *FAST, *NO_QR, "--jobs", "2", "--sn_template", "R-{n:05d}", *extra]


def environment():
    env = dict(os.environ)
    path = str(REPO_ROOT / "west_ext")
    env["PYTHONPATH"] = path + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("MFD_DEBUG", None)
    return env


def start(argv):
    return subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment())


def run(argv, timeout=120):
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(),
                          timeout=timeout)
    return done


def wait_for(path: Path, process, limit=30.0):
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, f"the batch ended before {path.name} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.005)


def rows_written(out: Path) -> int:
    try:
        return max((out / "manifest.csv").read_bytes().count(b"\n") - 1, 0)
    except OSError:
        return 0


def kill_at_row(process, out: Path, target: int, sig=signal.SIGKILL, limit=60.0):
    """Send ``sig`` to the group once the manifest has ``target`` rows; True if it was running
    (a point in the run chosen by progress, not by time: the same on a fast or busy machine)."""
    deadline = time.monotonic() + limit
    while rows_written(out) < target:
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"{target} rows not reached"
        time.sleep(0.002)
    return kill_after(process, 0, sig)


def kill_after(process, delay, sig=signal.SIGKILL):
    """Send ``sig`` to the whole process group after ``delay`` s; True if it was running."""
    time.sleep(delay)
    running = process.poll() is None
    if running:
        os.killpg(process.pid, sig)
    return running


def wait_for_workers(process, limit=30.0):
    """Until the process has child processes (its pool is running)."""
    deadline = time.monotonic() + limit
    while True:
        assert process.poll() is None, "ended before its pool started"
        assert time.monotonic() < deadline, "no worker processes appeared"
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as stream:
                        fields = stream.read().rsplit(b")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == process.pid:
                    return
        time.sleep(0.01)


def reap(process, timeout):
    """Wait for the process; on a hang, kill its group and say so."""
    try:
        out, err = process.communicate(timeout=timeout)
        return out, err, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return out, err, True


def check_complete(cli, out: Path, count: int) -> list:
    """The series is whole: N rows, each device once, images intact, nothing left over."""
    rows = manifest_rows(out)
    assert len(rows) == count, len(rows)
    assert sorted(int(r["index"]) for r in rows) == list(range(1, count + 1))
    entries = sorted(p.name for p in (out / "devices").iterdir())
    assert entries == [f"{i:06d}" for i in range(1, count + 1)], [
        e for e in entries if not e.isdigit()][:5]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    for row in rows:
        data = (out / row["image"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["image_sha256"], row["index"]
    facts = identity_facts(out, rows)
    for f in facts:
        assert f["sn"] == row_sn(f["index"]) == f["row"]["sn"]
    assert_unique(facts, "sn", "rd_uid", "pair", "dac_serial", "dac_public", "dac_key",
                  "discriminator")
    result = cli("verify", out, "--jobs", "2")
    assert result.code == 0, result
    return rows


PROGRESS = re.compile(r"\d+/\d+ devices +[0-9.]+/s  ETA \d\d:\d\d:\d\d")


def problem_lines(err: str) -> list:
    """The lines of stderr that are not progress lines."""
    return [line for line in err.strip().splitlines() if not PROGRESS.fullmatch(line)]


def row_sn(index: int) -> str:
    return f"R-{index:05d}"


# --------------------------------------------------------------------------- kill -9

@pytest.mark.parametrize("trial", TRIALS)
def test_resume_after_kill(cli, scratch, trial):
    """Kill -9 at a random moment, rerun (killed again at random), rerun to the end."""
    rng = random.Random(trial)
    out = scratch / "b"
    argv = command(out, COUNT)
    first = start(argv)
    wait_for(out / "batch.json", first)
    target = rng.randint(0, COUNT * 3 // 4)
    assert kill_at_row(first, out, target), f"finished before the kill at row {target}"
    reap(first, 10)
    made = len(manifest_rows(out))
    assert made < COUNT, (target, made)
    second = start(argv)  # killed again: while it starts, resumes or makes devices
    delay2 = rng.uniform(0.05, 0.6)
    kill_after(second, delay2)
    reap(second, 10)
    final = run(argv)
    assert final.returncode == 0, (target, delay2, final.stderr)
    # stderr holds only the progress lines (stdout only the result)
    assert problem_lines(final.stderr) == [], final.stderr
    check_complete(cli, out, COUNT)
    if trial != TRIALS[0]:
        return
    # And a further rerun finds nothing to do and changes nothing.
    before = snapshot(out)
    again = run(argv)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again
    assert snapshot(out) == before


# --------------------------------------------------------------------------- Ctrl-C

def test_ctrl_c_single_process_then_resume(cli, scratch):
    out = scratch / "b"
    argv = command(out, COUNT)
    argv[argv.index("--jobs") + 1] = "1"
    process = start(argv)
    assert kill_at_row(process, out, 30, signal.SIGINT)
    _, err, hung = reap(process, STOP_TIMEOUT)
    assert not hung, "still running after Ctrl-C"
    assert process.returncode == 130, err
    assert len(problem_lines(err)) == 1 and "interrupted" in err, err
    assert "Traceback" not in err
    assert 0 < len(manifest_rows(out)) < COUNT
    final = run(argv)
    assert final.returncode == 0, final.stderr
    check_complete(cli, out, COUNT)


def test_ctrl_c_with_workers_then_resume(cli, scratch):
    out = scratch / "b"
    argv = command(out, COUNT)
    process = start(argv)
    assert kill_at_row(process, out, 30, signal.SIGINT)
    _, err, hung = reap(process, STOP_TIMEOUT)
    assert not hung, "still running after Ctrl-C (killed)"
    assert 0 < len(manifest_rows(out)) < COUNT
    assert process.returncode == 130, err
    assert len(problem_lines(err)) == 1 and "interrupted" in err, err
    final = run(argv)
    assert final.returncode == 0, final.stderr
    check_complete(cli, out, COUNT)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see the pool")
def test_ctrl_c_during_verify(cli, scratch):
    out = scratch / "b"
    argv = command(out, COUNT)
    argv[argv.index("--jobs") + 1] = "1"
    assert run(argv).returncode == 0
    process = start([sys.executable, "-m", "matter_factory_data", "verify", str(out),
                     "--jobs", "2"])
    wait_for_workers(process)
    assert kill_after(process, 0.1, signal.SIGINT)
    _, err, hung = reap(process, STOP_TIMEOUT)
    assert not hung, "still running after Ctrl-C (killed)"
    assert process.returncode == 130, err
    assert len(problem_lines(err)) == 1, err


# --------------------------------------------------------------------------- states a kill leaves

def seeded(out, count, *extra):
    return command(out, count, "--seed", "resume-seed", *extra)


def truncate_manifest(out: Path, keep_rows: int, torn: bool = False) -> None:
    path = out / "manifest.csv"
    lines = path.read_bytes().split(b"\r\n")
    kept = b"\r\n".join(lines[:keep_rows + 1]) + b"\r\n"
    if torn:  # the next row half written
        kept += lines[keep_rows + 1][:25]
    path.write_bytes(kept)


@pytest.fixture
def reference(scratch):
    """An uninterrupted seeded run of 12 devices."""
    out = scratch / "reference"
    assert run(seeded(out, 12)).returncode == 0
    return out


def device_files(out: Path) -> dict:
    """Every file but the manifest and the lot's ledger (which records claim times)."""
    return {name: data for name, data in snapshot(out).items()
            if name != "manifest.csv" and not name.startswith("ledger.db")}


def sorted_manifest(out: Path) -> list:
    lines = (out / "manifest.csv").read_bytes().split(b"\r\n")
    return [lines[0]] + sorted(lines[1:], key=lambda line: int(line.split(b",")[0] or 0))


def test_resume_recovers_devices_without_rows_and_torn_rows(cli, scratch, reference):
    """Rows 1-3 written, row 4 torn mid-line, devices 4-6 complete, a half-written 7."""
    out = scratch / "b"
    assert run(seeded(out, 6)).returncode == 0
    truncate_manifest(out, 3, torn=True)
    partial = out / "devices" / ".tmp-000007-4242"
    partial.mkdir(mode=0o700)
    (partial / "factory_data.bin").write_bytes(b"\xa1")
    result = run(seeded(out, 12))
    assert result.returncode == 0, result.stderr
    assert not partial.exists()
    check_complete_seeded(cli, out, reference)


def test_verify_after_a_kill_reports_the_torn_row(cli, scratch):
    out = scratch / "b"
    assert run(seeded(out, 6)).returncode == 0
    truncate_manifest(out, 3, torn=True)
    for jobs in ("1", "2"):
        result = cli("verify", out, "--jobs", jobs)
        assert result.code != 0, result
        assert "internal error" not in result.err and "Traceback" not in result.err, result
        assert len(problem_lines(result.err)) == 1, result.err


def check_complete_seeded(cli, out, reference):
    """Byte for byte the uninterrupted run: devices, PAA/PAI, batch.json and manifest."""
    assert device_files(out) == device_files(reference)
    assert sorted_manifest(out) == sorted_manifest(reference)  # a clearer diff first
    assert (out / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()
    assert cli("verify", out, "--jobs", "1").code == 0


def test_resume_with_a_gap_gives_the_reference_devices(cli, scratch, reference):
    """Rows 1-3 written; devices 5 and 6 complete but 4 not (workers run ahead)."""
    out = scratch / "b"
    assert run(seeded(out, 6)).returncode == 0
    truncate_manifest(out, 3)
    for name in ("factory_data.bin", "factory_data.hex", "factory_data.json", "factory_data.txt"):
        (out / "devices" / "000004" / name).unlink()
    (out / "devices" / "000004").rmdir()
    assert run(seeded(out, 12)).returncode == 0
    check_complete_seeded(cli, out, reference)


def test_resume_of_a_csv_batch_uses_the_same_rows(cli, scratch, tmp_path):
    from test_batch import GOOD_CSV_ROWS, write_csv

    given = write_csv(tmp_path / "d.csv", ("sn", "passcode", "discriminator", "spake2_salt",
                                           "rd_uid"), GOOD_CSV_ROWS)
    whole, out = scratch / "whole", scratch / "b"
    argv = [sys.executable, "-m", "matter_factory_data", "batch", "--csv", str(given), *FAST,
            *NO_QR, "--jobs", "2", "--seed", "csv"]
    assert run([*argv, "-o", str(whole)]).returncode == 0
    assert run([*argv, "-o", str(out)]).returncode == 0
    truncate_manifest(out, 1)
    for index in (2, 3):
        device = out / "devices" / f"{index:06d}"
        for path in device.iterdir():
            path.unlink()
        device.rmdir()
    assert run([*argv, "-o", str(out)]).returncode == 0
    check_complete_seeded(cli, out, whole)


@pytest.mark.parametrize("state", ["credentials-renamed", "only-staged-files"])
def test_resume_after_kill_while_writing_series_files(cli, scratch, reference, state):
    out = scratch / "b"
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stage = f"{int(gone.stdout)}.0123456789ab"  # outputs.py's staging name of a killed run
    names = ("PAA_cert.der", "PAA_key.der", "PAI_cert.der", "PAI_key.der", "manifest.csv",
             "batch.json")
    for name in names:
        data = (reference / name).read_bytes()
        if name == "manifest.csv":
            data = data.split(b"\r\n")[0] + b"\r\n"
        renamed = state == "credentials-renamed" and name.endswith(".der")
        target = out / (name if renamed else f".{name}.{stage}.tmp")
        target.write_bytes(data)
        os.chmod(target, stat.S_IMODE((reference / name).stat().st_mode))
    result = run(seeded(out, 12))
    assert result.returncode == 0, result.stderr
    check_complete_seeded(cli, out, reference)


def test_seeded_run_killed_and_resumed_equals_uninterrupted(cli, scratch):
    out, whole = scratch / "killed", scratch / "whole"
    count = 120
    argv = seeded(out, count)
    assert run(seeded(whole, count)).returncode == 0
    process = start(argv)
    assert kill_at_row(process, out, random.Random(7).randint(1, count // 2))
    reap(process, 10)
    assert run(argv).returncode == 0
    check_complete_seeded(cli, out, whole)


def test_resume_refuses_a_copied_device_directory(scratch):
    out = scratch / "b"
    assert run(seeded(out, 4)).returncode == 0
    shutil.copytree(out / "devices" / "000002", out / "devices" / "000005")
    before = snapshot(out)
    result = run(seeded(out, 6))
    assert result.returncode == 1, result.stdout
    assert problem_lines(result.stderr) == [
        f"error: {out / 'devices' / '000005'}: has the serial number or DAC of device 2, so it "
        "is a copy, not a device of this run; remove it and run again"], result.stderr
    assert snapshot(out) == before


def test_resume_refuses_when_a_listed_image_is_missing(scratch):
    out = scratch / "b"
    assert run(seeded(out, 4)).returncode == 0
    (out / "devices" / "000002" / "factory_data.bin").unlink()
    before = snapshot(out)
    result = run(seeded(out, 6))
    assert result.returncode != 0
    assert len(problem_lines(result.stderr)) == 1, result.stderr
    assert "000002" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(out) == before


def test_second_concurrent_run_does_not_damage_the_series(scratch):
    """A second run on a directory a first run is working on is refused (one line, exit 1)
    and changes nothing; the first run then completes the series. The first run is stopped
    (SIGSTOP) while the second runs, so the two overlap on a fast or a busy machine alike."""
    out = scratch / "b"
    argv = command(out, 300)
    argv[argv.index("--jobs") + 1] = "1"
    first = start(argv)
    assert kill_at_row(first, out, 5, sig=signal.SIGSTOP)  # stopped while making devices
    try:
        before = snapshot(out)
        second = run(argv)
        assert second.returncode == 1, second.stderr
        assert problem_lines(second.stderr) == [
            f"error: -o {out}: another batch run is working on this directory; wait for it "
            "to finish (or stop it) and run again"], second.stderr
        assert snapshot(out) == before
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    _, err1, hung1 = reap(first, 120)
    assert not hung1
    assert first.returncode == 0, err1
    leftovers = [p.name for p in (out / "devices").iterdir() if not p.name.isdigit()]
    assert not leftovers, leftovers
    indexes = [r["index"] for r in manifest_rows(out)]
    assert sorted(indexes, key=int) == [str(i) for i in range(1, 301)]


# --------------------------------------------------------------------------- extension

def test_larger_count_extends_the_series(cli, scratch):
    out = scratch / "b"
    assert run(command(out, 20)).returncode == 0
    before = snapshot(out)
    old_manifest = (out / "manifest.csv").read_bytes()
    result = run(command(out, 35))
    assert result.returncode == 0, result.stderr
    after = snapshot(out)
    for name, value in before.items():
        if name != "manifest.csv" and not name.startswith("ledger.db"):  # the ledger grows
            assert after[name] == value, name  # devices 1..20 untouched
    assert (out / "manifest.csv").read_bytes().startswith(old_manifest)
    check_complete(cli, out, 35)


def test_seeded_extension_equals_one_run(scratch):
    grown, whole = scratch / "grown", scratch / "whole"
    assert run(seeded(grown, 5)).returncode == 0
    assert run(seeded(grown, 12)).returncode == 0
    assert run(seeded(whole, 12)).returncode == 0
    assert device_files(grown) == device_files(whole)
    assert (grown / "manifest.csv").read_bytes() == (whole / "manifest.csv").read_bytes()
