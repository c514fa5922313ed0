"""Hostile inputs, by class (issue #10): text and numbers, files, CSV and manifests, option
spelling, discovery capabilities. Each case asserts the exact message, the exit code, and that
the directory is unchanged byte for byte and mode for mode (conftest.snapshot)."""

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import golden_args, snapshot

ARABIC_DATE = "\u0662\u0660\u0662\u0662-\u0660\u0662-\u0660\u0662"  # ٢٠٢٢-٠٢-٠٢
HUGE = "9" * 5000


def with_option(args, option, value):
    args = list(args)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


# --------------------------------------------------------------------------- text and numbers

# (id, option, value, message): generate with the golden arguments, one option replaced.
GENERATE_VALUES = [
    ("date-final-newline", "--date", "2022-02-02\n",
     "--date: '2022-02-02\\n' is not a date in the form YYYY-MM-DD (ten ASCII characters)"),
    ("date-arabic-digits", "--date", ARABIC_DATE,
     f"--date: '{ARABIC_DATE}' is not a date in the form YYYY-MM-DD (ten ASCII characters)"),
    ("date-compact-arabic", "--date", "\u0662" * 8, "is not a date in the form YYYY-MM-DD"),
    ("date-spaces", "--date", " 2022-02-02", "is not a date in the form YYYY-MM-DD"),
    ("date-empty", "--date", "", "--date: '' is not a date in the form YYYY-MM-DD"),
    ("sn-newline", "--sn", "AB\nCD",
     "--sn: serial number contains a control character (U+000A, newline) at character 3 "
     "(accepted: printable text)"),
    ("sn-nul", "--sn", "AB\x00", None),  # argv cannot hold NUL: see the unit test below
    ("sn-esc", "--sn", "A\x1b[31m",
     "--sn: serial number contains a control character (U+001B, ESC) at character 2"),
    ("sn-tab", "--sn", "A\tB", "contains a control character (U+0009, tab) at character 2"),
    ("sn-del", "--sn", "A\x7f", "contains a control character (U+007F, DEL)"),
    ("sn-c1", "--sn", "A\x85", "contains a control character (U+0085)"),
    ("sn-bidi-override", "--sn", "A\u202eB",
     "contains a invisible format character (U+202E, RIGHT-TO-LEFT OVERRIDE) at character 2"),
    ("sn-zero-width", "--sn", "A\u200bB", "(U+200B, ZERO WIDTH SPACE)"),
    ("sn-line-separator", "--sn", "A\u2028B", "contains a line separator (U+2028"),
    ("sn-hex-prefix", "--sn", "hex:41",
     "--sn: serial number starts with 'hex:', which the factory data JSON reads as hex bytes "
     "(the JSON and the image would disagree); give the text itself"),
    ("vendor-name-hex", "--vendor_name", "hex:4e6f726469", "--vendor_name: vendor name starts "
                                                            "with 'hex:'"),
    ("product-name-cr", "--product_name", "x\r", "--product_name: product name contains a "
                                                  "control character (U+000D, carriage return)"),
    ("hw-ver-str-newline", "--hw_ver_str", "1.0\n", "--hw_ver_str: hardware version string "
                                                   "contains a control character"),
    ("url-tab", "--product_url", "https://a\tb", "--product_url: product URL contains a control "
                                                 "character (U+0009, tab) at character 10"),
    ("label-nul-escape", "--product_label", "a\x01", "--product_label: product label contains"),
    ("part-number-hex", "--part_number", "hex:00", "--part_number: part number starts with"),
    ("vid-5000-digits", "--vendor_id", HUGE,
     "argument --vendor_id: '99999999999999999999'... (5000 characters) is too long for a "
     "number (at most 80 characters)"),
    ("vid-80-digits", "--vendor_id", "9" * 80,
     "--vendor_id: vendor ID 99999999999999999999... (80 digits) is out of range (accepted: "
     "0..65524)"),
    ("vid-negative", "--vendor_id", "-1",
     "--vendor_id: vendor ID -1 is out of range (accepted: 0..65524)"),
    ("vid-arabic-digits", "--vendor_id", "\u0661\u0662",
     "argument --vendor_id: '\u0661\u0662' is not an integer (accepted: decimal, 0x.., 0o.. or "
     "0b.., ASCII digits)"),
    ("vid-spaces", "--vendor_id", " 5", "argument --vendor_id: ' 5' is not an integer"),
    ("vid-newline", "--vendor_id", "5\n", "argument --vendor_id: '5\\n' is not an integer"),
    ("vid-empty", "--vendor_id", "", "argument --vendor_id: '' is not an integer"),
    ("vid-float", "--vendor_id", "1e3", "argument --vendor_id: '1e3' is not an integer"),
    ("discriminator-huge-hex", "--discriminator", "0x" + "f" * 70,
     "--discriminator: discriminator 19426688922257290709... (85 digits) is out of range "
     "(accepted: 0..4095)"),
    ("passcode-negative", "--passcode", "-20202021",
     "--passcode: setup passcode -20202021 is out of range (accepted: 1..99999998)"),
    ("spake2-it-huge", "--spake2_it", HUGE, "argument --spake2_it: '99999999999999999999'... "
                                            "(5000 characters) is too long for a number"),
    ("offset-past-4gib", "--offset", "0x100000000",
     "--offset: 0x100000000 is not a 32-bit flash address (accepted: 0..0xffffffff)"),
    ("offset-negative", "--offset", "-4096",
     "--offset: -0x1000 is not a 32-bit flash address (accepted: 0..0xffffffff)"),
    ("offset-plus-size-past-4gib", "--offset", "0xFFFFF800",
     "--size: 0x1000 bytes at 0xfffff800 end past the 4 GiB address space (offset + size must "
     "be at most 0x100000000)"),
    ("size-zero", "--size", "0", "--size: 0 must be a positive number of bytes"),
    ("size-negative", "--size", "-1", "--size: -1 must be a positive number of bytes"),
    ("size-huge", "--size", HUGE, "argument --size: '99999999999999999999'... (5000 characters)"),
    ("size-past-4gib", "--size", "0x100000000", "--size: 0x100000000 bytes at 0xf7000 end past "
                                                "the 4 GiB address space"),
    ("rd-uid-final-newline", "--rd_uid", "00" * 16 + "\n",
     "--rd_uid: '00000000000000000000000000000000\\n' is not valid hex"),
    ("rd-uid-arabic", "--rd_uid", "\u0660" * 32, "--rd_uid: '" + "\u0660" * 32 + "' is not valid "
                                                 "hex"),
    ("enable-key-spaces", "--enable_key", "00 " * 16, "--enable_key: '00 00 00 00 00 00 00 00 00 "
                                                       "00 00 00 00 0'... (48 characters) is not "
                                                       "valid hex"),
    ("salt-newline", "--spake2_salt", "U1BBS0UyUCBLZXkgU2FsdA==\n",
     "argument --spake2_salt: 'U1BBS0UyUCBLZXkgU2FsdA==\\n' is not valid base64"),
    ("user-deep", "--user", "[" * 100000, "--user: not accepted: JSON nested more than 64 deep"),
    ("user-huge-number", "--user", '{"a": ' + HUGE + "}",
     "--user: not valid JSON (a number has more than 4300 digits)"),
    ("user-nan", "--user", '{"a": NaN}', "--user: not valid JSON (NaN is not a JSON number)"),
    ("user-duplicate-key", "--user", '{"a": 1, "a": 2}',
     "--user: not valid JSON (key 'a' appears twice in an object)"),
    ("user-not-utf8", "--user", '{"a": "x\udcff"}',
     "--user: not valid JSON (contains the byte 0xFF, which is not valid UTF-8, at character "
     "9)"),
    ("discovery-reserved-64", "--discovery", "64", None),  # with --generate_onboarding below
]


@pytest.mark.parametrize("option, value, message",
                         [c[1:] for c in GENERATE_VALUES if c[3] is not None],
                         ids=[c[0] for c in GENERATE_VALUES if c[3] is not None])
