"""`matter-factory-data batch` and `verify DIR`, as a user runs them.

Big batches write thousands of files: set MFD_TEST_SCRATCH to a directory on a fast file
system (the batch directories are made below it and removed afterwards); without it they go
to the system's temporary directory.
"""

import base64
import csv
import hashlib
import re
import shutil
import stat
from pathlib import Path

import pytest
from conftest import snapshot

# Fast, development values: the cost of a device is mostly PBKDF2 and the QR image.
FAST = ("--spake2_it", "1000", "--defaults")
NO_QR = ("--qr", "none")


# --------------------------------------------------------------------------- helpers

def manifest_rows(directory: Path) -> list:
    with open(directory / "manifest.csv", encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def manifest_header(directory: Path) -> list:
    with open(directory / "manifest.csv", encoding="utf-8", newline="") as stream:
        return next(csv.reader(stream))


def image(directory: Path, row: dict) -> bytes:
    return (directory / row["image"]).read_bytes()


def decoded(directory: Path, row: dict) -> dict:
    from matter_factory_data.formats import nrf_cbor

    return nrf_cbor.decode_image(image(directory, row))


def codes_file(device_dir: Path) -> dict:
    """factory_data.txt as {label: value}."""
    out = {}
    for line in (device_dir / "factory_data.txt").read_text(encoding="ascii").splitlines():
        label, _, value = line.partition(":")
        out[label.strip()] = value.strip()
    return out


def identity_facts(directory: Path, rows: list) -> list:
    """What must be unique per device, read from the images and the manifest's QR payload."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from matter_factory_data.core import onboarding

    facts = []
    for row in rows:
        data = decoded(directory, row)
        dac = x509.load_der_x509_certificate(bytes(data["dac_cert"]))
        payload = onboarding.parse_qr_code(row["qr_payload"])
        facts.append({
            "index": int(row["index"]),
            "sn": bytes(data["sn"]).decode(),
            "rd_uid": bytes(data["rd_uid"]),
            "discriminator": data["discriminator"],
            "passcode": payload.passcode,
            "pair": (payload.passcode, data["discriminator"]),
            "dac_serial": dac.serial_number,
            "dac_public": dac.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
            "dac_key": bytes(data["dac_key"]),
            "dac_cert": bytes(data["dac_cert"]),
            "row": row,
        })
    return facts


def assert_unique(facts: list, *fields) -> None:
    for field in fields:
        values = [f[field] for f in facts]
        seen = {}
        for f in facts:
            seen.setdefault(f[field], []).append(f["index"])
        repeats = {k: v for k, v in seen.items() if len(v) > 1}
        assert len(set(values)) == len(values), f"{field} repeated: {list(repeats.values())[:5]}"


def assert_one_line_error(result, code, *fragments) -> None:
    assert result.code == code, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(("error:", "matter-factory-data: error:")), result.err
    assert "Traceback" not in result.err + result.out
    for fragment in fragments:
        assert fragment.lower() in result.err.lower(), (fragment, result.err)


def batch_ok(cli, out, *args):
    result = cli("batch", "-o", out, *args)
    assert result.code == 0, result
    return result


def make_pki(tmp: Path, *, vendor_id=0xFFF1, product_id=None, pai_key_matches=True):
    """A PAA and a PAI in tmp; returns the paths (paa_cert, paa_key, pai_cert, pai_key)."""
    import datetime as dt

    from matter_factory_data.core import certs

    since = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)  # before the manufacturing dates
    paa_key = certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="Test PAA", not_before=since)
    pai_key = certs.new_key()
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name="Test PAI", vendor_id=vendor_id, product_id=product_id,
                         not_before=since)
    tmp.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in (("paa_cert", certs.cert_der(paa)), ("paa_key", certs.key_der(paa_key)),
                       ("pai_cert", certs.cert_der(pai)),
                       ("pai_key", certs.key_der(pai_key if pai_key_matches
                                                 else certs.new_key()))):
        paths[name] = tmp / f"{name}.der"
        paths[name].write_bytes(data)
    return paths


def parse_intel_hex(text: str) -> dict:
    """{address: byte} of an Intel HEX file (types 00, 01, 02, 04), checksums checked."""
    memory, base = {}, 0
    for line in text.splitlines():
        assert line.startswith(":"), line
        raw = bytes.fromhex(line[1:])
        assert sum(raw) % 256 == 0, f"bad checksum: {line}"
        count, address, kind, data = raw[0], int.from_bytes(raw[1:3], "big"), raw[3], raw[4:-1]
        assert len(data) == count
        if kind == 0:
            for i, byte in enumerate(data):
                memory[base + address + i] = byte
        elif kind == 1:
            break
        elif kind == 2:
            base = int.from_bytes(data, "big") << 4
        elif kind == 4:
            base = int.from_bytes(data, "big") << 16
    return memory


# --------------------------------------------------------------------------- 1. uniqueness

def test_more_than_4096_devices_need_allow_shared(cli, scratch):
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "4097", *FAST, *NO_QR,
                 "--sn_template", "SN-{n:06d}")
    assert_one_line_error(result, 2, "4096", "--allow_shared_discriminators")
    assert not out.exists()


def test_5000_devices_have_unique_identities(cli, scratch):
    """Unseeded (OS randomness), more devices than discriminators."""
    out = scratch / "b"
    batch_ok(cli, out, "--count", "5000", *FAST, *NO_QR, "--jobs", "2",
             "--sn_template", "SN-{n:06d}", "--allow_shared_discriminators")
    rows = manifest_rows(out)
    assert [int(r["index"]) for r in rows] == list(range(1, 5001))
    assert [r["sn"] for r in rows] == [f"SN-{i:06d}" for i in range(1, 5001)]
    facts = identity_facts(out, rows)
    for f in facts:
        assert f["sn"] == f["row"]["sn"]
        assert int(f["row"]["discriminator"]) == f["discriminator"]
        assert int(f["row"]["dac_serial"], 16) == f["dac_serial"]
    assert_unique(facts, "sn", "rd_uid", "pair", "dac_serial", "dac_public", "dac_key",
                  "dac_cert")
    assert len({f["passcode"] for f in facts}) > 4990  # random, not a handful of values
    # Discriminators: the first 4096 all distinct, none used more than twice.
    discriminators = [f["discriminator"] for f in facts]
    assert sorted(discriminators[:4096]) == list(range(4096))
    uses = {}
    for f in facts:
        uses.setdefault(f["discriminator"], []).append(f["index"])
    assert max(len(v) for v in uses.values()) == 2
    # shares_discriminator_with: the earlier devices with the same discriminator.
    for f in facts:
        listed = f["row"]["shares_discriminator_with"].split()
        earlier = [i for i in uses[f["discriminator"]] if i < f["index"]]
        assert sorted(map(int, listed)) == earlier, f["row"]
    assert sum(1 for f in facts if f["row"]["shares_discriminator_with"]) == 5000 - 4096
    assert not [p for p in (out / "devices").iterdir() if p.name.startswith(".")]


def test_sequential_discriminators(cli, scratch):
    out = scratch / "b"
    batch_ok(cli, out, "--count", "10", *FAST, *NO_QR, "--jobs", "1",
             "--discriminators", "sequential", "--discriminator", "4090")
    got = [decoded(out, r)["discriminator"] for r in manifest_rows(out)]
    assert got == [4090, 4091, 4092, 4093, 4094, 4095, 0, 1, 2, 3]


# --------------------------------------------------------------------------- 3. verify DIR

def small_batch(cli, out, count=8, *extra):
    batch_ok(cli, out, "--count", str(count), *FAST, "--jobs", "1", "--qr", "png",
             "--sn_template", "LOT7-{n:04d}", *extra)
    return manifest_rows(out)


def write_manifest(directory: Path, rows: list) -> None:
    header = manifest_header(directory)
    with open(directory / "manifest.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, header)
        writer.writeheader()
        writer.writerows(rows)


def verify_fails(cli, out, *failures, jobs="1"):
    """``verify DIR`` exits 1 with one error line; every ``(device, reason)`` has a FAIL line
    about that device (``4``, or ``"2 and 6"`` for a repeated identity) giving that reason,
    and no FAIL line is about another device."""
    assert failures
    result = cli("verify", out, "--jobs", jobs)
    assert result.code == 1, result
    assert "Traceback" not in result.out + result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    fail_lines = [line for line in result.out.splitlines() if line.startswith("FAIL")]
    for device, reason in failures:
        about = re.compile(rf"FAIL\s+devices? {re.escape(str(device))}\b")
        assert any(about.match(line) and reason in line for line in fail_lines), \
            (device, reason, result.out)
    expected = {n for device, _ in failures for n in re.findall(r"\d+", str(device))}
    for line in fail_lines:
        named = re.match(r"FAIL\s+devices? (\d+)(?: and (\d+))?", line)
        assert named, line
        assert {n for n in named.groups() if n} <= expected, (line, result.out)
    return result


def test_verify_passes_on_a_fresh_batch(cli, scratch):
    out = scratch / "b"
    small_batch(cli, out, 8)
    for jobs in ("1", "2"):
        result = cli("verify", out, "--jobs", jobs)
        assert result.code == 0, result
        assert "8" in result.out and "FAIL" not in result.out


def test_verify_finds_a_changed_image_byte(cli, scratch):
    out = scratch / "b"
    rows = small_batch(cli, out)
    path = out / rows[3]["image"]
    data = bytearray(path.read_bytes())
    at = bytes(data).index(b"LOT7-0004") + 5
    data[at] ^= 0x01  # the serial number now reads LOT7-1004
    path.write_bytes(bytes(data))
    verify_fails(cli, out, (4, "factory_data.bin: SHA-256 differs from the manifest"),
                 (4, "manifest sn 'LOT7-0004' differs from the image's 'LOT7-1004'"), jobs="2")


def test_verify_finds_a_changed_image_even_with_the_new_sha_in_the_manifest(cli, scratch):
    out = scratch / "b"
    rows = small_batch(cli, out)
    data = decoded(out, rows[2])
    path = out / rows[2]["image"]
    raw = bytearray(path.read_bytes())
    at = bytes(raw).index(bytes(data["dac_key"]))
    raw[at + 31] ^= 0x01  # the DAC key no longer matches the DAC
    path.write_bytes(bytes(raw))
    rows[2]["image_sha256"] = hashlib.sha256(raw).hexdigest()
    write_manifest(out, rows)
    result = verify_fails(cli, out, (3, "dac_key does not match dac_cert"))
    assert "SHA-256" not in result.out  # the manifest's checksum was updated: not the finding


def test_verify_finds_a_changed_qr_payload(cli, scratch):
    from matter_factory_data.core import onboarding

    out = scratch / "b"
    rows = small_batch(cli, out)
    payload = onboarding.parse_qr_code(rows[4]["qr_payload"])
    other = payload._replace(passcode=payload.passcode % 99999990 + 1 if
                             payload.passcode != 20202021 else 20202022)
    rows[4]["qr_payload"] = onboarding.qr_code(other)  # well-formed, wrong passcode
    write_manifest(out, rows)
    verify_fails(cli, out, (5, "qr.png does not show the manifest's QR payload"),
                 (5, "spake2_verifier does not match the passcode, salt and iteration count"))


def test_verify_finds_a_garbled_qr_payload(cli, scratch):
    out = scratch / "b"
    rows = small_batch(cli, out)
    rows[0]["qr_payload"] = "MT:NOT-A-PAYLOAD"
    write_manifest(out, rows)
    verify_fails(cli, out, (1, "QR code text has 13 characters after 'MT:', expected 19"))


def test_verify_finds_swapped_images(cli, scratch):
    out = scratch / "b"
    rows = small_batch(cli, out)
    a, b = out / rows[1]["image"], out / rows[5]["image"]
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    verify_fails(cli, out, (2, "factory_data.bin: SHA-256 differs from the manifest"),
                 (6, "factory_data.bin: SHA-256 differs from the manifest"))
    # Also with the manifest's checksums swapped to match: the contents still disagree.
    rows[1]["image_sha256"], rows[5]["image_sha256"] = (rows[5]["image_sha256"],
                                                        rows[1]["image_sha256"])
    write_manifest(out, rows)
    result = verify_fails(cli, out,
                          (2, "manifest sn 'LOT7-0002' differs from the image's 'LOT7-0006'"),
                          (6, "manifest sn 'LOT7-0006' differs from the image's 'LOT7-0002'"))
    assert "SHA-256" not in result.out


def test_verify_finds_a_replaced_qr_image(cli, scratch):
    out = scratch / "b"
    small_batch(cli, out)
    devices = out / "devices"
    shutil.copyfile(devices / "000004" / "qr.png", devices / "000003" / "qr.png")
    verify_fails(cli, out, (3, "qr.png does not show the manifest's QR payload"))


def test_verify_finds_a_duplicated_identity(cli, scratch):
    """Device 6 made a copy of device 2, manifest row included: each alone looks fine."""
    out = scratch / "b"
    rows = small_batch(cli, out)
    devices = out / "devices"
    shutil.rmtree(devices / "000006")
    shutil.copytree(devices / "000002", devices / "000006")
    rows[5] = dict(rows[1], index="6", image="devices/000006/factory_data.bin")
    write_manifest(out, rows)
    verify_fails(cli, out, ("2 and 6", "share a sn"), ("2 and 6", "share a DAC key"),
                 ("2 and 6", "share a DAC serial"))


def test_verify_finds_a_missing_image(cli, scratch):
    out = scratch / "b"
    rows = small_batch(cli, out)
    (out / rows[6]["image"]).unlink()
    verify_fails(cli, out, (7, "factory_data.bin: No such file or directory"))


def test_verify_finds_a_row_listed_twice(cli, scratch):
    out = scratch / "b"
    rows = small_batch(cli, out)
    write_manifest(out, rows + [rows[3]])
    verify_fails(cli, out, (4, "is listed twice in manifest.csv"))


def test_verify_finds_a_device_directory_missing_from_the_manifest(cli, scratch):
    out = scratch / "b"
    small_batch(cli, out)
    shutil.copytree(out / "devices" / "000002", out / "devices" / "000009")
    verify_fails(cli, out, (9, "(devices/000009) has no row in manifest.csv"))


def test_verify_finds_changed_sibling_files(cli, scratch):
    out = scratch / "b"
    small_batch(cli, out)
    device = out / "devices" / "000002"
    text = (device / "factory_data.json").read_text()
    (device / "factory_data.json").write_text(text.replace("LOT7-0002", "LOT7-0009"))
    hex_path = out / "devices" / "000005" / "factory_data.hex"
    lines = hex_path.read_text().splitlines()
    lines = lines[:2] + lines[3:]  # a data record dropped
    hex_path.write_text("\n".join(lines) + "\n")
    txt = out / "devices" / "000007" / "factory_data.txt"
    other = (out / "devices" / "000008" / "factory_data.txt").read_text()
    txt.write_text(other)
    verify_fails(cli, out, (2, "factory_data.json does not hold the image's values"),
                 (5, "factory_data.hex does not hold the image"),
                 (7, "factory_data.txt QRCode: passcode differs from the data's"))


# --------------------------------------------------------------------------- 4. CSV input

GOOD_CSV_ROWS = [
    # sn, passcode, discriminator, spake2_salt (base64), rd_uid (hex)
    ("CSV-A-1", 34567890, 1, base64.b64encode(b"A" * 16).decode(), "0A" * 16),
    ("CSV-B-22", 1, 4095, base64.b64encode(b"B" * 32).decode(), "hex:" + "bb" * 32),
    ("CSV-C-333", 99999998, 2048, base64.b64encode(bytes(range(20))).decode(), "0c" * 20),
]


def write_csv(path: Path, header, rows) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_csv_values_are_used_exactly(cli, scratch, tmp_path):
    from matter_factory_data.core import onboarding

    given = write_csv(tmp_path / "devices.csv",
                      ("sn", "passcode", "discriminator", "spake2_salt", "rd_uid"), GOOD_CSV_ROWS)
    out = scratch / "b"
    batch_ok(cli, out, "--csv", given, *FAST, *NO_QR, "--jobs", "2")
    rows = manifest_rows(out)
    assert len(rows) == 3
    for row, (sn, passcode, disc, salt, rd_uid) in zip(rows, GOOD_CSV_ROWS):
        data = decoded(out, row)
        assert bytes(data["sn"]) == sn.encode() and row["sn"] == sn
        assert data["discriminator"] == disc
        assert bytes(data["spake2_salt"]) == base64.b64decode(salt)
        assert bytes(data["rd_uid"]) == bytes.fromhex(rd_uid.removeprefix("hex:"))
        payload = onboarding.parse_qr_code(row["qr_payload"])
        assert (payload.passcode, payload.discriminator) == (passcode, disc)
        manual = onboarding.parse_manual_code(row["manual_code"])
        assert manual.passcode == passcode
        assert codes_file((out / row["image"]).parent)["QRCode"] == row["qr_payload"]
    result = cli("verify", out, "--jobs", "1")  # the verifiers derive from the CSV passcodes
    assert result.code == 0, result


def test_csv_with_only_some_columns_generates_the_rest(cli, scratch, tmp_path):
    given = write_csv(tmp_path / "sn.csv", ("sn",), [("X-1",), ("X-2",), ("X-3",), ("X-4",)])
    out = scratch / "b"
    batch_ok(cli, out, "--csv", given, "--count", "4", *FAST, *NO_QR, "--jobs", "1")
    facts = identity_facts(out, manifest_rows(out))
    assert [f["sn"] for f in facts] == ["X-1", "X-2", "X-3", "X-4"]
    assert_unique(facts, "rd_uid", "discriminator", "dac_serial", "dac_public")


HEADER = ("sn", "passcode", "discriminator", "spake2_salt", "rd_uid")
SALT = base64.b64encode(b"s" * 16).decode()
RD = "ab" * 16


def rows_with(line, column, value, count=3):
    rows = [[f"S-{i}", 20202021 + i, 100 + i, SALT, f"{i:02x}" * 16] for i in range(1, count + 1)]
    rows[line - 2][HEADER.index(column)] = value
    return rows


# (id, header, rows, extra args, fragments of the one-line message)
BAD_CSV = [
    ("unknown-column", HEADER + ("colour",), [r + ["red"] for r in rows_with(2, "sn", "S-1")], (),
     ("'colour'", "column")),
    ("empty-cell", HEADER, rows_with(3, "passcode", ""), (), ("line 3", "passcode", "empty")),
    ("passcode-11111111", HEADER, rows_with(3, "passcode", "11111111"), (),
     ("line 3", "passcode")),
    ("passcode-123456789", HEADER, rows_with(2, "passcode", "123456789"), (),
     ("line 2", "123456789", "range")),
    ("passcode-0", HEADER, rows_with(4, "passcode", "0"), (), ("line 4", "passcode")),
    ("discriminator-4096", HEADER, rows_with(2, "discriminator", "4096"), (),
     ("line 2", "4096", "0..4095")),
    ("salt-not-base64", HEADER, rows_with(3, "spake2_salt", "not*base64"), (),
     ("line 3", "spake2_salt", "base64")),
    ("salt-15-bytes", HEADER, rows_with(2, "spake2_salt", base64.b64encode(b"x" * 15).decode()),
     (), ("line 2", "15 bytes")),
    ("rd-uid-not-hex", HEADER, rows_with(4, "rd_uid", "zz" * 16), (), ("line 4", "rd_uid", "hex")),
    ("rd-uid-15-bytes", HEADER, rows_with(4, "rd_uid", "aa" * 15), (), ("line 4", "15 bytes")),
    ("sn-too-long", HEADER, rows_with(2, "sn", "S" * 33), (), ("line 2", "33 bytes")),
    ("duplicate-sn", HEADER, rows_with(4, "sn", "S-1"), (), ("2", "4", "sn")),
    ("duplicate-rd-uid", HEADER, rows_with(3, "rd_uid", "01" * 16), (), ("2", "3", "rd_uid")),
    ("duplicate-discriminator", HEADER, rows_with(3, "discriminator", "101"), (),
     ("2", "3", "discriminator", "--allow_shared_discriminators")),
    ("duplicate-pair-even-shared", ("passcode", "discriminator"),
     [[20202022, 7], [20202023, 8], [20202022, 7]], ("--allow_shared_discriminators",),
     ("2", "4", "passcode")),
    ("count-differs", HEADER, rows_with(2, "sn", "S-1"), ("--count", "4"),
     ("--count 4", "3 rows")),
    ("sn-and-template", HEADER, rows_with(2, "sn", "S-1"), ("--sn_template", "SN-{n}"),
     ("--sn_template", "sn")),
    ("discriminator-and-sequential", HEADER, rows_with(2, "sn", "S-1"),
     ("--discriminators", "sequential"), ("--discriminators sequential",)),
    ("missing-value", HEADER, [r[:4] if i == 1 else r for i, r in
                               enumerate(rows_with(2, "sn", "S-1"))], (), ("line 3",)),
    ("no-rows", HEADER, [], (), ("no device rows",)),
    pytest.param("duplicate-column", ("sn", "passcode", "sn"),
                 [["A", 20202022, "B"], ["C", 20202023, "D"]], (), ("sn",),
                 id="duplicate-column"),
]


@pytest.mark.parametrize("case_id, header, rows, extra, fragments",
                         [pytest.param(*c, id=c[0]) if type(c) is tuple else c for c in BAD_CSV])
def test_bad_csv_is_refused(cli, scratch, tmp_path, case_id, header, rows, extra, fragments):
    given = write_csv(tmp_path / "devices.csv", header, rows)
    out = scratch / "b"
    result = cli("batch", "-o", out, "--csv", given, *FAST, *NO_QR, "--jobs", "1", *extra)
    assert_one_line_error(result, 2, *fragments)
    assert not out.exists()


def test_csv_shared_discriminators_allowed_when_asked(cli, scratch, tmp_path):
    given = write_csv(tmp_path / "d.csv", ("discriminator",), [(7,), (8,), (7,), (7,)])
    out = scratch / "b"
    batch_ok(cli, out, "--csv", given, "--allow_shared_discriminators", *FAST, *NO_QR,
             "--jobs", "1")
    rows = manifest_rows(out)
    assert [r["discriminator"] for r in rows] == ["7", "8", "7", "7"]
    assert [r["shares_discriminator_with"] for r in rows] == ["", "", "1", "1 3"]
    facts = identity_facts(out, rows)
    assert_unique(facts, "pair", "sn")
    assert cli("verify", out, "--jobs", "1").code == 0


# --------------------------------------------------------------------------- 5. --seed

def tree(directory: Path) -> dict:
    """Every file with its bytes and mode (the run-independent part of a batch: not the
    lot's ledger, which records when and where each identity was claimed)."""
    return {name: value for name, value in snapshot(directory).items()
            if not str(name).startswith("ledger.db")}


def test_same_seed_gives_identical_batches(cli, scratch):
    one, two = scratch / "one", scratch / "two"
    batch_ok(cli, one, "--count", "9", *FAST, "--seed", "lot-2024-07", "--jobs", "2")
    batch_ok(cli, two, "--count", "9", *FAST, "--seed", "lot-2024-07", "--jobs", "1")
    a, b = tree(one), tree(two)
    assert sorted(a) == sorted(b)
    for name in ("PAI_cert.der", "PAI_key.der", "PAA_cert.der", "PAA_key.der", "manifest.csv",
                 "batch.json", "devices/000009/factory_data.bin", "devices/000001/qr.png"):
        assert name in a, name
    different = [name for name in a if a[name] != b[name]]
    assert not different, different
    assert cli("verify", one, "--jobs", "1").code == 0


def test_different_seed_gives_different_values(cli, scratch):
    one, two = scratch / "one", scratch / "two"
    batch_ok(cli, one, "--count", "6", *FAST, *NO_QR, "--seed", "A", "--jobs", "1")
    batch_ok(cli, two, "--count", "6", *FAST, *NO_QR, "--seed", "B", "--jobs", "1")
    fa, fb = identity_facts(one, manifest_rows(one)), identity_facts(two, manifest_rows(two))
    for field in ("sn", "passcode", "discriminator", "rd_uid", "dac_serial", "dac_key"):
        assert [f[field] for f in fa] != [f[field] for f in fb], field
        assert not {f[field] for f in fa} & {f[field] for f in fb}, field
    assert (one / "PAI_cert.der").read_bytes() != (two / "PAI_cert.der").read_bytes()
    assert (one / "PAA_key.der").read_bytes() != (two / "PAA_key.der").read_bytes()


def test_unseeded_batches_differ(cli, scratch):
    one, two = scratch / "one", scratch / "two"
    for out in (one, two):
        batch_ok(cli, out, "--count", "4", *FAST, *NO_QR, "--jobs", "1",
                 "--sn_template", "S{n}")
    fa, fb = identity_facts(one, manifest_rows(one)), identity_facts(two, manifest_rows(two))
    for field in ("passcode", "rd_uid", "dac_serial", "dac_key"):
        assert not {f[field] for f in fa} & {f[field] for f in fb}, field


# --------------------------------------------------------------------------- 6. bad input

@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


@pytest.mark.parametrize("option, value, fragment", [
    ("--sn", "SN-1", "--sn_template"),
    ("--passcode", "20202021", "--csv"),
    ("--spake2_salt", SALT, "--csv"),
    ("--spake2_verifier", base64.b64encode(b"\x04" * 97).decode(), "passcode"),
    ("--rd_uid", RD, "--csv"),
    ("--dac_cert", "pki:pai_cert", "DAC"),
    ("--dac_key", "pki:pai_key", "DAC"),
    ("--dac_key_password", "hunter2", "--dac_key_password"),
])
def test_per_device_options_are_refused(cli, scratch, pki, option, value, fragment):
    if value.startswith("pki:"):
        value = pki[value[4:]]
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR, option, value)
    assert_one_line_error(result, 2, option, fragment)
    assert "hunter2" not in result.err
    assert not out.exists()


def pai_args(paths, *names):
    out = []
    for name in names:
        out += [f"--{name}", str(paths[name])]
    return out


def test_given_pai_signs_every_dac(cli, scratch, pki):
    from cryptography import x509

    out = scratch / "b"
    batch_ok(cli, out, "--count", "3", *FAST, *NO_QR, "--jobs", "1",
             *pai_args(pki, "pai_cert", "pai_key"))
    assert (out / "PAI_cert.der").read_bytes() == pki["pai_cert"].read_bytes()
    assert not (out / "PAI_key.der").exists()  # the given key is not copied
    pai = x509.load_der_x509_certificate(pki["pai_cert"].read_bytes())
    for row in manifest_rows(out):
        dac = x509.load_der_x509_certificate(bytes(decoded(out, row)["dac_cert"]))
        dac.verify_directly_issued_by(pai)
    result = cli("verify", out, "--paa_cert", pki["paa_cert"], "--jobs", "1")
    assert result.code == 0, result


def test_verify_against_a_foreign_paa_fails(cli, scratch, pki, tmp_path):
    out = scratch / "b"
    batch_ok(cli, out, "--count", "2", *FAST, *NO_QR, "--jobs", "1",
             *pai_args(pki, "pai_cert", "pai_key"))
    other = make_pki(tmp_path / "other")
    result = cli("verify", out, "--paa_cert", other["paa_cert"], "--jobs", "1")
    assert result.code != 0, result
    assert re.search(r"FAIL\s+device 1: ", result.out), result.out
    result = cli("verify", out, "--pai_cert", other["pai_cert"], "--jobs", "1")
    assert result.code != 0, result


def test_given_pai_checked_against_paa(cli, scratch, pki, tmp_path):
    """The PAI is checked against --paa_cert by its signature, not by names: a PAA with the
    same subject but another key is refused before anything is made; the real one passes,
    and verify confirms the series chains to it."""
    look_alike = make_pki(tmp_path / "look-alike")  # same subject names, other keys
    refused = cli("batch", "-o", scratch / "x", "--count", "2", *FAST, *NO_QR,
                  *pai_args(pki, "pai_cert", "pai_key"), "--paa_cert", look_alike["paa_cert"])
    assert_one_line_error(refused, 2, f"--pai_cert {pki['pai_cert']} was not issued by "
                                      f"--paa_cert {look_alike['paa_cert']}")
    assert not (scratch / "x").exists()
    out = scratch / "b"
    batch_ok(cli, out, "--count", "2", *FAST, *NO_QR, "--jobs", "1",
             *pai_args(pki, "pai_cert", "pai_key", "paa_cert"))
    checked = cli("verify", out, "--paa_cert", pki["paa_cert"], "--jobs", "1")
    assert checked.code == 0 and "FAIL" not in checked.out, checked


def test_given_pai_with_a_foreign_paa_is_refused(cli, scratch, pki, tmp_path):
    other = make_pki(tmp_path / "other")
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR,
                 *pai_args(pki, "pai_cert", "pai_key"), "--paa_cert", other["paa_cert"])
    assert_one_line_error(result, 2, "--paa_cert")
    assert not out.exists()


