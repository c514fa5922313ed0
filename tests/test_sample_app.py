"""sample_app/: the Zephyr sample that reads the factory data partition.

A Zephyr build is not possible here, so the parts are checked separately:

* the C reader (sample_app/src/factory_data_reader.c) is compiled on the host with the
  system C compiler (with AddressSanitizer/UBSan when available) and run on images made by
  our CLI and on crafted CBOR of every type, truncated and corrupt;
* main.c itself is compiled on the host against small stand-ins of the Zephyr headers it
  uses (tests/sample_app_host/) and run on a partition image, for the devicetree and the
  Partition Manager variants;
* prj.conf against kconfig/Kconfig; pm_static.yml with our `check` command; the devicetree
  overlay against the board's upstream partitions and pm_static.yml;
* the module's CMake in the Zephyr stand-in of test_cmake.py, configured with the sample's
  prj.conf, pm_static.yml and overlay: the generated image must hold prj.conf's identity.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import cbor2
import kconfiglib
import pytest
from conftest import REPO_ROOT, golden_args
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SAMPLE = REPO_ROOT / "sample_app"
SRC = SAMPLE / "src"
HOST = REPO_ROOT / "tests" / "sample_app_host"
STANDIN = REPO_ROOT / "tests" / "cmake_standin"
OVERLAY = SAMPLE / "boards" / "nrf52840dk_nrf52840.overlay"
PM_STATIC = SAMPLE / "pm_static.yml"


# --- building the host programs ---------------------------------------------------------

def _compiler():
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


CC = _compiler()
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc, gcc or clang) found")
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer"]
# Sanitizer reports must not look like the driver's own exit codes (0 parsed, 1 not parsed).
SANITIZER_ENV = {"ASAN_OPTIONS": "exitcode=86:detect_leaks=0",
                 "UBSAN_OPTIONS": "exitcode=87:halt_on_error=1:print_stacktrace=1"}


def _compile(out: Path, sources, flags) -> Path:
    """Compile with sanitizers when the toolchain has them, else without."""
    base = [CC, "-Wall", "-Wextra", "-Werror", "-O1", "-g", *flags, "-o", str(out),
            *map(str, sources)]
    for extra in (SANITIZE, []):
        proc = subprocess.run(base[:1] + extra + base[1:], capture_output=True, text=True)
        if proc.returncode == 0:
            return out
    raise AssertionError(f"compilation failed: {' '.join(base)}\n{proc.stdout}{proc.stderr}")


@pytest.fixture(scope="session")
def reader(tmp_path_factory):
    """The reader + host driver, compiled as strict C99."""
    if CC is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("fdr") / "fdr_host"
    return _compile(out, [SRC / "factory_data_reader.c", HOST / "fdr_host.c"],
                    ["-std=c99", "-pedantic", "-Wconversion", "-Wshadow", f"-I{SRC}"])


def _app(tmp_path_factory, name: str, defines, includes=()) -> Path:
    out = tmp_path_factory.mktemp(name) / "app"
    flags = ["-std=gnu11", *[f"-D{d}" for d in defines], f"-I{HOST / 'zephyr_stub'}",
             *[f"-I{i}" for i in includes], f"-I{SRC}"]
    return _compile(out, [SRC / "main.c", SRC / "factory_data_reader.c",
                          HOST / "flash_stub.c"], flags)


FLASH = ["STUB_ADDRESS=0xfb000", "STUB_PARTITION_SIZE=0x1000"]


@pytest.fixture(scope="session")
def app_dt(tmp_path_factory):
    """main.c built as without Partition Manager: partition from the devicetree label."""
    if CC is None:
        pytest.skip("no C compiler")
    return _app(tmp_path_factory, "app_dt", FLASH + ["STUB_DT_ID=7", "STUB_DT_SIZE=0x1000",
                                                     "STUB_EXPECTED_ID=7"])


@pytest.fixture(scope="session")
def app_pm(tmp_path_factory):
    """main.c built as with Partition Manager: PM_FACTORY_DATA_ID from pm_config.h (the
    devicetree answers a different partition, so using it would fail to open)."""
    if CC is None:
        pytest.skip("no C compiler")
    return _app(tmp_path_factory, "app_pm",
                FLASH + ["CONFIG_PARTITION_MANAGER_ENABLED=1", "STUB_NO_DT_PARTITION",
                         "STUB_DT_ID=9", "STUB_DT_SIZE=0x2000", "STUB_PM_ID=3",
                         "STUB_PM_SIZE=0x1000", "STUB_EXPECTED_ID=3"],
                includes=[HOST / "pm_stub"])


def _run(argv, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          env={**os.environ, **SANITIZER_ENV, **(env or {})}, timeout=120)
    assert proc.returncode in (0, 1) and not proc.stderr, \
        f"crash or sanitizer report (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def parse_all(reader: Path, tmp_path: Path, images) -> list[dict]:
    """Run the reader once on every image; one dict of printed fields per image."""
    paths = []
    for number, data in enumerate(images):
        path = tmp_path / f"image_{number}.bin"
        path.write_bytes(data)
        paths.append(path)
    out = _run([reader, *paths]).stdout
    blocks = [b for b in re.split(r"^(?=file=)", out, flags=re.M) if b.strip()]
    results = [dict(line.split("=", 1) for line in block.splitlines()) for block in blocks]
    assert [r["file"] for r in results] == [str(p) for p in paths]
    return results


def parse_one(reader: Path, tmp_path: Path, data: bytes) -> dict:
    return parse_all(reader, tmp_path, [data])[0]


def prefix_statuses(reader: Path, tmp_path: Path, data: bytes) -> dict[int, str]:
    path = tmp_path / "prefixes.bin"
    path.write_bytes(data)
    lines = _run([reader, "--prefixes", path]).stdout.splitlines()
    statuses = {int(n): s for _, n, s in (line.split() for line in lines)}
    assert sorted(statuses) == list(range(len(data) + 1))
    return statuses


def fields_of(device_map: dict) -> dict:
    """What the reader must print for a decoded map (missing keys print 'missing')."""
    def num(key):
        return str(device_map[key]) if key in device_map else "missing"

    sn = device_map.get("sn")
    if isinstance(sn, str):
        sn = sn.encode()
    return {"version": num("version"), "vendor_id": num("vendor_id"),
            "product_id": num("product_id"), "discriminator": num("discriminator"),
            "sn_hex": sn.hex() if sn is not None else "missing"}


def decode_image(data: bytes) -> tuple[dict, int]:
    """The map at the start of ``data`` (cbor2, independent of the C reader), its length."""
    stream = io.BytesIO(data)
    value = cbor2.CBORDecoder(stream).decode()
    return value, stream.tell()


# --- images made by our CLI -----------------------------------------------------------

def _generate(cli, tmp_path: Path, args: list, name: str) -> Path:
    prefix = tmp_path / name
    result = cli("generate", *args, "-o", prefix, "--offset", "0xfb000", "--size", "0x1000",
                 "--overwrite")
    assert result.code == 0, result
    return prefix.with_suffix(".bin")


def golden_inputs(golden: Path) -> list:
    """The golden vector's identity and credentials, without its output options."""
    args = [str(a) for a in golden_args(golden, "unused")]
    assert args[-6::2] == ["--out", "--offset", "--size"]
    return args[:-6]