def test_generate_text_and_numbers(cli, golden, tmp_path, option, value, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    before = snapshot(tmp_path)
    result = cli("generate", *with_option(golden_args(golden, out / "fd"), option, value))
    assert result.code == 2, result
    assert message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "internal error" not in result.err
    assert snapshot(tmp_path) == before


def test_text_checks_the_bytes_written_including_nul():
    """NUL cannot come through argv; it comes through JSON, CSV and Kconfig: same check."""
    from matter_factory_data.core import validate

    assert validate.problem_for("sn", "AB\x00") == ("contains a control character (U+0000, "
                                                    "NUL) at character 3 (accepted: printable "
                                                    "text)")
    # argv bytes that are not UTF-8 arrive as surrogate escapes
    assert validate.problem_for("sn", "A\udcff") == ("contains the byte 0xFF, which is not "
                                                     "valid UTF-8, at character 2")
    assert validate.problem_for("sn", "Ünïcødé ✓") is None  # printable non-ASCII is fine


@pytest.mark.parametrize("spelling", ["2022-02-02", "20220202"])
def test_a_date_is_exactly_ten_ascii_bytes_on_the_device(cli, golden, tmp_path, spelling):
    result = cli("generate", *with_option(golden_args(golden, tmp_path / "fd"), "--date",
                                          spelling))
    assert result.code == 0, result
    from matter_factory_data.formats.nrf_cbor import decode_image

    assert decode_image((tmp_path / "fd.bin").read_bytes())["date"] == b"2022-02-02"
    devparse = os.environ.get("MFD_DEVPARSE")  # /work/ref/devparser/bin/devparse, if built
    if devparse:
        import subprocess

        parsed = json.loads(subprocess.run([devparse, str(tmp_path / "fd.bin")], check=True,
                                           capture_output=True, text=True).stdout)
        assert parsed["ok"] and parsed["date_year"] == 2022


# The same values through the other front ends: --fields JSON, --csv cells, partition -i,
# codes, show/verify --offset/--size, the build step's Kconfig (menuconfig --set).
def fields_case(tmp_path, value):
    path = tmp_path / "fields.json"
    path.write_text(value)
    return ["batch", "-o", tmp_path / "lot", "--count", "1", "--defaults", "--fields", path]


FIELDS = [
    ("vid-huge-string", '{"vendor_id": "' + HUGE + '"}',
     "key 'vendor_id': '99999999999999999999'... (5000 characters) is too long for a number"),
    ("vid-huge-number", '{"vendor_id": ' + HUGE + "}",
     "not valid JSON (a number has more than 4300 digits)"),
    ("vid-float", '{"vendor_id": 1.5}', "key 'vendor_id': 1.5 is not an integer"),
    ("vid-bool", '{"vendor_id": true}', "key 'vendor_id': True is not an integer"),
    ("vid-arabic", '{"vendor_id": "\u0661"}', "key 'vendor_id': '\u0661' is not an integer"),
    ("offset-float", '{"offset": 1e300}', "key 'offset': 1e+300 is not an integer"),
    ("size-zero", '{"size": 0}', "--fields {path}: key 'size': 0 must be a positive number"),
    ("offset-size-past-4gib", '{"offset": 4294967295, "size": 4096}', "end past the 4 GiB"),
    ("name-not-text", '{"vendor_name": 5}', "key 'vendor_name': 5 is not text"),
    ("name-newline", '{"vendor_name": "A\\nB"}',
     "key 'vendor_name': vendor name contains a control character (U+000A, newline)"),
    ("name-nul", '{"product_name": "A\\u0000"}', "product name contains a control character "
                                                 "(U+0000, NUL)"),
    ("date-newline", '{"date": "2022-02-02\\n"}', "is not a date in the form YYYY-MM-DD"),
    ("deep", "[" * 100000, "not accepted: JSON nested more than 64 deep"),
    ("bom", "\ufeff{}", "not valid JSON (starts with a UTF-8 byte order mark"),
    ("duplicate-key", '{"hw_ver": 1, "hw_ver": 2}', "key 'hw_ver' appears twice"),
]


@pytest.mark.parametrize("value, message", [c[1:] for c in FIELDS], ids=[c[0] for c in FIELDS])
def test_batch_fields_json(cli, tmp_path, value, message):
    argv = fields_case(tmp_path, value)
    before = snapshot(tmp_path)
    result = cli(*argv)
    assert result.code == 2, result
    assert message.format(path=tmp_path / "fields.json") in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and "internal error" not in result.err
    assert snapshot(tmp_path) == before


def test_partition_input_text_is_checked_as_bytes(cli, golden, tmp_path):
    """`partition -i`: a "hex:" value of a text key is bytes (the reference's JSON); what is
    checked is those bytes -- a NUL in the serial number fails --strict, naming it."""
    data = json.loads((golden / "factory_data.json").read_text())
    data["sn"] = "hex:410042"
    (tmp_path / "in.json").write_text(json.dumps(data))
    before = snapshot(tmp_path)
    result = cli("partition", "-i", tmp_path / "in.json", "-o", tmp_path / "p", "--offset",
                 "0xf7000", "--size", "0x1000", "--strict")
    assert result.code == 2
    assert "key 'sn': serial number contains a control character (U+0000, NUL) at character " \
        "2 (accepted: printable text)" in \
        result.err, result.err
    assert snapshot(tmp_path) == before


PARTITION_NUMBERS = [
    ("offset-past-4gib", ["--offset", "0x1_0000_0000"], "--offset: 0x100000000 is not a 32-bit "
                                                         "flash address"),
    ("sum-past-4gib", ["--offset", "0xFFFFF000", "--size", "0x2000"], "end past the 4 GiB"),
    ("size-zero", ["--size", "0"], "--size: 0 must be a positive number of bytes"),
    ("size-huge", ["--size", HUGE], "too long for a number"),
    ("deep-json", ["-i", "DEEP"], "not accepted: JSON nested more than 64 deep"),
    ("input-dev-zero", ["-i", "/dev/zero"], "--input /dev/zero: is a character device, not a "
                                            "file"),
    ("input-directory", ["-i", "."], "--input .: is a directory, not a file"),
    ("input-empty-path", ["-i", ""], "--input '': cannot read the file (the path is empty)"),
]


@pytest.mark.parametrize("change, message", [c[1:] for c in PARTITION_NUMBERS],
                         ids=[c[0] for c in PARTITION_NUMBERS])
def test_partition_numbers_and_inputs(cli, golden, tmp_path, change, message):
    (tmp_path / "deep.json").write_text("{\"user\": " + "[" * 100000 + "}")
    argv = ["-i", golden / "factory_data.json", "-o", tmp_path / "p", "--offset", "0xf7000",
            "--size", "0x1000"]
    for option, value in zip(change[::2], change[1::2]):
        argv = with_option(argv, option, str(tmp_path / "deep.json") if value == "DEEP"
                           else value)
    before = snapshot(tmp_path)
    result = cli("partition", *argv)
    assert result.code == 2, result
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ codes: generate's words

CODES = [
    ("vid-reserved", ["--vendor_id", "0xFFF5"],
     "--vendor_id: vendor ID 65525 is out of range (accepted: 0..65524)"),
    ("pid-zero", ["--product_id", "0"],
     "--product_id: product ID 0 is out of range (accepted: 1..65535)"),
    ("discriminator-4096", ["--discriminator", "4096"],
     "--discriminator: discriminator 4096 is out of range (accepted: 0..4095)"),
    ("passcode-forbidden", ["--passcode", "11111111"],
     "--passcode: setup passcode is in the list of forbidden passcodes"),
    ("passcode-huge", ["--passcode", HUGE], "argument --passcode: '99999999999999999999'... "
                                            "(5000 characters) is too long for a number"),
    ("discovery-64", ["--discovery", "64"],
     "--discovery: 64 (0x40) sets bit(s) the Matter specification reserves (0x40)"),
    ("discovery-255", ["--discovery", "255"],
     "--discovery: 255 (0xFF) sets bit(s) the Matter specification reserves (0xC0)"),
    ("discovery-256", ["--discovery", "256"], "--discovery: 256 is out of range"),
    ("discovery-unknown", ["--discovery", "ble,wifi"], "--discovery: 'wifi' is not accepted"),
    ("discovery-arabic", ["--discovery", "\u0662"], "--discovery: '\u0662' is not accepted"),
    ("discovery-empty", ["--discovery", ""], "--discovery: '' is not accepted"),
    ("discovery-float", ["--discovery", "2.0"], "--discovery: '2.0' is not a number"),
]


@pytest.mark.parametrize("change, message", [c[1:] for c in CODES], ids=[c[0] for c in CODES])
def test_codes_validates_like_generate(cli, tmp_path, change, message):
    argv = ["--vendor_id", "0xFFF1", "--product_id", "0x8006", "--discriminator", "0xF00",
            "--passcode", "20202021", "--png", tmp_path / "qr.png"]
    for option, value in zip(change[::2], change[1::2]):
        argv = with_option(argv, option, value)
    result = cli("codes", *argv)
    assert result.code == 2, result
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert result.out == "" and not (tmp_path / "qr.png").exists()


@pytest.mark.parametrize("discovery, mask, qr", [
    ("nfc", 16, "MT:8IXS18IF20KA0648G00"),  # as connectedhomeip's SetupPayload.py
    ("thread", 32, "MT:8IXS1I9U40KA0648G00"),
    ("ble,onnetwork", 6, None), ("softap+wifipaf", 9, None), ("0x3f", 63, None), ("0", 0, None),
])
def test_discovery_capabilities_in_codes_generate_and_batch(cli, golden, tmp_path, discovery,
                                                            mask, qr):
    from matter_factory_data.core.onboarding import parse_qr_code

    result = cli("codes", "--vendor-id", "0xFFF1", "--product-id", "0x8006", "--discriminator",
                 "0xF00", "--passcode", "20202021", "--discovery", discovery)
    assert result.code == 0, result
    payload = result.out.split()[2]
    assert parse_qr_code(payload).capabilities == mask
    assert qr is None or payload == qr
    assert result.out.split()[-1] == "34970112332"  # the manual code does not carry it
    generated = cli("generate", *golden_args(golden, tmp_path / "fd"), "--generate_onboarding",
                    "--discovery", discovery)
    assert generated.code == 0, generated
    text = (tmp_path / "fd.txt").read_text()
    assert payload in text and "34970112332" in text
    if discovery == "nfc":
        lot = tmp_path / "lot"
        made = cli("batch", "-o", lot, "--count", "2", "--defaults", "--spake2_it", "1000",
                   "--qr", "none", "--jobs", "1", "--discovery", discovery)
        assert made.code == 0, made
        import csv

        rows = list(csv.DictReader((lot / "manifest.csv").open()))
        assert {parse_qr_code(r["qr_payload"]).capabilities for r in rows} == {16}
        assert cli("verify", lot, "--jobs", "1").code == 0


def test_discovery_without_onboarding_and_reserved_in_generate(cli, golden, tmp_path):
    before = snapshot(tmp_path)
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--discovery", "nfc")
    assert (result.code, result.err) == (2, "error: --discovery is what the QR code says: give "
                                            "--generate_onboarding too\n")
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--generate_onboarding",
                 "--discovery", "128")
    assert result.code == 2 and "--discovery: 128 (0x80) sets bit(s) the Matter specification " \
                                "reserves (0x80)" in result.err
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- option style