@pytest.mark.parametrize("pki_options, fragments", [
    ({"pai_key_matches": False}, ("--pai_key", "--pai_cert")),
    ({"vendor_id": 0xFFF2}, ("0xFFF2", "vendor", "0xFFF1")),
    ({"product_id": 0x8001}, ("0x8001", "product", "0x8000")),
], ids=["pai-key-mismatch", "pai-other-vid", "pai-other-pid"])
def test_bad_pai_is_refused(cli, scratch, tmp_path, pki_options, fragments):
    paths = make_pki(tmp_path / "bad", **pki_options)
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR,
                 *pai_args(paths, "pai_cert", "pai_key"))
    assert_one_line_error(result, 2, *fragments)
    assert not out.exists()


def test_pai_cert_without_key_is_refused(cli, scratch, pki):
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR, *pai_args(pki, "pai_cert"))
    assert_one_line_error(result, 2, "--pai_key")
    assert not out.exists()


# (id, args, exit code, fragments)
BAD_ARGS = [
    ("template-without-n", ("--count", "3", "--sn_template", "SN-FIXED"), 2,
     ("--sn_template", "same serial")),
    ("template-float", ("--count", "3", "--sn_template", "SN-{n:.1e}"), 2, ("--sn_template",)),
    ("template-too-long", ("--count", "100", "--sn_template", "A" * 30 + "{n}"), 2,
     ("--sn_template", "33 bytes")),
    ("template-bad-syntax", ("--count", "3", "--sn_template", "SN-{n"), 2, ("--sn_template",)),
    # '{n:0<3}' gives devices 1, 10 and 100 the serial '100': refused before any device.
    ("template-digit-fill", ("--count", "12", "--sn_template", "{n:0<3}"), 2,
     ("--sn_template",)),
    ("template-hex-fill", ("--count", "12", "--sn_template", "{n:a>3x}"), 2,
     ("--sn_template",)),
    ("count-over-4096", ("--count", "5000"), 2, ("--allow_shared_discriminators",)),
    ("count-zero", ("--count", "0"), 2, ("--count",)),
    ("count-missing", (), 2, ("--count",)),
    ("jobs-zero", ("--count", "2", "--jobs", "0"), 2, ("--jobs",)),
    ("discriminator-4096", ("--count", "2", "--discriminators", "sequential",
                            "--discriminator", "4096"), 2, ("--discriminator", "4096")),
    ("discriminator-with-random", ("--count", "2", "--discriminator", "5"), 2,
     ("--discriminator",)),
    ("partition-too-small", ("--count", "2", "--size", "0x200"), 1,
     ("partition", "0x200")),
    ("vendor-id-bad", ("--count", "2", "--vendor_id", "0xFFF5"), 2, ("--vendor_id",)),
    ("iterations-low", ("--count", "2", "--spake2_it", "999"), 2, ("--spake2_it",)),
]


