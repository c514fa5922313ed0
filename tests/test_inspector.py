"""An inspector scripts can trust (issue #14, items 2 and 5), through the command as users
run it: ``python -m matter_factory_data show|verify ...`` in a subprocess, its exit code,
stdout and stderr, and a real pipe closed by its reader.

Expectations for STM32 images are built from ST's reader as described in
shared/reference/stm32.md (``Get_TagLocation``: linear scan, first record wins, the end
marker stops the scan, 0 < len < 603); the opt-in test against ST's own
``stm32_factorydata.c`` is in test_stm32_format.py (MFD_STM32_READER).
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden" / "factory_data.bin"
GOLDEN_KEY_HEX = "7fcd6eb826eea6d6178d"


class Run:
    def __init__(self, done: subprocess.CompletedProcess) -> None:
        self.code, self.out, self.err = done.returncode, done.stdout, done.stderr

    def __repr__(self) -> str:
        return f"Run(code={self.code}, out={self.out!r}, err={self.err!r})"


def mfd(*argv, cwd=None) -> Run:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env.pop("MFD_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "matter_factory_data", *map(str, argv)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)
    return Run(done)


def rec(tag: int, value: bytes) -> bytes:
    return struct.pack("<II", tag, len(value)) + value


END = b"\xac\xac\xac\xac"


def records_of(image: bytes) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    while image[offset:offset + 4] != END:
        tag, length = struct.unpack_from("<II", image, offset)
        out.append((tag, image[offset + 8:offset + 8 + length]))
        offset += 8 + length
    return out


def image_of(records) -> bytes:
    return b"".join(rec(t, v) for t, v in records) + END


@pytest.fixture(scope="module")
def stm32(tmp_path_factory) -> dict:
    """Images made by ``generate --defaults`` for both boards (read back as records)."""
    base = tmp_path_factory.mktemp("stm32")
    images = {}
    for board in ("wb5mm-dk", "wba65"):
        prefix = base / board / "fd"
        made = mfd("generate", "--defaults", "--format", "stm32-tlv", "--board", board,
                   "-o", prefix)
        assert made.code == 0, made
        images[board] = prefix.with_suffix(".bin").read_bytes()
    return images


# --- hostile samples: one root cause, exit 2, nothing on stdout, no traceback ------------

def _one_line_refusal(result: Run, *fragments: str) -> None:
    assert result.code == 2, result
    assert result.out == "", result
    assert result.err.count("\n") == 1 and result.err.startswith("error: "), result
    assert "Traceback" not in result.err and "internal error" not in result.err
    for fragment in fragments:
        assert fragment in result.err, (fragment, result)


HOSTILE = [
    ("truncated", lambda: GOLDEN.read_bytes()[:15],
     ["not readable nRF factory data: the CBOR map is cut off or malformed after 1 of its 16 "
      "entries", "; 15 mandatory key(s) missing after the cut",
      "read as nrf-cbor, since it starts with a CBOR map"]),
    ("one-byte", lambda: b"\xb0", ["cut off or malformed after 0 of its 16 entries",
                                   "16 mandatory key(s) missing after the cut"]),
    ("empty-map", lambda: b"\xa0", ["the map holds no factory data key (empty)"]),
    ("random", lambda: bytes([0x32]) + random.Random(14).randbytes(300),
     ["cannot tell the format", "--format nrf-cbor", "--format stm32-tlv with --board"]),
    ("array-2^56", lambda: b"\x9b\x01\x00\x00\x00\x00\x00\x00\x00",
     ["cannot tell the format", "as CBOR an array"]),
    ("readme", lambda: (ROOT / "README.md").read_bytes(), ["cannot tell the format"]),
    ("empty", lambda: b"", ["the image is empty"]),
    ("erased", lambda: b"\xff" * 4096, ["erased flash"]),
    ("end-marker-only", lambda: END + b"\xff" * 12,
     ["not readable STM32 factory data: the image holds no records",
      "read as stm32-tlv, since it starts with the STM32 end marker"]),
]


@pytest.mark.parametrize("make, fragments", [h[1:] for h in HOSTILE],
                         ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("options", [[], ["--json"], ["--strict"]], ids=["summary", "json",
                                                                         "strict"])
def test_show_refuses_unreadable_input_with_one_root_cause(tmp_path, make, fragments, options):
    path = tmp_path / "x.bin"
    path.write_bytes(make())
    _one_line_refusal(mfd("show", path, *options), f"error: {path}: ", *fragments)


def test_a_hex_segment_is_detected_and_refused_like_a_bin(tmp_path):
    from matter_factory_data.formats.hexfile import to_hex_text

    (tmp_path / "cut.hex").write_text(to_hex_text(0xF7000, GOLDEN.read_bytes()[:40]))
    _one_line_refusal(mfd("show", tmp_path / "cut.hex"), "the CBOR map is cut off")


@pytest.mark.parametrize("make, fragment", [
    (lambda: random.Random(5).randbytes(300), "not an STM32 TLV image: the device reader "
                                              "reaches no record with an ST tag"),
    (lambda: (ROOT / "README.md").read_bytes(), "not an STM32 TLV image"),
    (lambda: rec(22, b"\xf1\xff") + struct.pack("<II", 25, 16) + b"AB",
     "the image is cut off: record SERIAL_NUMBER at offset 10: the length 16 runs past the "
     "end of the image (2 bytes left)"),
], ids=["random", "readme", "cut"])
def test_show_refuses_what_is_not_stm32_tlv(tmp_path, make, fragment):
    (tmp_path / "x.bin").write_bytes(make())
    _one_line_refusal(mfd("show", tmp_path / "x.bin", "--format", "stm32-tlv"),
                      "not readable STM32 factory data", fragment)


def test_a_cut_stm32_image_names_what_is_missing_after_the_cut(tmp_path, stm32):
    (tmp_path / "cut.bin").write_bytes(stm32["wb5mm-dk"][:700])
    result = mfd("show", tmp_path / "cut.bin", "--board", "wb5mm-dk")
    _one_line_refusal(result, "the image is cut off: record DEVICE_ATTESTATION_CERTIFICATE",
                      "required record(s) missing after the cut")


def test_verify_refuses_unreadable_input_as_show_does(tmp_path):
    (tmp_path / "cut.bin").write_bytes(GOLDEN.read_bytes()[:15])
    _one_line_refusal(mfd("verify", tmp_path / "cut.bin"), "not readable nRF factory data")


# --- format detection --------------------------------------------------------------------

def test_an_stm32_image_without_format_is_detected_and_said(tmp_path, stm32):
    (tmp_path / "wb.bin").write_bytes(stm32["wb5mm-dk"])
    result = mfd("show", tmp_path / "wb.bin")
    assert result.code == 0, result
    assert result.err.startswith(f"note: {tmp_path / 'wb.bin'}: read as stm32-tlv, since it "
                                 "starts with an STM32 TLV record, tag 1 "
                                 "CERTIFICATION_DECLARATION; choose with --format\n"), result
    assert "format:              stm32-tlv" in result.out
    assert "error:" not in result.err


def test_an_nrf_image_is_detected_and_said_on_stderr_only(tmp_path):
    result = mfd("show", GOLDEN, "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["sn"] == "11223344556677889900"
    assert result.err == (f"note: {GOLDEN}: read as nrf-cbor, since it starts with a CBOR "
                          "map; choose with --format\n")


def test_format_given_means_no_detection_note(tmp_path):
    result = mfd("show", GOLDEN, "--format", "nrf-cbor", "--json")
    assert result.code == 0 and result.err == "", result


def test_st_json_is_detected_by_its_keys(tmp_path, stm32):
    (tmp_path / "wb.bin").write_bytes(stm32["wb5mm-dk"])
    as_json = mfd("show", tmp_path / "wb.bin", "--json", "--show-secrets")
    (tmp_path / "st.json").write_text(as_json.out)
    result = mfd("show", tmp_path / "st.json")
    assert result.code == 0, result
    assert "read as stm32-tlv, since its keys are ST tag names" in result.err
    assert (f"size:                {len(stm32['wb5mm-dk'])} bytes when encoded (read from "
            "JSON)") in result.out


# --- the summary: values or (missing), never None; sizes right -----------------------------

def test_summary_says_missing_never_none_and_sizes_are_right(tmp_path):
    import cbor2

    data = {"version": 1, "sn": b"SN1"}  # a readable map that lacks most keys
    image = cbor2.dumps(data) + b"\x00" + b"\xff" * 100
    (tmp_path / "part.bin").write_bytes(image)
    result = mfd("show", tmp_path / "part.bin")
    assert result.code == 0, result
    assert "None" not in result.out
    lines = dict(line.split(":", 1) for line in result.out.splitlines())
    assert lines["vendor"].strip() == "(missing)"
    assert lines["discriminator"].strip() == "(missing)"
    assert lines["SPAKE2+"].strip() == ("(missing) iterations, salt (missing), verifier "
                                        "(missing)")
    used = len(cbor2.dumps(data)) + 1
    assert lines["size"].strip() == (f"{used} bytes of factory data ({used - 1} of CBOR + 0x00 "
                                     f"terminator); the file holds {len(image)} bytes")
    assert "mandatory key is missing" in result.err
    assert mfd("show", tmp_path / "part.bin", "--strict").code == 1


# --- a closed pipe ends quietly ----------------------------------------------------------

def test_a_closed_pipe_ends_quietly_with_0(tmp_path):
    """The reader is gone before show writes: no 'Broken pipe', no traceback, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = dict(os.environ)
    env.pop("MFD_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "matter_factory_data", "show", str(GOLDEN),
                           "--format", "nrf-cbor", "--pretty", "--show-secrets"],
                          stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=120)
    os.close(write_end)
    assert done.returncode == 0, done
    assert done.stderr == "", done.stderr


