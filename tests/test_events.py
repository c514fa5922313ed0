"""NDJSON events for line software (#16 item 3): every line of real runs of batch, verify
DIR, flash, stm32-program and provision with ``--json`` is checked against the JSON Schema
shipped as package data, line by line, and no secret of the devices appears in any event."""

from __future__ import annotations

import base64
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from test_flash import PLAIN_HEX, fake_tools  # noqa: F401  (fixture)
from test_provision import boards, pai, provision  # noqa: F401  (fixtures)
from test_signer_pkcs11 import hsm  # noqa: F401  (fixture)
from test_signer_pkcs11 import run as run_pkcs11
from test_stm32_program import FULL, SN_WB, SN_WBA, fake_cli  # noqa: F401  (fixture)

from matter_factory_data import events
from matter_factory_data.events import Events, error_code

FAST = ("--defaults", "--spake2_it", "1000")


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(Path(events.schema_path()).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def parse(validator, out: str) -> list:
    """Every line of stdout: one JSON object, valid against the schema, one run, seq 1..n,
    run_started first and run_finished last."""
    assert out.endswith("\n"), out
    lines = []
    for number, text in enumerate(out.splitlines(), 1):
        event = json.loads(text)
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, f"line {number}: {errors[0].message}: {text}"
        lines.append(event)
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert len({e["run"] for e in lines}) == 1
    assert lines[0]["event"] == "run_started" and lines[-1]["event"] == "run_finished"
    assert [e["event"] for e in lines].count("run_finished") == 1
    return lines


def kinds(lines: list) -> list:
    return [e["event"] for e in lines]


def assert_no_secret(out: str, secrets: list) -> None:
    for secret in secrets:
        assert secret, "an empty secret proves nothing"
        assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", out,
                             re.IGNORECASE), f"a secret is in the events: {secret[:12]}..."
    for name in ("passcode", "verifier", "salt", "dac_key", "qr_payload", "manual_code"):
        assert f'"{name}"' not in out