IDENTITIES = [
    # (vendor_id, product_id, sn, discriminator, extra generate options)
    (0xFFF2, 0x1234, "A", 0, ["--user", '{"a": 1, "b": "x", "c": {"d": -5, "e": [1, "two"]}}']),
    (0xFFF3, 0xFFFF, "sn-with-32-bytes-0123456789abcde", 0xFFF,
     ["--product_color", "silver", "--rd_uid", "00112233445566778899aabbccddeeff",
      "--product_url", "https://example.com/p", "--product_label", "Lamp",
      "--part_number", "PN-1", "--include_passcode"]),
    (1, 1, "\u00e9t\u00e9-2024", 0x5A5, ["--enable_key", ""]),
]


@needs_cc
def test_reader_reads_the_golden_image(reader, golden, tmp_path):
    data = (golden / "factory_data.bin").read_bytes()
    device_map, used = decode_image(data)
    got = parse_one(reader, tmp_path, data)
    assert got["status"] == "FDR_OK"
    assert {k: got[k] for k in fields_of(device_map)} == fields_of(device_map)
    assert int(got["entries"]) == len(device_map)
    assert int(got["length"]) == used + 1 == len(data)


@needs_cc
def test_reader_reads_images_generated_by_the_cli(reader, cli, golden, tmp_path):
    images, expected = [], []
    golden_bin = _generate(cli, tmp_path, golden_inputs(golden),
                           "golden")
    images.append(golden_bin.read_bytes())
    expected.append({"vendor_id": "65521", "product_id": "32774",
                     "sn_hex": b"11223344556677889900".hex(), "discriminator": "3840"})
    for number, (vid, pid, sn, disc, extra) in enumerate(IDENTITIES):
        args = ["--defaults", "--gen_certs", "--vendor_id", hex(vid), "--product_id", hex(pid),
                "--sn", sn, "--discriminator", hex(disc), *extra]
        images.append(_generate(cli, tmp_path / f"id{number}", args, "fd").read_bytes())
        expected.append({"vendor_id": str(vid), "product_id": str(pid),
                         "sn_hex": sn.encode().hex(), "discriminator": str(disc)})
    results = parse_all(reader, tmp_path, images)
    for data, want, got in zip(images, expected, results):
        assert got["status"] == "FDR_OK", got
        assert {k: got[k] for k in want} == want
        assert got["version"] == "1"
        device_map, used = decode_image(data)
        assert int(got["entries"]) == len(device_map)
        assert int(got["length"]) == used + 1


@needs_cc
def test_every_truncation_of_a_generated_image_is_rejected(reader, cli, golden, tmp_path):
    data = _generate(cli, tmp_path, golden_inputs(golden),
                     "fd").read_bytes()
    statuses = prefix_statuses(reader, tmp_path, data)
    assert statuses.pop(len(data)) == "FDR_OK"
    assert set(statuses.values()) == {"FDR_TRUNCATED"}


# --- crafted CBOR ----------------------------------------------------------------------

def head(major: int, value: int) -> bytes:
    """A CBOR head in the shortest form (cbor2 makes the same; kept explicit here)."""
    if value < 24:
        return bytes([major << 5 | value])
    for ai, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * width):
            return bytes([major << 5 | ai]) + value.to_bytes(width, "big")
    raise ValueError(value)


def tstr(text: str) -> bytes:
    raw = text.encode()
    return head(3, len(raw)) + raw


def cbor_map(entries, indefinite: bool = False) -> bytes:
    """A map from (encoded key or text, encoded value) pairs, in order, duplicates allowed."""
    body = b"".join((tstr(k) if isinstance(k, str) else k) + v for k, v in entries)
    return (b"\xbf" + body + b"\xff") if indefinite else head(5, len(entries)) + body