@pytest.mark.parametrize("argv", [
    ["codes", "--vendor-id", "1", "--product-id", "2", "--discriminator", "3", "--passcode",
     "20202021"],
    ["codes", "--vendor_id=1", "--product-i=2", "--discrim", "3", "--pass", "20202021"],
])
def test_both_spellings_and_prefixes(cli, argv):
    result = cli(*argv)
    assert result.code == 0, result
    assert result.out.startswith("QR code:")


@pytest.mark.parametrize("command, option, message", [
    ("generate", "--vendr_id", "unrecognized option --vendr_id (did you mean --vendor_id?)"),
    ("generate", "--vendor-nam", None),  # a prefix: resolves (then fails for missing options)
    ("generate", "--vendor-", "ambiguous option: --vendor- could match --vendor_id, "
                              "--vendor_name"),
    ("check", "--pm_statc", "unrecognized option --pm_statc (did you mean --pm-static?)"),
    ("flash", "--dryrun", "unrecognized option --dryrun (did you mean --dry-run?)"),
    ("batch", "--sn-templat", None),
])
def test_mistyped_options(cli, tmp_path, command, option, message):
    result = cli(command, option, "x")
    assert result.code == 2
    if message is None:
        assert "unrecognized" not in result.err and "ambiguous" not in result.err, result.err
    else:
        assert result.err == f"matter-factory-data {command}: error: {message}\n"


def test_every_option_of_every_command_takes_both_spellings():
    from matter_factory_data.cli import app

    for name, (_, add_arguments, _) in app.COMMANDS.items():
        parser = app.Parser(prog=name)
        add_arguments(parser)
        for action in parser._actions:
            for string in action.option_strings:
                if not string.startswith("--"):
                    continue
                for spelling in ("--" + string[2:].replace("_", "-"),
                                 "--" + string[2:].replace("-", "_")):
                    assert parser.resolve_long_options([spelling]) == [string], (name, spelling)


def test_check_takes_a_bare_d(cli, tmp_path):
    result = cli("check", "-d")
    assert result.code == 2
    assert "no Zephyr build directory found" in result.err


# --------------------------------------------------------------------------- files

@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.hex"
    os.mkfifo(path)
    return path


def deep_yaml(tmp_path):
    path = tmp_path / "deep.yml"
    path.write_text("a: " + "[" * 100000 + "\n")
    return path


def alias_bomb(tmp_path):
    lines = ["a0: &a0 [app]"]
    for i in range(1, 25):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines += ["factory_data: {address: 0xfb000, size: 0x1000, span: *a24}"]
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