@pytest.mark.parametrize("case_id, args, code, fragments",
                         [pytest.param(*c, id=c[0]) if type(c) is tuple else c
                          for c in BAD_ARGS])
def test_bad_batch_arguments_create_nothing(cli, scratch, case_id, args, code, fragments):
    out = scratch / "b"
    result = cli("batch", "-o", out, *FAST, *NO_QR, "--jobs", "1", *args)
    assert_one_line_error(result, code, *fragments)
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


def test_missing_common_values_without_defaults(cli, scratch):
    out = scratch / "b"
    result = cli("batch", "-o", out, "--count", "2", "--spake2_it", "1000")
    assert_one_line_error(result, 2, "--vendor_id", "--defaults")
    assert not out.exists()


@pytest.mark.parametrize("change, fragment", [
    # The message names the value that differs (not a truncated dump of all common values).
    (("--vendor_id", "0xFFF2"), "vendor_id"),
    (("--seed", "other seed"), "seed"),
    (("--qr", "svg"), "qr"),
    (("--sn_template", "X{n}"), "sn_template"),
    (("--include_passcode",), "include_passcode"),
], ids=lambda v: v[0].strip("-").replace("_", "-") if isinstance(v, tuple) else None)
def test_directory_of_another_batch_is_refused(cli, scratch, change, fragment):
    out = scratch / "b"
    base = ("--count", "3", *FAST, "--jobs", "1", "--sn_template", "S{n}", "--seed", "one")
    args = list(base) + ["--qr", "none"]
    batch_ok(cli, out, *args)
    before = snapshot(out)
    changed = list(args)
    if change[0] in changed:
        changed[changed.index(change[0]) + 1] = change[1]
    else:
        changed += list(change)
    result = cli("batch", "-o", out, *changed, "--count", "5")
    assert_one_line_error(result, 2, "different batch", fragment)  # usage: exit 2
    assert snapshot(out) == before