IDENTITY = [("version", cbor2.dumps(1)), ("vendor_id", cbor2.dumps(0xFFF1)),
            ("product_id", cbor2.dumps(0x8006)), ("sn", cbor2.dumps(b"SN-42")),
            ("discriminator", cbor2.dumps(0xF00))]
IDENTITY_FIELDS = {"version": "1", "vendor_id": str(0xFFF1), "product_id": str(0x8006),
                   "sn_hex": b"SN-42".hex(), "discriminator": str(0xF00)}

# Values of every CBOR major type and encoding the reader must step over exactly.
JUNK = {
    "uint_small": cbor2.dumps(23), "uint8": cbor2.dumps(24), "uint16": cbor2.dumps(256),
    "uint32": cbor2.dumps(65536), "uint64": cbor2.dumps(2**64 - 1),
    "uint_non_minimal": b"\x1b" + (5).to_bytes(8, "big"),
    "nint_small": cbor2.dumps(-1), "nint8": cbor2.dumps(-25), "nint16": cbor2.dumps(-257),
    "nint32": cbor2.dumps(-65537), "nint64": cbor2.dumps(-(2**64)),
    "bstr_empty": cbor2.dumps(b""), "bstr23": cbor2.dumps(b"x" * 23),
    "bstr24": cbor2.dumps(b"y" * 24), "bstr300": cbor2.dumps(bytes(range(256)) + b"z" * 44),
    "bstr_with_ff": cbor2.dumps(b"\xff\xff\x00\xff"),
    "bstr70000": cbor2.dumps(b"w" * 70000),
    "tstr_empty": cbor2.dumps(""), "tstr_utf8": cbor2.dumps("\u00e9t\u00e9 \u2603"),
    "tstr256": cbor2.dumps("t" * 256),
    "bstr_indefinite": b"\x5f\x41a\x42bc\x40\xff", "bstr_indefinite_empty": b"\x5f\xff",
    "tstr_indefinite": b"\x7f\x61a\x62bc\xff",
    "array_empty": cbor2.dumps([]), "array_nested": cbor2.dumps([1, [2, [3, [b"4"]]], "5"]),
    "array_mixed": cbor2.dumps([b"a", "b", -3, {"k": -1}, None, True, 1.5]),
    "array_long": cbor2.dumps(list(range(30))),
    "array_indefinite": b"\x9f\x01\x9f\x02\xff\xbf\x61k\x03\xff\xff",
    "map_empty": cbor2.dumps({}),
    "map_user": cbor2.dumps({"n": 1, "s": "t", "b": b"\x00", "m": {"x": [1, {"y": -2}]}}),
    "map_int_keys": cbor2.dumps({1: 2, -3: b"4", b"k": "v"}),
    "map_keyed_like_known": cbor2.dumps({"vendor_id": 1, "sn": 2}),
    "map_indefinite": b"\xbf\x61a\x01\x61b\xbf\xff\xff",
    "tag_datetime": cbor2.dumps(cbor2.CBORTag(1, 1363896240)),
    "tag_self_describe": cbor2.dumps(cbor2.CBORTag(55799, {"a": 1})),
    "tag_bignum": cbor2.dumps(cbor2.CBORTag(2, b"\x01\x00")),
    "tag_nested": cbor2.dumps(cbor2.CBORTag(100, cbor2.CBORTag(200, [1]))),
    "false": cbor2.dumps(False), "true": cbor2.dumps(True), "null": cbor2.dumps(None),
    "undefined": cbor2.dumps(cbor2.undefined), "simple_16": b"\xf0",
    "simple_255": b"\xf8\xff", "half_float": b"\xf9\x3e\x00",
    "single_float": b"\xfa\x3f\xc0\x00\x00", "double_float": cbor2.dumps(1.1),
}