def test_show_into_head_ends_quietly(tmp_path):
    script = (f"set -o pipefail; {sys.executable} -m matter_factory_data show {GOLDEN} "
              "--format nrf-cbor | head -1")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done
    assert done.stdout.startswith("file:") and done.stdout.count("\n") == 1
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr


# --- STM32: exactly as strict as ST's reader ----------------------------------------------

def _write(tmp_path, name, records) -> Path:
    path = tmp_path / name
    path.write_bytes(image_of(records))
    return path


def test_wb_without_the_private_key_fails_strict_unless_the_key_is_in_secure_storage(
        tmp_path, stm32):
    records = [(t, v) for t, v in records_of(stm32["wb5mm-dk"]) if t != 5]
    path = _write(tmp_path, "nokey.bin", records)
    result = mfd("show", path, "--board", "wb5mm-dk", "--strict")
    assert result.code == 1, result
    assert ("key 'DEVICE_ATTESTATION_PRIV_KEY': is missing: the STM32WB5MM-DK applications read "
            "the DAC private key from this record and fail attestation without it") in result.err
    assert "--dac-key-in-secure-storage" in result.err
    stated = mfd("show", path, "--board", "wb5mm-dk", "--strict", "--dac-key-in-secure-storage")
    assert stated.code == 0, stated
    assert "error:" not in stated.err
    assert mfd("verify", path, "--board", "wb5mm-dk").code == 1
    assert mfd("verify", path, "--board", "wb5mm-dk", "--dac_key_in_secure_storage").code == 0