FILES = [
    ("show-dev-zero", lambda t: ["show", "/dev/zero"], "input /dev/zero: is a character device, "
                                                      "not a file"),
    ("show-directory", lambda t: ["show", str(t)], "is a directory, not a file"),
    ("show-dangling", lambda t: ["show", str(t / "dangling")], "cannot read the file (No such "
                                                               "file or directory)"),
    ("show-deep-json", lambda t: ["show", str(t / "deep.json")], "not accepted: JSON nested "
                                                                 "more than 64 deep"),
    ("verify-dev-zero", lambda t: ["verify", "/dev/zero"], "is a character device, not a file"),
    ("check-deep-yaml", lambda t: ["check", "--pm-static", str(deep_yaml(t)), "--soc",
                                   "nrf52840"], "not accepted: YAML nested more than 64 deep"),
    ("check-alias-bomb", lambda t: ["check", "--pm-static", str(alias_bomb(t)), "--soc",
                                    "nrf52840"], "not accepted: the YAML holds more than 200000 "
                                                 "values (with its aliases expanded)"),
    ("check-huge-number", lambda t: ["check", "--pm-static", str(t / "huge.yml"), "--soc",
                                     "nrf52840"], "not valid YAML (a number has more than "
                                                  "4300 digits)"),
    ("check-past-4gib", lambda t: ["check", "--pm-static", str(t / "far.yml"), "--soc",
                                   "nrf52840"], "factory_data.address: '4294967296' is past the "
                                                "32-bit address space"),
    ("fields-fifo", lambda t: ["batch", "-o", str(t / "lot"), "--count", "1", "--defaults",
                               "--fields", str(t / "pipe.hex")], "is a FIFO (named pipe), not "
                                                                  "a file"),
    ("csv-directory", lambda t: ["batch", "-o", str(t / "lot"), "--defaults", "--csv", str(t)],
     "is a directory, not a file"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_input_files_have_limits(cli, tmp_path, fifo, make, message):
    (tmp_path / "deep.json").write_text("[" * 100000)
    (tmp_path / "huge.yml").write_text("factory_data: {address: " + HUGE + ", size: 0x1000}\n")
    (tmp_path / "far.yml").write_text("factory_data: {address: 0x100000000, size: 0x1000}\n")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    argv = make(tmp_path)
    before = snapshot(tmp_path)
    result = cli(*argv)
    assert result.code == 2, result
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert "internal error" not in result.err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("option, value, message", [
    ("--offset", "0x100000000", "--offset: 0x100000000 is not a 32-bit flash address"),
    ("--offset", "-1", "--offset: -0x1 is not a 32-bit flash address"),
    ("--size", "0", "--size: 0 must be a positive number of bytes"),
    ("--size", HUGE, "too long for a number"),
])
def test_show_offset_and_size(cli, golden, option, value, message):
    result = cli("show", golden / "factory_data.hex", option, value)
    assert result.code == 2 and message in result.err, result


def test_dangling_symlink_is_an_existing_output(cli, golden, tmp_path):
    os.symlink(tmp_path / "elsewhere.json", tmp_path / "fd.json")
    before = snapshot(tmp_path)
    result = cli("generate", *golden_args(golden, tmp_path / "fd"))
    assert result.code == 2
    assert result.err == (f"error: {tmp_path / 'fd.json'}: already exists (a dangling symbolic "
                          "link); pass --overwrite to replace it\n")
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "elsewhere.json").exists()


def test_a_failed_rename_rolls_the_whole_set_back(golden, tmp_path, monkeypatch):
    """--overwrite: the third rename fails; the first two files are put back as they were."""
    from matter_factory_data.files import outputs

    old = {name: f"old {name}".encode() for name in ("a.json", "a.hex", "a.bin")}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
        os.chmod(tmp_path / name, 0o640)
    before = snapshot(tmp_path)
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if str(dst).endswith("a.bin"):
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", failing_replace)
    out = outputs.OutputSet(overwrite=True)
    for name in old:
        out.add(tmp_path / name, b"new", secret=True)
    with pytest.raises(outputs.OutputError, match="No space left on device"):
        out.commit()
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert snapshot(tmp_path) == before
    assert [Path(c).name for c in calls if not str(c).endswith((".journal", ".old"))][:3] == \
        ["a.json", "a.hex", "a.bin"]


def test_an_interrupted_journaled_set_is_completed_by_the_next_run(tmp_path):
    """The state kill -9 leaves after the journal and one rename: the next commit into the
    directory finishes the set; stray staged files of a dead process are removed."""
    import subprocess
    import sys

    from matter_factory_data.files import outputs

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    (tmp_path / "fd.json").write_bytes(b"new json")  # renamed before the kill
    staged = tmp_path / f".fd.bin.{dead}.0123456789ab.tmp"
    staged.write_bytes(b"new bin")
    (tmp_path / "fd.bin").write_bytes(b"old bin")
    (tmp_path / f".fd.bin.{dead}.0123456789ac.old").write_bytes(b"old bin")
    (tmp_path / f".mfd-outputs.{dead}.0123456789ab.journal").write_text(json.dumps(
        [[str(tmp_path / f".fd.json.{dead}.0123456789aa.tmp"), str(tmp_path / "fd.json")],
         [str(staged), str(tmp_path / "fd.bin")]]))
    (tmp_path / f".CD.der.{dead}.0123456789ad.tmp").write_bytes(b"unjournaled")
    mine = tmp_path / f".other.{os.getpid()}.0123456789ae.tmp"  # a live process's: kept
    mine.write_bytes(b"busy")
    outputs.OutputSet().add(tmp_path / "x.txt", b"x")
    outputs.recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["fd.json", "fd.bin", mine.name])
    assert (tmp_path / "fd.bin").read_bytes() == b"new bin"


def test_kill_9_during_generate_overwrite_leaves_no_key_for_good(golden, tmp_path):
    """kill -9 at random moments of `generate --overwrite`; after the next run no temporary
    (which would hold the DAC key) is left, and the set is the old one or the new one."""
    import random
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "fd"
    base = [sys.executable, "-m", "matter_factory_data", "generate",
            *map(str, golden_args(golden, out)), "--overwrite"]
    assert subprocess.run(base, capture_output=True).returncode == 0
    rng = random.Random(10)
    for trial in range(12):
        serial = f"SN{trial:04d}"
        argv = with_option(base, "--sn", serial)
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        # the next run (which may itself be killed later) settles the leftovers first
        final = subprocess.run(with_option(base, "--sn", f"NEXT{trial:04d}"),
                               capture_output=True, text=True)
        assert final.returncode == 0, final.stderr
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert leftovers == [], (trial, leftovers)
        from matter_factory_data.formats.nrf_cbor import decode_image

        data = json.loads((tmp_path / "fd.json").read_text())
        assert data["sn"] == f"NEXT{trial:04d}"
        assert decode_image((tmp_path / "fd.bin").read_bytes())["sn"] == data["sn"].encode()
        for name in ("fd.json", "fd.hex", "fd.bin"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


# --------------------------------------------------------------------------- CSV and manifest

def csv_case(tmp_path, content: bytes):
    path = tmp_path / "devices.csv"
    path.write_bytes(content)
    return ["batch", "-o", tmp_path / "lot", "--defaults", "--csv", path, "--qr", "none",
            "--jobs", "1", "--spake2_it", "1000"]


CSV_BAD = [
    ("formula-equals", b"sn\n=HYPERLINK(\"x\")\n",
     "line 2: sn: '=HYPERLINK(\"x\")' starts with '=', which a spreadsheet opening the manifest "
     "would run as a formula (accepted: a value that does not start with = + - @)"),
    ("formula-plus", b"sn\n+1\n", "sn: '+1' starts with '+'"),
    ("formula-minus", b"sn\n-1\n", "sn: '-1' starts with '-'"),
    ("formula-at", b"sn\n@SUM(1)\n", "sn: '@SUM(1)' starts with '@'"),
    ("tab-start", b"sn\n\"\tA\"\n", "sn: serial number contains a control character (U+0009, "
                                    "tab) at character 1"),
    ("cr-start", b"sn\r\n\"\rA\"\r\n", "contains a control character (U+000D, carriage return)"),
    ("quoted-newline", b"sn\r\n\"A\nB\"\r\n", "line 3: sn: serial number contains a control "
                                              "character (U+000A, newline) at character 2"),
    ("spaces-around", b"sn\n A1 \n", "sn: ' A1 ' has spaces around the value (values are used "
                                     "exactly as written: remove them)"),
    ("bad-quoting", b"sn\n\"A\"B\n", "not a valid CSV file ("),
    ("not-utf8", b"sn\n\xff\n", "line 2 is not UTF-8 text (byte 0xff at column 1, byte at "
                                "position 3)"),
    ("not-utf8-mid-line", b"sn,passcode\nA1,20202021\nA\xfe2,20202022\n",
     "line 3 is not UTF-8 text (byte 0xfe at column 2, byte at position 25)"),
    ("nul", b"sn\nA\x00B\n", "contains a control character (U+0000, NUL)"),
    ("passcode-arabic", "passcode\n\u0662\u0660\u0662\u0660\u0662\u0660\u0662\u0662\n".encode(),
     "passcode: '\u0662\u0660\u0662\u0660\u0662\u0660\u0662\u0662' is not an integer"),
    ("passcode-huge", b"passcode\n" + HUGE.encode() + b"\n", "is too long for a number"),
    ("discriminator-negative", b"discriminator\n-1\n", "discriminator -1 is out of range"),
    ("sn-hex", b"sn\nhex:41\n", "sn: serial number starts with 'hex:'"),
]


@pytest.mark.parametrize("content, message", [c[1:] for c in CSV_BAD],
                         ids=[c[0] for c in CSV_BAD])
def test_csv_refusals(cli, tmp_path, content, message):
    argv = csv_case(tmp_path, content)
    before = snapshot(tmp_path)
    result = cli(*argv)
    assert result.code == 2, result
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content", [
    b"\xef\xbb\xbfsn,passcode\r\nA-1,20202022\r\nA-2,20202023\r\n",  # BOM + CRLF (Excel)
    b"\"sn\",\"passcode\"\n\"A-1\",\"20202022\"\n\"A-2\",20202023\n",  # quoted fields
    b"sn,passcode\nA-1,20202022\nA-2,20202023",  # no final newline
])
def test_csv_that_is_handled(cli, tmp_path, content):
    import csv

    from matter_factory_data.core.onboarding import parse_qr_code

    result = cli(*csv_case(tmp_path, content))
    assert result.code == 0, result
    rows = list(csv.DictReader((tmp_path / "lot" / "manifest.csv").open(newline="")))
    assert [r["sn"] for r in rows] == ["A-1", "A-2"]
    assert [parse_qr_code(r["qr_payload"]).passcode for r in rows] == [20202022, 20202023]