def junk_images(junk: dict = JUNK):
    """(name, image, expected fields, entries): each junk value before the identity, at the
    end, and all of them interleaved, in definite and indefinite maps."""
    cases = []
    for name, value in junk.items():
        entries = [(f"x_{name}", value)] + IDENTITY + [(f"y_{name}", value)]
        for indefinite in (False, True):
            cases.append((f"{name}{'_indef' if indefinite else ''}",
                          cbor_map(entries, indefinite) + b"\x00", IDENTITY_FIELDS,
                          len(entries)))
    mixed = []
    for number, (name, value) in enumerate(junk.items()):
        mixed.append((name, value))
        if number % 9 == 0 and len(mixed) < len(junk) + len(IDENTITY):
            mixed.append(IDENTITY[(number // 9) % len(IDENTITY)])
    for key, value in IDENTITY:  # whichever were not placed yet
        if (key, value) not in mixed:
            mixed.append((key, value))
    for indefinite in (False, True):
        cases.append((f"mixed{'_indef' if indefinite else ''}",
                      cbor_map(mixed, indefinite) + b"\x00\xff\xff", IDENTITY_FIELDS,
                      len(mixed)))
    return cases


@needs_cc
def test_values_of_every_cbor_type_are_skipped(reader, tmp_path):
    cases = junk_images()
    results = parse_all(reader, tmp_path, [image for _, image, _, _ in cases])
    for (name, image, want, entries), got in zip(cases, results):
        assert got["status"] == "FDR_OK", (name, got)
        assert {k: got[k] for k in want} == want, name
        assert int(got["entries"]) == entries, name
        # the length reaches the terminator (and not the bytes after it)
        assert image[int(got["length"]) - 1] == 0 and int(got["length"]) <= len(image), name


@needs_cc
def test_every_truncation_of_crafted_images_is_rejected(reader, tmp_path):
    small = {k: v for k, v in JUNK.items() if len(v) < 1000}  # every prefix is parsed
    cases = [c for c in junk_images(small) if c[0].startswith("mixed")]
    cases += [("definite", cbor_map(IDENTITY) + b"\x00", None, None),
              ("indefinite", cbor_map(IDENTITY, indefinite=True) + b"\x00", None, None)]
    for name, image, _, _ in cases:
        image = image.rstrip(b"\xff")
        statuses = prefix_statuses(reader, tmp_path, image)
        assert statuses.pop(len(image)) == "FDR_OK", name
        assert set(statuses.values()) == {"FDR_TRUNCATED"}, name


def _status_cases():
    ident = IDENTITY
    vid = cbor2.dumps(0xFFF1)
    depth = int(re.search(r"#define FDR_MAX_DEPTH (\d+)",
                          (SRC / "factory_data_reader.h").read_text()).group(1))
    nested_ok = b"\x81" * depth + b"\x01"  # an int inside FDR_MAX_DEPTH arrays
    nested_tags_too_deep = b"\xd8\x20" * (depth + 1) + b"\x01"
    return [
        # (name, image, expected status)
        ("no_data", b"", "FDR_TRUNCATED"),
        ("erased_page", b"\xff" * 4096, "FDR_EMPTY"),
        ("erased_byte", b"\xff", "FDR_EMPTY"),
        ("zeros", b"\x00" * 16, "FDR_NOT_A_MAP"),
        ("ff_then_data", b"\xff\xff\x00", "FDR_NOT_A_MAP"),
        ("self_describe_tag", b"\xd9\xd9\xf7" + cbor_map(ident) + b"\x00", "FDR_NOT_A_MAP"),
        ("top_level_array", cbor2.dumps([1, 2]) + b"\x00", "FDR_NOT_A_MAP"),
        ("top_level_bstr", cbor2.dumps(b"\xa1") + b"\x00", "FDR_NOT_A_MAP"),
        ("map_head_cut", b"\xb9\x00", "FDR_TRUNCATED"),
        ("no_terminator_byte", cbor_map(ident), "FDR_TRUNCATED"),
        ("wrong_terminator", cbor_map(ident) + b"\x01", "FDR_NO_TERMINATOR"),
        ("erased_after_map", cbor_map(ident) + b"\xff", "FDR_NO_TERMINATOR"),
        ("more_entries_than_data", head(5, 6) + cbor_map(ident)[1:] + b"\x00",
         "FDR_KEY_NOT_TEXT"),  # the terminator is read as the 6th key
        ("count_beyond_data", b"\xbb" + (2**64 - 1).to_bytes(8, "big") + tstr("a") + b"\x01",
         "FDR_TRUNCATED"),
        ("int_key", cbor_map([(cbor2.dumps(1), cbor2.dumps(2))] + ident) + b"\x00",
         "FDR_KEY_NOT_TEXT"),
        ("bstr_key", cbor_map([(cbor2.dumps(b"sn"), cbor2.dumps(b"x"))]) + b"\x00",
         "FDR_KEY_NOT_TEXT"),
        ("indefinite_text_key", cbor_map([(b"\x7f\x62sn\xff", cbor2.dumps(b"x"))]) + b"\x00",
         "FDR_KEY_NOT_TEXT"),
        ("break_in_definite_map", cbor_map([("a", b"\xff")]) + b"\x00", "FDR_MALFORMED"),
        ("reserved_ai_28", cbor_map([("a", b"\x1c")] + ident) + b"\x00", "FDR_MALFORMED"),
        ("reserved_ai_30_tag", cbor_map([("a", b"\xde\x01")] + ident) + b"\x00",
         "FDR_MALFORMED"),
        ("indefinite_uint", cbor_map([("a", b"\x1f")]) + b"\x00", "FDR_MALFORMED"),
        ("indefinite_tag", cbor_map([("a", b"\xdf\x01")]) + b"\x00", "FDR_MALFORMED"),
        ("wrong_chunk_type", cbor_map([("a", b"\x5f\x61a\xff")]) + b"\x00", "FDR_MALFORMED"),
        ("nested_indefinite_chunk", cbor_map([("a", b"\x5f\x5f\xff\xff")]) + b"\x00",
         "FDR_MALFORMED"),
        ("simple_two_byte_form_below_32", cbor_map([("a", b"\xf8\x10")]) + b"\x00",
         "FDR_MALFORMED"),
        ("vendor_id_negative", cbor_map([("vendor_id", cbor2.dumps(-1))]) + b"\x00",
         "FDR_BAD_TYPE"),
        ("vendor_id_text", cbor_map([("vendor_id", cbor2.dumps("65521"))]) + b"\x00",
         "FDR_BAD_TYPE"),
        ("vendor_id_bytes", cbor_map([("vendor_id", cbor2.dumps(b"\xff\xf1"))]) + b"\x00",
         "FDR_BAD_TYPE"),
        ("vendor_id_float", cbor_map([("vendor_id", cbor2.dumps(1.0))]) + b"\x00",
         "FDR_BAD_TYPE"),
        ("product_id_tagged", cbor_map([("product_id", b"\xc2\x41\x01")]) + b"\x00",
         "FDR_BAD_TYPE"),
        ("sn_int", cbor_map([("sn", cbor2.dumps(7))]) + b"\x00", "FDR_BAD_TYPE"),
        ("sn_chunked", cbor_map([("sn", b"\x5f\x41a\xff")]) + b"\x00", "FDR_BAD_TYPE"),
        ("sn_array", cbor_map([("sn", cbor2.dumps([b"a"]))]) + b"\x00", "FDR_BAD_TYPE"),
        ("version_too_big", cbor_map([("version", cbor2.dumps(0x10000))]) + b"\x00",
         "FDR_OUT_OF_RANGE"),
        ("vendor_id_too_big", cbor_map([("vendor_id", cbor2.dumps(0x1FFF1))]) + b"\x00",
         "FDR_OUT_OF_RANGE"),
        ("product_id_uint64", cbor_map([("product_id", cbor2.dumps(2**64 - 1))]) + b"\x00",
         "FDR_OUT_OF_RANGE"),
        ("discriminator_13_bits", cbor_map([("discriminator", cbor2.dumps(0x1000))]) + b"\x00",
         "FDR_OUT_OF_RANGE"),
        ("duplicate_vendor_id", cbor_map(ident + [("vendor_id", vid)]) + b"\x00",
         "FDR_DUPLICATE_KEY"),
        ("duplicate_sn", cbor_map(ident + [("sn", cbor2.dumps("x"))]) + b"\x00",
         "FDR_DUPLICATE_KEY"),
        ("nested_at_limit", cbor_map([("u", nested_ok)] + ident) + b"\x00", "FDR_OK"),
        ("nested_too_deep", cbor_map([("u", b"\x81" + nested_ok)] + ident) + b"\x00",
         "FDR_TOO_DEEP"),
        ("maps_too_deep", cbor_map([("u", b"\xa1\x61k" * (depth + 1) + b"\x01")]) + b"\x00",
         "FDR_TOO_DEEP"),
        ("tags_too_deep", cbor_map([("u", nested_tags_too_deep)]) + b"\x00", "FDR_TOO_DEEP"),
        ("cut_inside_key", cbor_map(ident)[:4], "FDR_TRUNCATED"),
        ("value_length_beyond_data", cbor_map([("sn", b"\x5b" + b"\x7f" * 8)]) + b"\x00",
         "FDR_TRUNCATED"),
        ("key_length_beyond_data", b"\xa1\x7b" + b"\xff" * 8 + b"\x00", "FDR_TRUNCATED"),
    ]


@needs_cc
def test_invalid_images_get_the_right_status(reader, tmp_path):
    cases = _status_cases()
    results = parse_all(reader, tmp_path, [image for _, image, _ in cases])
    got = {name: r["status"] for (name, _, _), r in zip(cases, results)}
    assert got == {name: status for name, _, status in cases}


@needs_cc
def test_reader_semantics(reader, tmp_path):
    """Exact key match (the device also accepts prefixes), text sn, non-minimal integers,
    missing keys, and nothing after the terminator is read."""
    cases = {
        "prefix_keys_are_not_known_keys": (
            cbor_map([("vendor", cbor2.dumps(5)), ("vendor_id_2", cbor2.dumps("x")),
                      ("s", cbor2.dumps(-1)), ("", cbor2.dumps(b"")),
                      ("vendor_id", cbor2.dumps(9))]) + b"\x00",
            {"vendor_id": "9", "sn_hex": "missing", "version": "missing"}),
        "text_sn": (cbor_map([("sn", cbor2.dumps("abc"))]) + b"\x00", {"sn_hex": "616263"}),
        "empty_sn": (cbor_map([("sn", cbor2.dumps(b""))]) + b"\x00", {"sn_hex": ""}),
        "non_minimal_ints": (
            cbor_map([("vendor_id", b"\x1b" + (0xFFF1).to_bytes(8, "big")),
                      ("discriminator", b"\x19\x00\x05"), ("version", b"\x18\x01")]) + b"\x00",
            {"vendor_id": str(0xFFF1), "discriminator": "5", "version": "1"}),
        "limits": (
            cbor_map([("vendor_id", cbor2.dumps(0xFFFF)), ("product_id", cbor2.dumps(0)),
                      ("discriminator", cbor2.dumps(0xFFF))]) + b"\x00",
            {"vendor_id": "65535", "product_id": "0", "discriminator": "4095"}),
        "empty_map": (b"\xa0\x00", {"vendor_id": "missing", "product_id": "missing",
                                    "discriminator": "missing", "entries": "0",
                                    "length": "2"}),
        "garbage_after_terminator": (cbor_map(IDENTITY) + b"\x00" + b"\x1c\xff\x5b",
                                     dict(IDENTITY_FIELDS)),
    }
    results = parse_all(reader, tmp_path, [image for image, _ in cases.values()])
    for (name, (_, want)), got in zip(cases.items(), results):
        assert got["status"] == "FDR_OK", (name, got)
        assert {k: got[k] for k in want} == want, name


# A CBOR value of any kind cbor2 writes (what a `user` entry or unknown key may hold).
LEAVES = (st.integers(min_value=-(2**64), max_value=2**64 - 1) | st.binary(max_size=40)
          | st.text(max_size=20) | st.booleans() | st.none() | st.floats(allow_nan=False))
VALUES = st.recursive(LEAVES, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | st.integers(), children,
                                        max_size=4), max_leaves=25)
KNOWN = st.fixed_dictionaries({
    "vendor_id": st.integers(0, 0xFFFF), "product_id": st.integers(0, 0xFFFF),
    "discriminator": st.integers(0, 0xFFF), "version": st.integers(0, 0xFFFF),
    "sn": st.binary(max_size=32) | st.text(max_size=32)})


@needs_cc
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(st.tuples(KNOWN, st.lists(st.tuples(st.text(max_size=12), VALUES),
                                                max_size=6), st.randoms()),
                      min_size=1, max_size=8))
def test_random_maps_are_read_right(reader, tmp_path, batch):
    """Random identity plus random other entries in random order: the reader finds the
    identity and counts every entry."""
    images, wants = [], []
    for known, others, rnd in batch:
        known_keys = set(known)
        entries = [(k, cbor2.dumps(v)) for k, v in known.items()]
        entries += [(k, cbor2.dumps(v)) for k, v in others if k not in known_keys]
        rnd.shuffle(entries)
        images.append(cbor_map(entries, indefinite=rnd.random() < 0.3) + b"\x00")
        wants.append((fields_of(known), len(entries)))
    for (want, entries), got in zip(wants, parse_all(reader, tmp_path, images)):
        assert got["status"] == "FDR_OK", got
        assert {k: got[k] for k in want} == want
        assert int(got["entries"]) == entries


@needs_cc
def test_corrupted_images_never_crash_and_ok_means_right(reader, cli, golden, tmp_path):
    """Random byte flips, insertions and deletions in real images: the reader never reads
    past the buffer (sanitizers) and, when it accepts an image, cbor2 reads the same."""
    base = [_generate(cli, tmp_path, golden_inputs(golden),
                      "fd").read_bytes()]
    base += [image for name, image, _, _ in junk_images() if name.startswith("mixed")]
    rnd = random.Random(20240501)
    images = []
    for _ in range(400):
        data = bytearray(rnd.choice(base))
        for _ in range(rnd.randint(1, 4)):
            where = rnd.randrange(len(data))
            action = rnd.random()
            if action < 0.6:
                data[where] = rnd.randrange(256)
            elif action < 0.8:
                data.insert(where, rnd.randrange(256))
            else:
                del data[where]
        images.append(bytes(data))
    results = parse_all(reader, tmp_path, images)
    accepted = 0
    for data, got in zip(images, results):
        if got["status"] != "FDR_OK":
            continue
        accepted += 1
        try:
            device_map, used = decode_image(data)
        except Exception:  # cbor2 also checks tag semantics and UTF-8; the reader does not
            continue
        assert data[used] == 0 and int(got["length"]) == used + 1
        if all(isinstance(k, str) for k in device_map):
            want = fields_of(device_map)
            assert {k: got[k] for k in want} == want
    assert accepted > 0  # some corruptions land in skipped values


# --- main.c on the host -------------------------------------------------------------------

def _run_app(app: Path, image) -> str:
    return _run([app], env={"FDR_IMAGE": str(image) if image else ""}).stdout


@needs_cc
@pytest.mark.parametrize("variant", ["app_dt", "app_pm"])
def test_main_prints_the_identity(variant, request, cli, tmp_path):
    app = request.getfixturevalue(variant)
    args = ["--defaults", "--gen_certs", "--vendor_id", "0xFFF4", "--product_id", "0x0102",
            "--sn", "Unit-7", "--discriminator", "0x123"]
    _generate(cli, tmp_path, args, "fd")
    # generate refuses a control character in a serial number; the reader must still print
    # one safely, so the image is made from the JSON form (bytes given as "hex:") by partition
    data = json.loads((tmp_path / "fd.json").read_text())
    data["sn"] = "hex:" + b"Unit\x01-7".hex()
    (tmp_path / "odd.json").write_text(json.dumps(data))
    made = cli("partition", "-i", tmp_path / "odd.json", "-o", tmp_path / "odd", "--offset",
               "0xfb000", "--size", "0x1000")
    assert made.code == 0, made
    out = _run_app(app, tmp_path / "odd.bin")
    assert "factory data partition at 0xfb000, 4096 bytes" in out
    assert "vendor id:     0xfff4 (65524)" in out
    assert "product id:    0x0102 (258)" in out
    assert "serial number: Unit\\x01-7 (7 bytes)" in out
    assert "discriminator: 0x0123 (291)" in out
    assert "version:       1" in out


@needs_cc
@pytest.mark.parametrize("variant", ["app_dt", "app_pm"])
def test_main_reports_empty_and_invalid_partitions(variant, request, tmp_path):
    app = request.getfixturevalue(variant)
    assert "the partition is empty (erased, all 0xFF)" in _run_app(app, None)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(cbor_map([("vendor_id", cbor2.dumps(-1))]) + b"\x00")
    assert "NOT VALID: value of the wrong type" in _run_app(app, bad)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(cbor_map(IDENTITY)[:-2])  # the rest of the page reads as 0xFF
    out = _run_app(app, cut)
    assert "NOT VALID" in out and "vendor id" not in out


# --- prj.conf and Kconfig ---------------------------------------------------------------

def prj_conf_assignments() -> dict[str, str]:
    values = {}
    for line in (SAMPLE / "prj.conf").read_text().splitlines():
        match = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


@pytest.fixture
def kconf(monkeypatch, tmp_path):
    """kconfig/Kconfig with the CHIP_* lines of prj.conf loaded (the rest are Zephyr's)."""
    monkeypatch.setenv("srctree", str(REPO_ROOT))
    kconf = kconfiglib.Kconfig(str(REPO_ROOT / "kconfig" / "Kconfig"), warn_to_stderr=False)
    fragment = tmp_path / "chip.conf"
    fragment.write_text("".join(f"{k}={v}\n" for k, v in prj_conf_assignments().items()
                                if k.startswith("CONFIG_CHIP_")))
    kconf.load_config(str(fragment))
    return kconf


def test_prj_conf_chip_symbols_exist_and_take_effect(kconf):
    chip = {k[len("CONFIG_"):]: v for k, v in prj_conf_assignments().items()
            if k.startswith("CONFIG_CHIP_")}
    assert chip, "prj.conf sets no CHIP_* symbol"
    assert "CHIP_FACTORY_DATA_BUILD" in chip
    unknown = sorted(name for name in chip if name not in kconf.syms
                     or not kconf.syms[name].nodes)
    assert unknown == []
    # no warning: right types, in range, no dependency or choice problem
    assert kconf.warnings == []
    for name, value in chip.items():
        sym = kconf.syms[name]
        want = value[1:-1] if value.startswith('"') else value
        if sym.type == kconfiglib.HEX:
            assert int(sym.str_value, 16) == int(want, 16), name
        else:
            assert sym.str_value == want, (name, sym.str_value, want)


def test_prj_conf_enables_what_the_sample_needs():
    values = prj_conf_assignments()
    for name in ("CONFIG_FLASH", "CONFIG_FLASH_MAP", "CONFIG_CHIP_FACTORY_DATA_BUILD",
                 "CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE"):
        assert values.get(name) == "y", name


def test_chip_symbols_do_not_depend_on_the_matter_stack(kconf):
    """The sample has no CONFIG_CHIP: our symbols must not depend on it (or on anything
    outside the module, which a plain Zephyr app would not define)."""
    for sym in kconf.unique_defined_syms:
        for node in sym.nodes:
            deps = {s.name for s in kconfiglib.expr_items(node.dep)
                    if isinstance(s, kconfiglib.Symbol) and not s.is_constant}
            outside = {d for d in deps if d not in kconf.syms or not kconf.syms[d].nodes}
            # the nRF54L series symbols only exclude write protection there
            assert outside <= {"SOC_SERIES_NRF54LX", "SOC_SERIES_NRF54L"}, (sym.name, outside)
    assert "CHIP" not in kconf.syms or not kconf.syms["CHIP"].nodes


# --- pm_static.yml and the devicetree overlay ------------------------------------------

# The nRF52840 DK's flash partitions: upstream Zephyr 4.1 (dts/common/nordic/
# nrf52840_partition.dtsi) and nRF Connect SDK 2.7's Zephyr (the board's .dts). The overlay is
# read with Zephyr's python-devicetree on top of each.
BOARD_PARTITIONS = {
    "zephyr-4.1": {"boot_partition": (0x0, 0xC000), "slot0_partition": (0xC000, 0x77000),
                   "slot1_partition": (0x83000, 0x75000),
                   "storage_partition": (0xF8000, 0x8000)},
    "ncs-2.7": {"boot_partition": (0x0, 0xC000), "slot0_partition": (0xC000, 0x76000),
                "slot1_partition": (0x82000, 0x76000), "storage_partition": (0xF8000, 0x8000)},
}


def board_dts(partitions: dict) -> str:
    nodes = "".join(f"\t\t\t\t{label}: partition@{a:x} {{ reg = <0x{a:x} 0x{n:x}>; }};\n"
                    for label, (a, n) in partitions.items())
    return ("/dts-v1/;\n/ {\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n"
            "\tsoc {\n\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n\t\tranges;\n"
            "\t\tflash0: flash@0 {\n\t\t\tcompatible = \"soc-nv-flash\";\n"
            "\t\t\treg = <0x0 0x100000>;\n\t\t\tpartitions {\n"
            "\t\t\t\tcompatible = \"fixed-partitions\";\n"
            "\t\t\t\t#address-cells = <1>;\n\t\t\t\t#size-cells = <1>;\n"
            f"{nodes}\t\t\t}};\n\t\t}};\n\t}};\n}};\n")


def overlay_layout(tmp_path, board: str):
    """The sample's overlay applied to the board's devicetree, read as the build step does."""
    from matter_factory_data.zephyr.devicetree import find_partition

    dts = tmp_path / f"{board}.dts"
    dts.write_text(board_dts(BOARD_PARTITIONS[board]) + "\n" + OVERLAY.read_text())
    return find_partition(dts)


def load_pm_static() -> dict[str, tuple[int, int]]:
    from matter_factory_data.zephyr.layout_check import load_layout

    return {p.name: (p.address, p.size) for p in load_layout(PM_STATIC)}


def test_pm_static_passes_check(cli):
    for extra in ([], ["--write-protect"]):
        result = cli("check", "--pm-static", PM_STATIC, "--soc", "nrf52840", *extra)
        assert result.code == 0, result
        assert "layout OK: factory_data (0xf7000..0xf8000)" in result.out
        assert result.err == ""


def test_pm_static_layout_is_consistent():
    from matter_factory_data.zephyr.layout import SOCS

    layout = load_pm_static()
    # nRF Connect SDK 3.4's default Matter layout of the nRF52840
    assert layout["factory_data"] == (0xF7000, 0x1000)
    assert layout["settings_storage"] == (0xF8000, 0x8000)
    flash = SOCS["nrf52840"]
    spans = sorted((a, a + s, name) for name, (a, s) in layout.items())
    # the partitions tile the whole flash: no overlap and no hole
    assert spans[0][0] == flash.flash_base and spans[-1][1] == flash.flash_end
    for (_, end, name), (start, _, nxt) in zip(spans, spans[1:]):
        assert end == start, f"{name} and {nxt} overlap or leave a hole"


@pytest.mark.parametrize("board", BOARD_PARTITIONS)
def test_overlay_places_factory_data_without_overlap(tmp_path, board):
    """Every partition of the board plus the overlay, checked as the build step checks a
    devicetree: no overlap with any sibling, inside the flash, page-aligned."""
    from matter_factory_data.zephyr.devicetree import dt_partitions
    from matter_factory_data.zephyr.layout import check_layout

    layout = overlay_layout(tmp_path, board)
    assert layout.found_by == "node label factory_data_partition"
    assert (layout.node.address, layout.node.size) == (0xF7000, 0x1000)
    assert check_layout(dt_partitions(layout), soc="nrf52840", write_protect=True) == []
    names = {p.name for p in layout.partitions}
    assert "slot1_partition" not in names  # it covered 0xf7000


@pytest.mark.parametrize("board", BOARD_PARTITIONS)
def test_overlay_agrees_with_pm_static(tmp_path, board):
    layout = {p.name: (p.address, p.size) for p in overlay_layout(tmp_path, board).partitions}
    pm_static = load_pm_static()
    assert layout["factory_data_partition"] == pm_static["factory_data"]
    # under Partition Manager, nRF Connect SDK maps the label storage_partition to
    # settings_storage (include/flash_map_pm.h)
    assert layout["storage_partition"] == pm_static["settings_storage"]


def test_build_step_accepts_the_sample_layout_sources(tmp_path):
    """The module's build step resolves the partition from pm_static.yml and the devicetree
    node and requires them to agree (partition_sources.resolve_partition)."""
    from matter_factory_data.zephyr.partition_sources import resolve_partition

    node = overlay_layout(tmp_path, "zephyr-4.1").node
    first, sources = resolve_partition(Namespace(partitions=None, pm_static=str(PM_STATIC),
                                                 dt_address=node.address, dt_size=node.size,
                                                 check_only=True))
    assert (first.address, first.size) == (0xF7000, 0x1000) and len(sources) == 2


def test_cmake_lists_and_sources():
    text = (SAMPLE / "CMakeLists.txt").read_text()
    assert re.search(r"cmake_minimum_required\(VERSION 3\.20", text)
    assert "find_package(Zephyr REQUIRED HINTS $ENV{ZEPHYR_BASE})" in text
    sources = re.search(r"target_sources\(app\s+PRIVATE\s+([^)]*)\)", text).group(1).split()
    assert sorted(sources) == ["src/factory_data_reader.c", "src/main.c"]
    for source in sources:
        assert (SAMPLE / source).is_file()


def test_reader_has_no_zephyr_dependency():
    for name in ("factory_data_reader.c", "factory_data_reader.h"):
        includes = re.findall(r"#\s*include\s*[<\"]([^>\"]+)[>\"]", (SRC / name).read_text())
        assert set(includes) <= {"stdbool.h", "stddef.h", "stdint.h", "string.h",
                                 "factory_data_reader.h"}, (name, includes)


# --- the module's CMake in the Zephyr stand-in, with the sample's inputs ------------------

@needs_cc
@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                    reason="cmake and ninja are needed")
def test_standin_build_with_the_sample_makes_what_main_prints(kconf, tmp_path, app_dt,
                                                              reader, cli):
    """The Zephyr stand-in of test_cmake.py, configured with the sample's prj.conf,
    pm_static.yml and overlay partition: the factory data made by the build holds the
    identity of prj.conf, sits at 0xf7000 in merged.hex, and main.c prints it."""
    from intelhex import IntelHex

    build = tmp_path / "build"
    (build / "zephyr").mkdir(parents=True)
    dotconfig = build / "zephyr" / ".config"
    kconf.write_config(str(dotconfig), header="")
    with dotconfig.open("a") as f:
        f.write('CONFIG_SOC="nrf52840"\n')
    node = overlay_layout(tmp_path, "zephyr-4.1").node
    address, size = node.address, node.size
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    configure = subprocess.run(
        ["cmake", "-G", "Ninja", "-S", str(STANDIN), "-B", str(build), f"-DAPP_DIR={SAMPLE}",
         f"-DPYTHON_EXECUTABLE={sys.executable}", f"-DSTANDIN_DT_ADDR={hex(address)}",
         f"-DSTANDIN_DT_SIZE={hex(size)}"], capture_output=True, text=True, env=env)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    made = subprocess.run(["ninja", "-C", str(build)], capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stdout + made.stderr

    zephyr = build / "zephyr"
    for suffix in ("json", "hex", "bin", "txt", "png"):
        assert (zephyr / f"factory_data.{suffix}").is_file(), suffix
    data = (zephyr / "factory_data.bin").read_bytes()
    merged = IntelHex(str(zephyr / "merged.hex"))
    assert merged.tobinstr(start=0xF7000, size=len(data)) == data

    conf = prj_conf_assignments()
    want = {"vendor_id": str(int(conf["CONFIG_CHIP_DEVICE_VENDOR_ID"], 0)),
            "product_id": str(int(conf["CONFIG_CHIP_DEVICE_PRODUCT_ID"], 0)),
            "discriminator": str(int(conf["CONFIG_CHIP_DEVICE_DISCRIMINATOR"], 16)),
            "sn_hex": conf["CONFIG_CHIP_DEVICE_SERIAL_NUMBER"].strip('"').encode().hex()}
    got = parse_one(reader, tmp_path, data)
    assert got["status"] == "FDR_OK"
    assert {k: got[k] for k in want} == want
    out = _run_app(app_dt, zephyr / "factory_data.bin")
    assert f"serial number: {conf['CONFIG_CHIP_DEVICE_SERIAL_NUMBER'].strip(chr(34))} " in out
    assert f"vendor id:     0x{int(want['vendor_id']):04x} ({want['vendor_id']})" in out
    shown = cli("show", zephyr / "factory_data.hex", "--strict")
    assert shown.code == 0, shown