def test_wba_never_needed_the_private_key(tmp_path, stm32):
    assert 5 not in dict(records_of(stm32["wba65"]))
    result = mfd("show", _write(tmp_path, "wba.bin", records_of(stm32["wba65"])),
                 "--board", "wba65", "--strict")
    assert result.code == 0, result


def test_generate_with_the_key_in_secure_storage_leaves_tag_5_out(tmp_path):
    prefix = tmp_path / "cks" / "fd"
    made = mfd("generate", "--defaults", "--format", "stm32-tlv", "--board", "wb5mm-dk",
               "--dac-key-in-secure-storage", "-o", prefix)
    assert made.code == 0, made
    assert "the DAC private key is not written to the image" in made.err
    tags = dict(records_of(prefix.with_suffix(".bin").read_bytes()))
    assert 5 not in tags and 6 in tags
    assert mfd("show", prefix.with_suffix(".bin"), "--board", "wb5mm-dk", "--strict",
               "--dac-key-in-secure-storage").code == 0
    assert mfd("show", prefix.with_suffix(".bin"), "--board", "wb5mm-dk", "--strict").code == 1


def test_the_option_is_refused_for_nrf(tmp_path):
    result = mfd("verify", GOLDEN, "--format", "nrf-cbor", "--dac-key-in-secure-storage")
    assert result.code == 2 and "applies to --format stm32-tlv" in result.err, result