def test_directory_with_unrelated_files_is_refused(cli, scratch):
    out = scratch / "b"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR)
    assert_one_line_error(result, 2, str(out))  # usage: exit 2
    assert snapshot(out) == before


def test_output_that_is_a_file_is_refused(cli, scratch):
    out = scratch / "b"
    out.write_text("a file")
    result = cli("batch", "-o", out, "--count", "2", *FAST, *NO_QR)
    assert result.code != 0 and len(result.err.strip().splitlines()) == 1, result
    assert out.read_text() == "a file"


def test_rerun_of_a_finished_batch_changes_nothing(cli, scratch):
    out = scratch / "b"
    args = ("--count", "4", *FAST, *NO_QR, "--jobs", "1")
    batch_ok(cli, out, *args)
    before = snapshot(out)
    result = batch_ok(cli, out, *args)
    assert "nothing to do" in result.out
    assert snapshot(out) == before


# --------------------------------------------------------------------------- 7. outputs

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_permissions_codes_and_hex(cli, scratch):
    from cryptography import x509

    from matter_factory_data.core import onboarding, spake2p

    out = scratch / "b"
    batch_ok(cli, out, "--count", "5", *FAST, "--jobs", "2", "--offset", "0xF7000",
             "--size", "0x1000", "--sn_template", "P-{n:03d}")
    rows = manifest_rows(out)
    assert manifest_header(out) == ["index", "sn", "vendor_id", "product_id", "discriminator",
                                    "qr_payload", "manual_code", "dac_serial", "image",
                                    "image_sha256"]
    # Permissions: devices' files and directories are private, so are the keys.
    assert mode(out / "devices") == 0o700
    for device in (out / "devices").iterdir():
        assert not device.name.startswith("."), device
        assert mode(device) == 0o700, device
        names = sorted(p.name for p in device.iterdir())
        assert names == ["factory_data.bin", "factory_data.hex", "factory_data.json",
                         "factory_data.txt", "qr.png"], names
        for path in device.iterdir():
            assert mode(path) == 0o600, path
    assert mode(out / "PAI_key.der") == 0o600
    assert mode(out / "PAA_key.der") == 0o600
    # The manifest holds no key material.
    text = (out / "manifest.csv").read_text()
    assert "dac_key" not in text and "passcode" not in manifest_header(out)
    pai = x509.load_der_x509_certificate((out / "PAI_cert.der").read_bytes())
    paa = x509.load_der_x509_certificate((out / "PAA_cert.der").read_bytes())
    pai.verify_directly_issued_by(paa)
    for row in rows:
        data = decoded(out, row)
        device = (out / row["image"]).parent
        scalar = bytes(data["dac_key"]).hex()
        assert scalar not in text.lower()
        assert hashlib.sha256(image(out, row)).hexdigest() == row["image_sha256"]
        # The .hex holds the image at the partition offset.
        memory = parse_intel_hex((device / "factory_data.hex").read_text())
        assert min(memory) == 0xF7000
        blob = image(out, row)
        assert bytes(memory[0xF7000 + i] for i in range(len(blob))) == blob
        assert len(memory) == len(blob)
        # Codes: manifest == factory_data.txt, and they decode to what the image holds.
        codes = codes_file(device)
        assert codes["QRCode"] == row["qr_payload"]
        assert codes["Manualcode"] == row["manual_code"]
        payload = onboarding.parse_qr_code(row["qr_payload"])
        assert (payload.vendor_id, payload.product_id, payload.discriminator) == (
            data["vendor_id"], data["product_id"], data["discriminator"])
        assert f"0x{data['vendor_id']:04X}" == row["vendor_id"]
        manual = onboarding.parse_manual_code(row["manual_code"])
        assert manual.passcode == payload.passcode
        assert manual.short_discriminator == data["discriminator"] >> 8
        assert bytes(data["spake2_verifier"]) == spake2p.compute_verifier(
            payload.passcode, bytes(data["spake2_salt"]), data["spake2_it"])
        assert "passcode" not in data
        # The DAC chains to the series' PAI and carries the batch's VID/PID.
        dac = x509.load_der_x509_certificate(bytes(data["dac_cert"]))
        dac.verify_directly_issued_by(pai)
        assert f"{dac.serial_number:x}" == row["dac_serial"]
        assert bytes(data["pai_cert"]) == (out / "PAI_cert.der").read_bytes()
        assert (device / "qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_include_passcode(cli, scratch):
    from matter_factory_data.core import onboarding

    out = scratch / "b"
    batch_ok(cli, out, "--count", "3", *FAST, *NO_QR, "--jobs", "1", "--include_passcode")
    assert "passcode" in manifest_header(out)
    assert mode(out / "manifest.csv") == 0o600  # it now holds every passcode
    for row in manifest_rows(out):
        passcode = onboarding.parse_qr_code(row["qr_payload"]).passcode
        assert row["passcode"] == str(passcode)
        assert decoded(out, row)["passcode"] == passcode
    assert cli("verify", out, "--jobs", "1").code == 0


@pytest.mark.parametrize("qr, expected", [("svg", "qr.svg"), ("none", None), ("png", "qr.png")])
def test_qr_formats(cli, scratch, qr, expected):
    out = scratch / "b"
    batch_ok(cli, out, "--count", "2", *FAST, "--jobs", "1", "--qr", qr)
    images = set()
    for device in (out / "devices").iterdir():
        names = {p.name for p in device.iterdir() if p.name.startswith("qr.")}
        assert names == ({expected} if expected else set()), names
        if expected:
            data = (device / expected).read_bytes()
            images.add(data)
            if qr == "svg":
                assert b"<svg" in data and data.rstrip().endswith(b"</svg>")
    assert len(images) == (2 if expected else 0)  # each device its own code
    assert cli("verify", out, "--jobs", "1").code == 0


# --------------------------------------------------------------------------- 8. west

def test_west_factory_data_batch(west_workspace, west, scratch):
    out = scratch / "b"
    code, _, err = west("factory-data", "batch", "-o", out, "--count", "3", *FAST, *NO_QR,
                        "--jobs", "2", "--sn_template", "W-{n}")
    assert code == 0, err
    rows = manifest_rows(out)
    assert [r["sn"] for r in rows] == ["W-1", "W-2", "W-3"]
    code, out_text, err = west("factory-data", "verify", out, "--jobs", "1")
    assert code == 0, err
    code, _, err = west("factory-data", "batch", "-o", scratch / "c", "--count", "3", *FAST,
                        "--sn", "X")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--sn" in err, err
    assert "Traceback" not in err
    assert not (scratch / "c").exists()