def lot_secrets(out_dir: Path) -> list:
    """The lot's passcodes, verifiers, salts, DAC keys (hex and base64), QR payloads and
    manual codes."""
    secrets = []
    with open(out_dir / "manifest.csv", newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            secrets += [row["qr_payload"], row["manual_code"]]
            if row.get("passcode"):
                secrets.append(row["passcode"])
    for image_json in sorted((out_dir / "devices").glob("*/factory_data.json")):
        fields = json.loads(image_json.read_text(encoding="utf-8"))
        for name in ("dac_key", "spake2_salt", "spake2_verifier"):
            raw = bytes.fromhex(fields[name].removeprefix("hex:"))
            secrets += [raw.hex(), base64.b64encode(raw).decode()]
    return secrets


# --- batch and verify DIR ---------------------------------------------------------------

def test_batch_json_claims_every_device_and_gives_no_secret(cli, validator, tmp_path):
    out = tmp_path / "lot"
    result = cli("batch", "-o", out, "--count", "3", *FAST, "--qr", "png", "--include_passcode",
                 "--jobs", "1", "--json")
    assert result.code == 0, result.err
    lines = parse(validator, result.out)
    claimed = [e for e in lines if e["event"] == "device_claimed"]
    with open(out / "manifest.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [(e["device"]["index"], e["device"]["serial"], e["data"]["dac_serial"])
            for e in claimed] == [(int(r["index"]), r["sn"], r["dac_serial"]) for r in rows]
    progress = [e["data"] for e in lines if e["event"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 3
    finished = lines[-1]["data"]
    assert (finished["exit_code"], finished["ok"], finished["counts"]["device_claimed"],
            finished["counts"]["error"]) == (0, True, 3, 0)
    assert lines[0]["data"]["command"] == "batch" and lines[0]["data"]["argv"]["count"] == 3
    assert "made 3 devices" in result.err  # the human text on stderr
    secrets = lot_secrets(out)
    assert len(secrets) == 3 * 3 + 3 * 6
    assert_no_secret(result.out, secrets)

    verified = cli("verify", out, "--jobs", "1", "--json")
    assert verified.code == 0, verified.err
    lines = parse(validator, verified.out)
    assert [e["device"]["index"] for e in lines if e["event"] == "device_verified"] == [1, 2, 3]
    assert lines[-1]["data"]["counts"]["device_verified"] == 3
    assert_no_secret(verified.out, secrets)


def test_verify_dir_json_reports_a_repeated_identity_as_an_error_event(cli, validator, tmp_path):
    out = tmp_path / "lot"
    assert cli("batch", "-o", out, "--count", "2", *FAST, "--qr", "none").code == 0
    manifest = out / "manifest.csv"
    text = manifest.read_text(encoding="utf-8").splitlines()
    manifest.write_text("\n".join([*text, text[-1]]) + "\n", encoding="utf-8")  # listed twice
    result = cli("verify", out, "--jobs", "1", "--json")
    assert result.code == 1
    lines = parse(validator, result.out)
    errors = [e["data"] for e in lines if e["event"] == "error"]
    assert [e["code"] for e in errors] == ["IDENTITY_REPEATED", "VERIFY_FAILED"]
    assert "listed twice" in errors[0]["message"]
    assert lines[-1]["data"]["exit_code"] == 1


@pytest.mark.parametrize("argv, code, message", [
    (["batch", "-o", "{tmp}/lot", "--count", "0", *FAST], "INPUT_INVALID", "--count"),
    (["batch", "-o", "{tmp}/file", "--count", "1", *FAST], "OUTPUT_EXISTS", "file"),
    (["flash", "--hex", "{tmp}/missing.hex"], "INPUT_INVALID", "missing.hex"),
    (["stm32-program", "--image", "{tmp}/missing.bin", "--board", "wba65", "--probe", "1234"],
     "INPUT_INVALID", "missing.bin"),
    (["provision", "--port", "/dev/null", "--protocol", "csr"], "INPUT_INVALID", "manifest"),
])
def test_bad_input_is_exit_2_an_error_event_and_one_line(cli, validator, tmp_path, argv, code,
                                                         message):
    (tmp_path / "file").write_text("not a directory\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli(*[a.replace("{tmp}", str(tmp_path)) for a in argv], "--json")
    assert result.code == 2, result
    lines = parse(validator, result.out)
    assert kinds(lines) == ["run_started", "error", "run_finished"]
    error = lines[1]["data"]
    assert (error["code"], error["retryable"]) == (code, False)
    assert message in error["message"]
    assert len(result.err.splitlines()) == 1 and error["message"] in result.err
    assert lines[-1]["data"]["exit_code"] == 2 and lines[-1]["data"]["ok"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_without_json_stdout_carries_no_event(cli, tmp_path):
    result = cli("batch", "-o", tmp_path / "lot", "--count", "1", *FAST, "--qr", "none")
    assert result.code == 0
    assert '"schema"' not in result.out and result.out.startswith("made 1 device")


# --- flash and stm32-program with the fake tools ---------------------------------------------

def test_flash_json_gives_device_programmed(cli, validator, fake_tools):  # noqa: F811
    fake_tools.install("nrfutil")
    result = cli("flash", "--hex", PLAIN_HEX, "--snr", "683123456", "--json")
    assert result.code == 0, result.err
    lines = parse(validator, result.out)
    assert kinds(lines) == ["run_started", "device_programmed", "run_finished"]
    assert lines[1]["device"] == {"probe": "683123456"}
    assert lines[1]["data"]["tool"] == "nrfutil" and lines[1]["data"]["bytes"] > 0
    assert lines[-1]["data"]["counts"]["device_programmed"] == 1
    assert "factory data flashed" in result.err


def test_flash_json_programmer_failure_is_a_retryable_error(cli, validator, fake_tools,  # noqa: F811
                                                            monkeypatch):
    fake_tools.install("nrfutil")
    monkeypatch.setenv("MFD_FAKE_EXIT", "1")
    result = cli("flash", "--hex", PLAIN_HEX, "--json")
    assert result.code == 1
    lines = parse(validator, result.out)
    assert kinds(lines) == ["run_started", "error", "run_finished"]
    assert (lines[1]["data"]["code"], lines[1]["data"]["retryable"]) == \
        ("PROGRAMMER_FAILED", True)


def test_flash_json_missing_programmer(cli, validator, fake_tools):  # noqa: F811
    result = cli("flash", "--hex", PLAIN_HEX, "--json")
    assert result.code == 2
    lines = parse(validator, result.out)
    assert lines[1]["data"]["code"] == "PROGRAM_MISSING"


def test_stm32_program_json_one_event_per_probe(validator, fake_cli,  # noqa: F811
                                                monkeypatch):
    """As a line script runs it (a process): stdout holds the events only, the programmer's
    own output goes to stderr."""
    monkeypatch.setenv("FAKE_FAIL_SN", SN_WB)
    result = subprocess.run([sys.executable, "-m", "matter_factory_data", "stm32-program",
                             "--image", str(FULL), "--board", "wba65", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "File download complete" in result.stderr
    lines = parse(validator, result.stdout)
    assert kinds(lines) == ["run_started", "error", "progress", "device_programmed", "progress",
                            "run_finished"]
    assert lines[1]["device"] == {"probe": SN_WB}
    assert (lines[1]["data"]["code"], lines[1]["data"]["retryable"]) == \
        ("PROGRAMMER_FAILED", True)
    assert lines[3]["device"] == {"probe": SN_WBA}
    assert [e["data"]["done"] for e in lines if e["event"] == "progress"] == [1, 2]
    counts = lines[-1]["data"]["counts"]
    assert (counts["device_programmed"], counts["error"]) == (1, 1)
    assert "1 of 2 device(s) failed" in result.stderr


# --- provision with boards on pseudo-terminals ----------------------------------------------

def test_provision_json_claims_programs_and_reports(cli, validator, boards, pai,  # noqa: F811
                                                    tmp_path):
    good, bad = boards("healthy", sn="SN-7"), boards("failing", sn="SN-8")
    result = provision(cli, pai, tmp_path / "m.csv", [good.path, bad.path], "--json")
    assert result.code == 1
    lines = parse(validator, result.out)
    by_port: dict = {}
    for event in lines[1:-1]:
        by_port.setdefault(event["device"]["port"], []).append(event["event"])
    assert by_port[good.path] == ["device_claimed", "device_reported", "device_programmed"]
    assert by_port[bad.path] == ["device_claimed", "device_reported", "error"]
    programmed = next(e for e in lines if e["event"] == "device_programmed")
    assert programmed["device"]["serial"] == "SN-7"
    error = next(e for e in lines if e["event"] == "error")
    assert error["data"]["code"] == "DEVICE_FAILED" and error["data"]["retryable"] is True
    reported = [e["data"]["state"] for e in lines if e["event"] == "device_reported"]
    assert sorted(reported) == ["failed", "ok"]
    assert lines[-1]["data"]["exit_code"] == 1


# --- the emitter ---------------------------------------------------------------------------

def test_the_emitter_refuses_a_secret_and_an_unknown_event(tmp_path):
    import io

    sink = Events(io.StringIO(), station="s1")
    for name in ("passcode", "spake2_verifier", "salt", "dac_key", "qr_payload", "manual_code"):
        with pytest.raises(ValueError, match="secret"):
            sink.emit("device_programmed", {"probe": "1"}, nested={name: "x"})
    with pytest.raises(ValueError, match="unknown event"):
        sink.emit("device_exploded")
    assert sink.stream.getvalue() == ""


def test_error_codes_follow_the_exception_classes():
    from matter_factory_data.errors import (
        CommandFailed,
        InputError,
        MissingProgram,
        OutputRefused,
        VerificationError,
    )
    from matter_factory_data.station.ledger.errors import LedgerConflict, LedgerError

    assert error_code(InputError("x")) == "INPUT_INVALID"
    assert error_code(OutputRefused("x")) == "OUTPUT_EXISTS"
    assert error_code(MissingProgram("x")) == "PROGRAM_MISSING"
    assert error_code(CommandFailed(["x"], 1)) == "PROGRAMMER_FAILED"
    assert error_code(VerificationError("x")) == "VERIFY_FAILED"
    assert error_code(LedgerConflict("x")) == "LEDGER_CONFLICT"
    assert error_code(LedgerError("x")) == "LEDGER_UNAVAILABLE"
    pin = InputError("x")
    pin.event_code = "HSM_PIN_INCORRECT"  # type: ignore[attr-defined]
    assert error_code(pin) == "HSM_PIN_INCORRECT"
    assert error_code(RuntimeError("bug")) == "INTERNAL"
    assert set(events.RETRYABLE) == set(
        json.loads(Path(events.schema_path()).read_text())["allOf"][7]["then"]["properties"]
        ["data"]["properties"]["code"]["enum"])


# --- the PAI key in a token (SoftHSM2): a wrong PIN has its own code ------------------------

def test_batch_json_with_a_wrong_token_pin_is_hsm_pin_incorrect(validator, hsm, tmp_path):  # noqa: F811
    env = dict(hsm.env)
    env.pop("MFD_PKCS11_PIN", None)
    (tmp_path / "bad-pin").write_text("9999\n")
    uri = hsm.uri("pai-key").replace(str(hsm.pin_file), str(tmp_path / "bad-pin"))
    out = tmp_path / "lot"
    done = run_pkcs11(env, "batch", "-o", out, "--count", "2", *FAST, "--qr", "none",
                      "--vendor_id", "0xFFF1", "--product_id", "0x8004",
                      "--pai_cert", tmp_path / "pai.der", "--pai_key", uri, "--json")
    assert done.returncode == 2, done.stderr
    lines = parse(validator, done.stdout)
    errors = [e["data"] for e in lines if e["event"] == "error"]
    assert [(e["code"], e["retryable"]) for e in errors] == [("HSM_PIN_INCORRECT", False)]
    assert "wrong PIN" in errors[0]["message"]
    assert "9999" not in done.stdout and "1234" not in done.stdout
    assert not any(e["event"] == "device_claimed" for e in lines)


def test_run_started_shows_the_options_without_secrets():
    import argparse

    from matter_factory_data.cli.app import _shown_argv

    shown = _shown_argv(argparse.Namespace(
        command="batch", json=True, count=3, passcode=20202021, pai_key="pkcs11:x",
        ledger="postgresql://line:s3cret@db/lots?password=s3cret", output="lot",
        csv="pkcs11:token=t;object=o?pin-value=1234", verbose=False, ports=["/dev/a"],
        seed=None))
    assert shown == {"count": 3, "ledger": "postgresql://***@db/lots?password=***",
                     "output": "lot", "csv": "(given)", "verbose": False,
                     "ports": ["/dev/a"]}