def test_bytes_after_the_end_marker_are_a_warning(tmp_path, stm32):
    path = tmp_path / "trail.bin"
    path.write_bytes(stm32["wb5mm-dk"] + rec(22, b"\x34\x12"))
    result = mfd("show", path, "--board", "wb5mm-dk", "--strict")
    assert result.code == 0, result
    assert ("warning: " + str(path) + ": the 10 bytes after the end marker at offset "
            f"{len(stm32['wb5mm-dk']) - 4} are not all erased flash (0xFF) (it starts like a "
            "VENDOR_ID record)") in result.err
    assert "error:" not in result.err


@pytest.mark.parametrize("board, code, severity", [("wba65", 0, "warning"),
                                                   ("wb5mm-dk", 1, "error")])
def test_a_key_pair_mismatch_matters_only_where_the_board_reads_the_keys(tmp_path, stm32, board,
                                                                        code, severity):
    records = dict(records_of(stm32["wb5mm-dk"]))
    other = dict(records_of(stm32["wb5mm-dk"]))[5]
    records[5] = bytes([other[0] ^ 1]) + other[1:]  # another valid scalar
    path = _write(tmp_path, "pair.bin", sorted(records.items()))
    result = mfd("show", path, "--board", board, "--strict")
    assert result.code == code, result
    assert (f"{severity}: {path}: key 'DEVICE_ATTESTATION_PUB_KEY': is not the public key of "
            "DEVICE_ATTESTATION_PRIV_KEY") in result.err


def test_unknown_tag_without_end_marker_is_summarised_with_findings(tmp_path, stm32):
    path = tmp_path / "unknown.bin"
    path.write_bytes(stm32["wb5mm-dk"][:-4] + rec(99, b"xy"))
    result = mfd("show", path, "--board", "wb5mm-dk")
    assert result.code == 0, result
    assert "cannot be encoded" not in result.err
    assert "serial number:       11223344556677889900" in result.out
    assert f"size:                {len(path.read_bytes())} bytes of factory data" in result.out
    assert "no end marker (AC AC AC AC) after the last record" in result.err
    assert "key 'TAG_99': unknown tag 99" in result.err
    assert mfd("show", path, "--board", "wb5mm-dk", "--strict").code == 1


def test_bad_records_are_summarised_with_their_findings(tmp_path, stm32):
    records = dict(records_of(stm32["wb5mm-dk"]))
    records[22] = b"\xf1\xff\x00\x00"  # VENDOR_ID of 4 bytes
    path = _write(tmp_path, "bad.bin", sorted(records.items()))
    result = mfd("show", path)
    assert result.code == 0, result
    assert "vendor:              (missing)  STMicroelectronics" in result.out
    assert ("error: " + str(path) + ": key 'VENDOR_ID': is 4 bytes; the device reads a 16-bit "
            "integer from exactly 2 bytes") in result.err