@pytest.mark.parametrize("template, message", [
    ("={n}", "--sn_template '={n}': the serial number of device 1 '=1' starts with '='"),
    ("{n:+d}", "the serial number of device 1 '+1' starts with '+'"),
    ("{n:=>4d}", "the serial number of device 1 '===1' starts with '='"),
    ("-{n}", "'-1' starts with '-'"),
    ("@{n}", "'@1' starts with '@'"),
    ("\t{n}", "contains a control character (U+0009, tab) at character 1"),
    ("A\n{n}", "contains a control character (U+000A, newline)"),
    ("hex:{n:02d}", "starts with 'hex:'"),
    ("{n:\u0663d}", "--sn_template"),
])
def test_sn_templates_that_a_spreadsheet_or_the_device_would_misread(cli, tmp_path, template,
                                                                     message):
    before = snapshot(tmp_path)
    result = cli("batch", "-o", tmp_path / "lot", "--count", "2", "--defaults",
                 f"--sn_template={template}")
    assert result.code == 2 and message in result.err, result
    assert len(result.err.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- menuconfig --set

MENUCONFIG = [
    ("passcode-forbidden", "CHIP_DEVICE_SPAKE2_PASSCODE=11111111",
     "error: not saved: CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE: setup passcode is in the list of "
     "forbidden passcodes (Matter spec 5.1.7.1)"),
    ("sn-40-bytes", "CHIP_DEVICE_SERIAL_NUMBER=" + "A" * 40,
     'error: not saved: CONFIG_CHIP_DEVICE_SERIAL_NUMBER="' + "A" * 40 + '": serial number is '
     "40 bytes long (accepted: 1..32 bytes)"),
    ("date-bad", "CHIP_DEVICE_MANUFACTURING_DATE=2022-13-01",
     'error: not saved: CONFIG_CHIP_DEVICE_MANUFACTURING_DATE="2022-13-01": \'2022-13-01\' is '
     "not a real calendar date"),
    ("date-arabic", "CHIP_DEVICE_MANUFACTURING_DATE=" + ARABIC_DATE, "is not a date in the "
                                                                     "form YYYY-MM-DD"),
    ("salt-bad", "CHIP_DEVICE_SPAKE2_SALT=abc",
     'error: not saved: CONFIG_CHIP_DEVICE_SPAKE2_SALT="abc": not valid base64'),
    ("salt-short", "CHIP_DEVICE_SPAKE2_SALT=QUJD", "SPAKE2+ salt is 3 bytes long (accepted: "
                                                   "16..32 bytes)"),
    ("newline-injection", "CHIP_DEVICE_SERIAL_NUMBER=AB\nCONFIG_X=y",
     "error: --set 'CHIP_DEVICE_SERIAL_NUMBER=AB\\nCONFIG_X=y': contains a control character "
     "(U+000A, newline) at character 29 (accepted: one line of printable text)"),
    ("esc", "CHIP_DEVICE_VENDOR_NAME=A\x1bB", "contains a control character (U+001B, ESC)"),
    ("sn-hex", "CHIP_DEVICE_SERIAL_NUMBER=hex:41", "serial number starts with 'hex:'"),
    ("vid-huge", "CHIP_DEVICE_VENDOR_ID=" + HUGE, "CHIP_DEVICE_VENDOR_ID is an int"),
]


@pytest.mark.parametrize("assignment, message", [c[1:] for c in MENUCONFIG],
                         ids=[c[0] for c in MENUCONFIG])
def test_menuconfig_set_validates_like_the_build(cli, tmp_path, assignment, message):
    conf = tmp_path / "fd.conf"
    conf.write_text("CONFIG_CHIP_DEVICE_PRODUCT_ID=7\n")
    before = snapshot(tmp_path)
    result = cli("menuconfig", "--conf", conf, "--set", assignment)
    assert result.code == 2, result
    assert message in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert "11111111" not in result.err or "PASSCODE" not in assignment
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content", [b"print('not a fragment')\n", b"\x00\x01\x02",
                                     b"CONFIG_CHIP_DEVICE_PRODUCT_ID=7\nrm -rf /\n"])
def test_menuconfig_does_not_rewrite_a_file_that_is_not_a_fragment(cli, tmp_path, content):
    target = tmp_path / "script.conf"
    target.write_bytes(content)
    before = snapshot(tmp_path)
    result = cli("menuconfig", "--conf", target, "--set", "CHIP_DEVICE_VENDOR_ID=5")
    assert result.code == 2 and "not a Kconfig fragment" in result.err, result
    assert snapshot(tmp_path) == before


def test_menuconfig_passcode_is_not_printed_and_its_fragment_is_private(cli, tmp_path):
    conf = tmp_path / "fd.conf"
    result = cli("menuconfig", "--conf", conf, "--set", "CHIP_DEVICE_SPAKE2_PASSCODE=24681357")
    assert result.code == 0, result
    assert "24681357" not in result.out + result.err
    assert "CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE: changed (value not shown)" in result.out
    assert "CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE=24681357" in conf.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- the boundary

@pytest.mark.parametrize("argv, code, message", [
    (["codes", "--vendor_id", "1", "--product_id", "1", "--discriminator", "1", "--passcode",
      "20202021", "--png", "x" * 300 + ".png"], 2, "File name too long"),
    (["verify", "GOLDEN", "--passcode", "-1"], 2,
     "--passcode: setup passcode -1 is out of range (accepted: 1..99999998)"),
    (["verify", "GOLDEN", "--passcode", "0x10000000"], 2,
     "--passcode: setup passcode 268435456 is out of range"),
    (["show", "a\nb.hex"], 2, "error: input a\\nb.hex: cannot read the file"),
    (["generate", "--defaults", "-o", "out\n/fd"], None, None),
])
def test_every_error_is_one_line(cli, golden, tmp_path, argv, code, message):
    argv = [str(golden / "factory_data.hex") if a == "GOLDEN" else a for a in argv]
    result = cli(*argv)
    assert "internal error" not in result.err and len(result.err.strip().splitlines()) <= 1, \
        result
    if code is not None:
        assert result.code == code and message in result.err, result