# --- secrets stay masked in findings ------------------------------------------------------

def test_an_out_of_range_stored_passcode_is_not_echoed(tmp_path, stm32):
    records = dict(records_of(stm32["wb5mm-dk"]))
    records[15] = (99999999).to_bytes(4, "little")
    path = _write(tmp_path, "pass.bin", sorted(records.items()))
    for options in ([], ["--strict"], ["--json"], ["--records"]):
        result = mfd("show", path, "--board", "wb5mm-dk", *options)
        assert "99999999" not in result.out + result.err, (options, result)
    strict = mfd("show", path, "--board", "wb5mm-dk", "--strict")
    assert strict.code == 1 and "setup passcode (the stored value) is out of range" in strict.err


@pytest.mark.parametrize("text, secret", [
    ('{"SPAKE2_SETUP_PASSCODE": "123456789012", "VENDOR_ID": "0xFFF1"}', "123456789012"),
    ('{"SPAKE2_SETUP_PASSCODE": "0X1234abcd", "VENDOR_ID": "0xFFF1"}', "1234abcd"),
    ('{"DEVICE_ATTESTATION_PRIV_KEY": ["0x7f", "0xcd", "q9"], "VENDOR_ID": "0xFFF1"}', "q9"),
], ids=["too-big", "upper-0X", "not-a-byte"])
def test_st_json_errors_do_not_quote_secrets(tmp_path, text, secret):
    (tmp_path / "s.json").write_text(text)
    result = mfd("show", tmp_path / "s.json")
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert secret not in result.err and "(the secret value)" in result.err


def test_nrf_secrets_stay_masked_in_every_output(tmp_path):
    result = mfd("show", GOLDEN, "--strict", "--pretty")
    assert GOLDEN_KEY_HEX not in result.out + result.err


# --- verify: what could not be checked is skipped, never passed -----------------------------

def test_verify_counts_what_it_could_not_check_as_skipped(tmp_path, stm32):
    path = _write(tmp_path, "wba.bin", records_of(stm32["wba65"]))
    result = mfd("verify", path, "--board", "wba65")
    assert result.code == 0, result
    assert ("skip  DAC key and certificate not compared: the image holds neither the private "
            "nor the public key") in result.out
    assert "skip  PAI not checked against a PAA: none given (--paa_cert)" in result.out
    skipped = sum(line.startswith("skip") for line in result.out.splitlines())
    ran = sum(line.startswith(("ok", "FAIL", "warn")) for line in result.out.splitlines())
    assert result.out.splitlines()[-1] == (f"{path}: all {ran} checks passed; {skipped} not "
                                           "checked (the 'skip' lines)")


# --- exit codes shared by every command -----------------------------------------------------

def test_an_existing_output_without_overwrite_is_usage_exit_2(tmp_path):
    (tmp_path / "fd.json").write_text("{}")
    result = mfd("generate", "--defaults", "-o", tmp_path / "fd")
    assert result.code == 2 and "already exists" in result.err, result
    assert (tmp_path / "fd.json").read_text() == "{}"


def test_a_missing_programmer_is_exit_2(tmp_path):
    env_path = os.environ.get("PATH")
    try:
        os.environ["PATH"] = str(tmp_path)
        result = mfd("flash", "--hex", ROOT / "tests" / "data" / "golden" / "factory_data.hex",
                     "--tool", "nrfjprog", "--family", "NRF52")
    finally:
        os.environ["PATH"] = env_path or ""
    assert result.code == 2 and "nrfjprog not found on PATH" in result.err, result


def test_records_of_an_nrf_image_is_usage_exit_2():
    result = mfd("show", GOLDEN, "--records")
    assert result.code == 2 and result.out == "", result
    assert result.err.startswith("error: --records lists the records of --format stm32-tlv; "
                                 "this is nRF CBOR (read as nrf-cbor, since it starts with a "
                                 "CBOR map; choose with --format)")