@pytest.mark.parametrize("argv, message", [
    (["check", "--pm-static", "", "--soc", "nrf52840"],
     "error: --pm-static: an empty path is not a file (give the layout file)"),
    (["check", "--partitions", "", "--soc", "nrf52840"],
     "error: --partitions: an empty path is not a file (give the layout file)"),
    (["menuconfig", "--kconfig", "PNG", "--conf", "x.conf",
      "--set", "CONFIG_CHIP_DEVICE_VENDOR_ID=5"],
     "error: --kconfig {dir}/PNG: not a Kconfig file kconfiglib can read (Malformed utf-8 in "
     "'{dir}/PNG')"),
    (["menuconfig", "--kconfig", "KCONFIG_NL", "--conf", "x.conf",
      "--set", "CONFIG_CHIP_DEVICE_VENDOR_ID=5"], None),
])
def test_odd_paths_are_one_line_and_write_nothing(cli, tmp_path, argv, message):
    """Found by a sweep of every option with odd values: an empty layout path, a --kconfig
    that is not Kconfig, and a Kconfig path holding a newline (the generated wrapper quotes
    it) no longer end in an internal error."""
    (tmp_path / "PNG").write_bytes(b"\x89PNG\r\n\x1a\n")
    weird = tmp_path / "k\nconfig"
    weird.write_text((Path(__file__).parents[1] / "kconfig" / "Kconfig").read_text())
    argv = [str(weird) if a == "KCONFIG_NL" else str(tmp_path / a) if a == "PNG" else a
            for a in argv]
    before = snapshot(tmp_path)
    result = cli(*argv)
    if message is None:  # a readable Kconfig at an odd path works
        assert result.code == 0, result
        return
    assert result.code == 2, result
    assert result.err.strip() == message.format(dir=tmp_path)
    assert snapshot(tmp_path) == before


# ------------------------------------------------- issue #14: one line for every bad input
# Each case: (id, setup, message). ``setup(tmp_path, golden)`` writes the hostile input and
# returns the argv; the run must exit 2 with one line holding ``message`` ({dir} = tmp_path)
# and leave tmp_path unchanged byte for byte.

STM32_JSON = Path(__file__).parent / "data" / "stm32" / "full.json"


def _json_input(text: str, name: str = "in.json"):
    def setup(tmp_path, golden):
        (tmp_path / name).write_text(text, encoding="utf-8")
        return tmp_path / name
    return setup


def _golden_json_with(key, value):
    def text(golden):
        data = json.loads((golden / "factory_data.json").read_text())
        data[key] = value
        return json.dumps(data)  # ensure_ascii: a lone surrogate is written as \udcba
    return text


def _partition(make_text):
    def setup(tmp_path, golden):
        (tmp_path / "in.json").write_text(make_text(golden))
        return ["partition", "-i", tmp_path / "in.json", "-o", tmp_path / "p", "--offset",
                "0xf7000", "--size", "0x1000"]
    return setup


def _show(make_text, *extra):
    def setup(tmp_path, golden):
        (tmp_path / "in.json").write_text(make_text(golden))
        return ["show", tmp_path / "in.json", *extra]
    return setup


def _stm32(text, command="partition"):
    def setup(tmp_path, golden):
        path = tmp_path / "st.json"
        if text == "SPARSE":  # more than the 64 MiB any input may be, without writing it
            with open(path, "wb") as stream:
                stream.truncate(64 * 1024 * 1024 + 1)
        else:
            path.write_text(text)
        if command == "show":
            return ["show", "--format", "stm32-tlv", "--board", "wba65", path]
        return ["partition", "--format", "stm32-tlv", "--board", "wba65", "-i", path, "-o",
                tmp_path / "st"]
    return setup


def _stm32_text(edit):
    data = json.loads(STM32_JSON.read_text())
    return edit(data)


def _check_layout(text):
    def setup(tmp_path, golden):
        (tmp_path / "pm_static.yml").write_text(text)
        return ["check", "--pm-static", tmp_path / "pm_static.yml", "--soc", "nrf52840"]
    return setup


def _batch(*argv):
    def setup(tmp_path, golden):
        return ["batch", "-o", tmp_path / "lot", "--defaults", "--qr", "none", *argv]
    return setup


def _provision(*argv):
    def setup(tmp_path, golden):
        return ["provision", "--port", tmp_path / "no-port", "--manifest", tmp_path / "m.csv",
                "--protocol", "st-demo", *argv]
    return setup


def _kconfig(value: bytes):
    def setup(tmp_path, golden):
        from test_build_dir_commands import DOTCONFIG, write_firmware

        zephyr = tmp_path / "b" / "zephyr"
        zephyr.mkdir(parents=True)
        (zephyr / ".config").write_bytes(DOTCONFIG.encode().replace(b"BUILD-DIR-SN", value))
        write_firmware(zephyr / "zephyr.hex")
        return ["build-step", "--dotconfig", zephyr / ".config", "--out-dir", zephyr,
                "--pm-static", REPO_LAYOUT, "--firmware-hex", zephyr / "zephyr.hex",
                "--merged-hex", zephyr / "merged.hex"]
    return setup


REPO_LAYOUT = Path(__file__).parent / "data" / "layout" / "nrf52840_pm_static.yml"
SURROGATE = "\udcba"

ONE_LINE = [
    # counts and ranges: refused before anything is written
    ("batch-count-huge-shared", _batch("--count", "1000000000000",
                                       "--allow_shared_discriminators"),
     "--count: 1000000000000 is more than the 10000000 devices one series may hold (accepted: "
     "1..10000000; up to 4096 without sharing discriminators); split the lot into several "
     "series"),
    ("batch-count-limit-plus-one", _batch("--count", "10000001", "--allow_shared_discriminators"),
     "--count: 10000001 is more than the 10000000 devices"),
    ("batch-jobs-huge", _batch("--count", "2", "--jobs", "100000"),
     "--jobs: 100000 is not accepted (accepted: 1..256 worker processes)"),
    ("batch-jobs-zero", _batch("--count", "2", "--jobs", "0"),
     "--jobs: 0 is not accepted (accepted: 1..256 worker processes)"),
    # found by the sweep of every option: empty paths were taken as "not given", a seed
    # holding a byte that is not UTF-8 was an internal error, a port name was printed raw
    ("batch-csv-empty-path", _batch("--count", "2", "--csv", ""),
     "--csv '': cannot read the file (the path is empty)"),
    ("batch-fields-empty-path", _batch("--count", "2", "--fields", ""),
     "--fields '': cannot read the file (the path is empty)"),
    ("batch-pai-key-empty-path", _batch("--count", "2", "--pai_key", ""),
     "--pai_cert and --pai_key go together: give both"),
    ("batch-seed-not-utf8", _batch("--count", "2", "--seed", "s\udcff"),
     "--seed: contains the byte 0xFF, which is not valid UTF-8, at character 2"),
    ("provision-port-newline", _provision("--port", "/dev/ttyACM0\nCOM5"),
     "--port: '/dev/ttyACM0\\nCOM5' contains a control character (U+000A, newline) at "
     "character 13 (accepted: a serial port name such as /dev/ttyACM0 or COM5)"),
    ("provision-port-not-utf8", _provision("--port", "\udcff"),
     "--port: '\\udcff' contains the byte 0xFF, which is not valid UTF-8"),
    ("provision-port-empty", _provision("--port", ""), "--port: '' is empty"),
    ("provision-baud-zero", _provision("--baud", "0"),
     "--baud: 0 is not accepted (accepted: 1..12000000 bits per second)"),
    ("provision-baud-huge", _provision("--baud", "1" + "0" * 30), "--baud: 1000000000000"),
    # keys given twice: YAML and every JSON input
    ("pm-static-twice", _check_layout("factory_data:\n  address: 0xf7000\n  size: 0x1000\n"
                                      "factory_data:\n  address: 0xfb000\n  size: 0x1000\n"),
     "pm_static.yml: not accepted: key 'factory_data' appears twice in a mapping (at line 4; "
     "the YAML reader would keep only the last)"),
    ("pm-static-nested-twice", _check_layout("factory_data:\n  address: 0xf7000\n"
                                             "  address: 0xfb000\n  size: 0x1000\n"),
     "key 'address' appears twice in a mapping (at line 3"),
    ("partition-input-twice", _partition(lambda g: (g / "factory_data.json").read_text()
                                         .replace('{', '{"sn": "A", ', 1)),
     "--input {dir}/in.json: not valid JSON (key 'sn' appears twice in an object)"),
    ("stm32-json-twice", _stm32('{"VENDOR_ID": "1", "VENDOR_ID": "2"}'),
     "st.json: not valid JSON (key 'VENDOR_ID' appears twice in an object)"),
    # lone surrogates: nRF and STM32 JSON alike, show and partition alike
    ("partition-sn-surrogate", _partition(_golden_json_with("sn", SURROGATE)),
     "--input {dir}/in.json: key 'sn': not accepted: the text '\\udcba' holds a lone "
     "surrogate U+DCBA at character 1, which is not a character (accepted: text that can be "
     "written as UTF-8)"),
    ("show-sn-surrogate", _show(_golden_json_with("sn", SURROGATE)),
     "{dir}/in.json: key 'sn': not accepted: the text '\\udcba' holds a lone surrogate"),
    ("show-user-surrogate", _show(_golden_json_with("user", {"name": "a" + SURROGATE})),
     "key 'name': not accepted: the text 'a\\udcba' holds a lone surrogate U+DCBA at "
     "character 2"),
    ("show-key-surrogate", _show(_golden_json_with("user", {SURROGATE: 1})),
     "not accepted: the text '\\udcba' holds a lone surrogate"),
    ("stm32-partition-surrogate",
     _stm32(_stm32_text(lambda d: json.dumps({**d, "VENDOR_NAME": SURROGATE}))),
     "key 'VENDOR_NAME': not accepted: the text '\\udcba' holds a lone surrogate"),
    ("stm32-show-surrogate",
     _stm32(_stm32_text(lambda d: json.dumps({**d, "VENDOR_NAME": SURROGATE})), "show"),
     "key 'VENDOR_NAME': not accepted: the text '\\udcba' holds a lone surrogate"),
    # the STM32 JSON reader under the limits of every other JSON input
    ("stm32-5000-digits", _stm32('{"VENDOR_ID": ' + HUGE + "}"),
     "st.json: not valid JSON (a number has more than 4300 digits)"),
    ("stm32-deep", _stm32("[" * 100000), "st.json: not accepted: JSON nested more than 64 deep"),
    ("stm32-show-deep", _stm32('{"A": ' + "[" * 100000, "show"),
     "not accepted: JSON nested more than 64 deep"),
    ("stm32-nan", _stm32('{"VENDOR_ID": NaN}'), "not valid JSON (NaN is not a JSON number)"),
    ("stm32-too-big", _stm32("SPARSE"), "st.json: the file is 67108865 bytes, more than the "
                                        "67108864 accepted"),
    ("json-float-infinite", _partition(lambda g: (g / "factory_data.json").read_text()
                                       .replace('{', '{"x": 1e999, ', 1)),
     "not valid JSON (the number 1e999 is out of range)"),
    ("json-float-5000-digits", _partition(lambda g: (g / "factory_data.json").read_text()
                                          .replace('{', '{"x": 0.' + "1" * 5000 + ", ", 1)),
     "not valid JSON (a number has more than 4300 digits)"),
    # Kconfig: refused as `menuconfig --set` refuses it, never written as U+FFFD
    ("kconfig-sn-0xff", _kconfig(b"AB\xffCD"),
     'CONFIG_CHIP_DEVICE_SERIAL_NUMBER="AB\\udcffCD": serial number contains the byte 0xFF, '
     "which is not valid UTF-8, at character 3"),
    # certificate subjects: the rules of every text value
    ("dac-common-name-newline", _provision("--dac_common_name", "Matter\nDAC"),
     "--dac_common_name: common name contains a control character (U+000A, newline) at "
     "character 7 (accepted: printable text)"),
    ("dac-common-name-esc", _provision("--dac_common_name", "A\x1b[31m"),
     "--dac_common_name: common name contains a control character (U+001B, ESC)"),
    ("dac-common-name-bidi", _provision("--dac_common_name", "A\u202eB"),
     "invisible format character (U+202E"),
    ("dac-common-name-65-bytes", _provision("--dac_common_name", "\u00e9" * 33),
     "is 66 bytes (accepted: 1..64 bytes of UTF-8)"),
    ("dac-common-name-empty", _provision("--dac_common_name", ""),
     "--dac_common_name: '' is 0 bytes (accepted: 1..64 bytes of UTF-8)"),
]


@pytest.mark.parametrize("setup, message", [c[1:] for c in ONE_LINE],
                         ids=[c[0] for c in ONE_LINE])
def test_one_line_for_every_bad_input(cli, golden, tmp_path, setup, message):
    argv = setup(tmp_path, golden)
    before = snapshot(tmp_path)
    result = cli(*argv)
    assert result.code == 2, result
    assert message.format(dir=tmp_path) in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and "internal error" not in result.err
    assert result.out == ""
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("raw, message", [
    (b'{"VENDOR_NAME": "\xff"}', "st.json: not valid JSON (not UTF-8: byte 0xff at line 1, "
                                  "column 18)"),
    (b"\xef\xbb\xbf{}", "st.json: not valid JSON (starts with a UTF-8 byte order mark"),
])
def test_stm32_json_bytes(cli, tmp_path, raw, message):
    (tmp_path / "st.json").write_bytes(raw)
    before = snapshot(tmp_path)
    for argv in (["show", "--format", "stm32-tlv", "--board", "wba65", tmp_path / "st.json"],
                 ["partition", "--format", "stm32-tlv", "--board", "wba65", "-i",
                  tmp_path / "st.json", "-o", tmp_path / "st"]):
        result = cli(*argv)
        assert result.code == 2 and message in result.err, result
        assert len(result.err.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


# --- damaged batch state: manifest.csv and batch.json, for resume and for verify ---------

@pytest.fixture(scope="module")
def made_lot(tmp_path_factory):
    """One small finished batch, copied by each test before it damages it."""
    from matter_factory_data.cli.app import main

    lot = tmp_path_factory.mktemp("lot") / "lot"
    assert main(["batch", "-o", str(lot), "--count", "2", "--defaults", "--qr", "none",
                 "--spake2_it", "1000", "--jobs", "1", "--seed", "hostile"]) == 0
    return lot


def _replace_line(number, old, new):
    def damage(lot):
        path = lot / "manifest.csv"
        lines = path.read_bytes().splitlines(keepends=True)
        lines[number - 1] = lines[number - 1].replace(old, new, 1)
        path.write_bytes(b"".join(lines))
    return damage


def _dac_serial_cell(lot):
    path = lot / "manifest.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    header = lines[0].decode().strip().split(",")
    cells = lines[1].decode().split(",")
    cells[header.index("dac_serial")] = "zz12"
    lines[1] = ",".join(cells).encode()
    path.write_bytes(b"".join(lines))


def _state(edit):
    def damage(lot):
        path = lot / "batch.json"
        path.write_bytes(edit(path.read_bytes()))
    return damage


DAMAGED = [
    ("manifest-0xff", _replace_line(2, b",", b"\xff,"),
     "batch manifest {lot}/manifest.csv: line 2 is not UTF-8 (byte 0xff at column 2); "
     "restore the file"),
    ("manifest-dac-serial", _dac_serial_cell,
     "batch manifest {lot}/manifest.csv: line 2: cell 'dac_serial' 'zz12' is not a "
     "hexadecimal serial number (1..40 hex digits); restore the manifest of this batch"),
    ("manifest-image-outside", _replace_line(3, b"devices/000002", b"/etc/passwd"),
     "batch manifest {lot}/manifest.csv: line 3: cell 'image' '/etc/passwd/factory_data.bin' "
     "is not a file under devices/ of this batch"),
    ("manifest-image-dotdot", _replace_line(3, b"devices/000002", b"devices/../../x"),
     "cell 'image' 'devices/../../x/factory_data.bin' is not a file under devices/"),
    ("manifest-index", _replace_line(2, b"1,", b"-1,"),
     "line 2: cell 'index' '-1' is not a device number"),
    ("manifest-open-quote", _replace_line(3, b",", b',"'),
     "batch manifest {lot}/manifest.csv: line 3 is not valid CSV (unexpected end of data)"),
    ("manifest-extra-cell", _replace_line(2, b"\r\n", b",extra\r\n"),
     "batch manifest {lot}/manifest.csv: line 2 has 11 cells, the header 10"),
    ("state-0xff", _state(lambda b: b[:10] + b"\xff" + b[10:]),
     "batch state {lot}/batch.json: not valid JSON (not UTF-8: byte 0xff at line 2, column 9)"),
    ("state-params-twice", _state(lambda b: b.rstrip()[:-1] + b', "params": {}}'),
     "batch state {lot}/batch.json: not valid JSON (key 'params' appears twice in an object)"),
    ("state-no-params", _state(lambda b: b"[]"),
     "batch state {lot}/batch.json: no 'params' object"),
]


@pytest.mark.parametrize("command", ["resume", "verify"])
@pytest.mark.parametrize("damage, message", [c[1:] for c in DAMAGED], ids=[c[0] for c in DAMAGED])
def test_damaged_batch_files_are_named_with_file_and_line(cli, tmp_path, made_lot, command,
                                                          damage, message):
    import shutil

    lot = tmp_path / "lot"
    shutil.copytree(made_lot, lot)
    damage(lot)
    before = snapshot(tmp_path)
    if command == "resume":
        result = cli("batch", "-o", lot, "--count", "3", "--defaults", "--qr", "none",
                     "--spake2_it", "1000", "--jobs", "1", "--seed", "hostile")
    else:
        result = cli("verify", lot, "--jobs", "1")
    assert result.code == 2, result
    assert message.format(lot=lot) in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and "internal error" not in result.err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("jobs", ["0", "-5", "100000"])
def test_verify_dir_jobs_are_limited(cli, tmp_path, made_lot, jobs):
    """`verify DIR --jobs -5` was an internal error, `--jobs 100000` started 100000
    processes."""
    before = snapshot(made_lot)
    result = cli("verify", made_lot, "--jobs", jobs)
    assert (result.code, result.out) == (2, ""), result
    assert result.err == f"error: --jobs: {jobs} is not accepted (accepted: 1..256 worker " \
                         "processes)\n"
    assert snapshot(made_lot) == before


# --- the station manifest of provision ----------------------------------------------------

@pytest.fixture(scope="module")
def station_pai(tmp_path_factory):
    from matter_factory_data.core import certs

    directory = tmp_path_factory.mktemp("pai")
    paa_key, pai_key = certs.new_key(), certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="Test PAA", vendor_id=0xFFF1)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name="Test PAI", vendor_id=0xFFF1)
    (directory / "pai.der").write_bytes(certs.cert_der(pai))
    (directory / "pai_key.der").write_bytes(certs.key_der(pai_key))
    return directory


STATION_HEADER = b"time,port,protocol,sn,dac_serial,status,code,error\n"


@pytest.mark.parametrize("row, message", [
    (b"2026-01-01T00:00:00+0000,/dev/ttyACM0,csr,SN1,not-hex,ok,0,\n",
     "station manifest {path}: line 2: cell 'dac_serial' 'not-hex' is not a hexadecimal serial "
     "number (1..40 hex digits); restore the manifest"),
    (b"2026-01-01T00:00:00+0000,/dev/ttyACM0,csr,SN\xff,12ab,ok,0,\n",
     "station manifest {path}: line 2 is not UTF-8 (byte 0xff at column 45); restore the file"),
    (b"2026-01-01T00:00:00+0000,/dev/ttyACM0,csr,SN1,12ab,ok\n",
     "station manifest {path}: line 2 has 6 cells, the header 8"),
    (None, "--manifest {path}: line 1: not a station manifest (the header is not time,port,"
           "protocol,sn,dac_serial,status,code,error); give the station's manifest or a new "
           "file"),
], ids=["dac-serial", "0xff", "short-row", "not-a-manifest"])
def test_a_damaged_station_manifest_is_one_line(cli, tmp_path, station_pai, row, message):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(STATION_HEADER + row if row is not None else b"index,sn\n1,A\n")
    before = snapshot(tmp_path)
    result = cli("provision", "--port", tmp_path / "no-port", "--manifest", manifest,
                 "--pai_cert", station_pai / "pai.der", "--pai_key", station_pai / "pai_key.der",
                 "--vendor_id", "0xFFF1", "--product_id", "0x8000")
    assert result.code == 2, result
    assert message.format(path=manifest) in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


def test_csr_subjects_follow_the_text_rules():
    """A device-supplied CSR whose serialNumber or CN holds a control character is refused
    (it would reach the manifest and every terminal that prints it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from matter_factory_data.core import certs
    from matter_factory_data.station.provision.issuer import CsrIssuer, CsrRefused

    paa_key, pai_key, device_key = certs.new_key(), certs.new_key(), certs.new_key()
    paa = certs.make_paa(key=paa_key, common_name="Test PAA", vendor_id=0xFFF1)
    pai = certs.make_pai(key=pai_key, issuer_cert=paa, issuer_key=paa_key,
                         common_name="Test PAI", vendor_id=0xFFF1)
    issuer = CsrIssuer(pai_cert=pai, pai_key=pai_key, vendor_id=0xFFF1, product_id=0x8000)

    def csr(cn, sn):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.1"),
                                             "FFF1"),
                          x509.NameAttribute(x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.2"),
                                             "8000"),
                          x509.NameAttribute(NameOID.SERIAL_NUMBER, sn,
                                             _type=x509.name._ASN1Type.UTF8String)])
        request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(
            device_key, hashes.SHA256())
        from cryptography.hazmat.primitives.serialization import Encoding

        return request.public_bytes(Encoding.DER)

    assert issuer.check(csr("Device", "SN-1")).sn == "SN-1"
    with pytest.raises(CsrRefused, match=r"serialNumber contains a control character "
                                         r"\(U\+001B, ESC\)"):
        issuer.check(csr("Device", "SN\x1b[2J"))
    with pytest.raises(CsrRefused, match=r"commonName contains a control character "
                                         r"\(U\+000A, newline\)"):
        issuer.check(csr("Dev\nice", "SN-1"))


def test_certificate_subjects_are_checked_in_the_core():
    from matter_factory_data.core import certs
    from matter_factory_data.errors import InputError

    key = certs.new_key()
    with pytest.raises(InputError, match=r"contains a control character \(U\+000D, carriage "
                                         r"return\)"):
        certs.make_paa(key=key, common_name="PAA\r", vendor_id=0xFFF1)


# --- a missing Python package, under west and the console script --------------------------

def test_a_missing_python_package_names_the_install_command(west_workspace, west, golden,
                                                            monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "cbor2" or m.startswith("cbor2.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if m.startswith("matter_factory_data.formats")
                 or m.startswith("matter_factory_data.jobs")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cbor2", None)  # import cbor2 -> ModuleNotFoundError
    code, out, err = west("factory-data", "show", golden / "factory_data.bin")
    requirements = Path(__file__).resolve().parents[1] / "requirements.txt"
    assert code == 2, (out, err)  # an incomplete installation: usage, as a missing programmer
    assert f"missing Python package 'cbor2': install with `{sys.executable} -m pip install -r " \
           f"{requirements}`" in err, err
    assert "internal error" not in err and "please report" not in err


def test_a_planted_journal_moves_no_other_file(cli, golden, tmp_path):
    """A journal of a dead process is replayed by the next run in that directory: an entry
    that is not a staged output renamed onto its own name (here: moving the user's file
    away) is ignored."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    journal = out / ".mfd-outputs.999999999.0123456789ab.journal"
    journal.write_text(json.dumps([[str(out / "keep.txt"), str(tmp_path / "stolen.txt")],
                                   [str(out / ".keep.txt.1.0123456789ab.tmp"),
                                    str(tmp_path / "keep.txt")]]))
    result = cli("generate", *golden_args(golden, out / "fd"))
    assert result.code == 0, result
    assert (out / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "stolen.txt").exists() and not journal.exists()
