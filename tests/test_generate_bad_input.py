"""Bad input never wins: one line on stderr, a non-zero exit code, no file created or changed."""

import base64

import pytest
from conftest import golden_args, snapshot

SALT_15 = base64.b64encode(b"x" * 15).decode()
SALT_33 = base64.b64encode(b"x" * 33).decode()
VERIFIER_96 = base64.b64encode(b"\x01" * 96).decode()
VECTOR2 = ("WN0SgEXLfUN19BbJqp6qn4pS69EtdNLReIMZwv/CIM0ECMP7ytiAJ7txIYJ0Ovlha/rQ3E+88mj3qaqqnv"
           "iMaZzG+OyXEdSocDIT9ZhmkTCgWwERaHz4Vdh3G37RT6kqbw==")

# (id, options replacing/adding to the golden arguments, removed options, exit code, message)
CASES = [
    ("passcode-zero", {"--passcode": "0"}, [], 2, "--passcode: setup passcode 0 is out of range (accepted: 1..99999998)"),
    ("passcode-forbidden", {"--passcode": "11111111"}, [], 2, "forbidden passcode"),
    ("passcode-12345678", {"--passcode": "12345678"}, [], 2, "forbidden passcode"),
    ("passcode-too-big", {"--passcode": "123456789"}, [], 2, "123456789 is out of range (accepted: 1..99999998)"),
    ("passcode-not-int", {"--passcode": "12ab"}, [], 2, "argument --passcode: '12ab' is not an integer"),
    ("leading-zero-decimal", {"--hw_ver": "010"}, [], 2, "argument --hw_ver: '010' is not an integer"),
    ("discriminator-4096", {"--discriminator": "4096"}, [], 2, "--discriminator: discriminator 4096 is out of range (accepted: 0..4095)"),
    ("vid-17-bit", {"--vendor_id": "0x1FFF1"}, [], 2, "--vendor_id: vendor ID 131057 is out of range (accepted: 0..65524)"),
    ("vid-reserved", {"--vendor_id": "0xFFF5"}, [], 2, "accepted: 0..65524"),
    ("pid-zero", {"--product_id": "0"}, [], 2, "--product_id: product ID 0 is out of range (accepted: 1..65535)"),
    ("sn-empty", {"--sn": ""}, [], 2, "--sn: serial number is 0 bytes long (accepted: 1..32 bytes)"),
    ("sn-33", {"--sn": "A" * 33}, [], 2, "--sn: serial number is 33 bytes long (accepted: 1..32 bytes)"),
    ("sn-utf8-bytes", {"--sn": "é" * 17}, [], 2, "is 34 bytes long"),
    ("vendor-name-33", {"--vendor_name": "V" * 33}, [], 2, "--vendor_name: vendor name is 33 bytes long"),
    ("product-name-empty", {"--product_name": ""}, [], 2, "--product_name: product name is 0 bytes long"),
    ("hw-ver-str-65", {"--hw_ver_str": "h" * 65}, [], 2, "accepted: 1..64 bytes"),
    ("hw-ver-big", {"--hw_ver": "65536"}, [], 2, "--hw_ver: hardware version 65536 is out of range"),
    ("part-number-33", {"--part_number": "p" * 33}, [], 2, "--part_number: part number is 33 bytes long"),
    ("url-257", {"--product_url": "u" * 257}, [], 2, "accepted: 1..256 bytes"),
    ("date-feb-30", {"--date": "2022-02-30"}, [], 2, "--date: '2022-02-30' is not a real calendar date"),
    ("date-compact-bad", {"--date": "20221301"}, [], 2, "--date: '2022-13-01' is not a real calendar date"),
    ("date-slashes", {"--date": "2022/02/02"}, [], 2, "is not a date in the form YYYY-MM-DD"),
    ("salt-15", {"--spake2_salt": SALT_15}, [], 2, "--spake2_salt: SPAKE2+ salt is 15 bytes long (accepted: 16..32 bytes)"),
    ("salt-33", {"--spake2_salt": SALT_33}, [], 2, "is 33 bytes long (accepted: 16..32 bytes)"),
    ("salt-not-base64", {"--spake2_salt": "U1BBS0UyUCBLZXkgU2FsdA=!"}, [], 2, "argument --spake2_salt: 'U1BBS0UyUCBLZXkgU2FsdA=!' is not valid base64"),
    ("salt-bad-padding", {"--spake2_salt": "U1BBS0UyUCBLZXkgU2FsdA"}, [], 2, "is not valid base64"),
    ("iterations-999", {"--spake2_it": "999"}, [], 2, "--spake2_it: SPAKE2+ iteration count 999 is out of range (accepted: 1000..100000)"),
    ("iterations-100001", {"--spake2_it": "100001"}, [], 2, "accepted: 1000..100000"),
    ("rd-uid-not-hex", {"--rd_uid": "zz"}, [], 2, "--rd_uid: 'zz' is not valid hex"),
    ("rd-uid-odd", {"--rd_uid": "0" * 33}, [], 2, "is not valid hex"),
    ("rd-uid-15", {"--rd_uid": "00" * 15}, [], 2, "--rd_uid: rotating device ID unique ID is 15 bytes long (accepted: 16..32 bytes)"),
    ("rd-uid-33", {"--rd_uid": "00" * 33}, [], 2, "is 33 bytes long (accepted: 16..32 bytes)"),
    ("enable-key-15", {"--enable_key": "00" * 15}, [], 2, "--enable_key: test event trigger enable key is 15 bytes long (accepted: exactly 16 bytes)"),
    ("enable-key-not-hex", {"--enable_key": "g" * 32}, [], 2, "--enable_key: 'gggggggggggggggggggggggggggggggg' is not valid hex"),
    ("user-not-json", {"--user": "{bad"}, [], 2, "--user: not valid JSON"),
    ("user-not-object", {"--user": "[1, 2]"}, [], 2, "--user: must be a JSON object"),
    ("finish-unknown", {"--product_finish": "shiny"}, [], 2, "argument --product_finish: invalid choice: 'shiny'"),
    ("color-unknown", {"--product_color": "pink"}, [], 2, "argument --product_color: invalid choice: 'pink'"),
    ("verifier-mismatch", {"--spake2_verifier": VECTOR2}, [], 2, "--spake2_verifier: the SPAKE2+ verifier does not match the passcode, salt and iteration count"),
    ("verifier-96", {"--spake2_verifier": VERIFIER_96}, ["--passcode"], 2, "--spake2_verifier: the verifier is 96 bytes long (accepted: exactly 97 bytes)"),
    ("no-passcode-no-verifier", {}, ["--passcode"], 2, "give --passcode (to derive the SPAKE2+ verifier) or --spake2_verifier"),
    ("missing-sn", {}, ["--sn"], 2, "missing required option(s): --sn"),
    ("missing-vendor-id", {}, ["--vendor_id"], 2, "missing required option(s): --vendor_id"),
    ("missing-output", {}, ["--out"], 2, "missing required option -o/--output"),
    ("missing-dac-key", {}, ["--dac_key"], 2, "missing --dac_key: give --dac_cert, --dac_key and --pai_cert"),
    ("offset-without-size", {}, ["--size"], 2, "--offset and --size go together"),
    ("offset-too-big", {"--offset": "0x100000000"}, [], 2, "--offset: 0x100000000 is not a 32-bit flash address"),
    ("size-zero", {"--size": "0"}, [], 2, "--size: 0 must be a positive number of bytes"),
    ("size-too-small", {"--size": "1366"}, [], 1, "the factory data needs 1367 bytes (1366 bytes of CBOR + 1 terminating byte) but the partition at 0xf7000 is only 1366 bytes"),
    ("ambiguous-prefix", {"--vendor": "1"}, [], 2, "ambiguous option: --vendor could match --vendor_id, --vendor_name"),
    ("unknown-option", {"--colour": "red"}, [], 2, "unrecognized arguments: --colour red"),
    ("cd-type-3", {"--gen_cd": None, "--cd_type": "3"}, [], 2, "--cd_type: 3 is not accepted (accepted: 0 development, 1 provisional, 2 official)"),
    ("cd-type-hex", {"--gen_cd": None, "--cd_type": "0x1"}, [], 2, "argument --cd_type: '0x1' is not a decimal integer"),
    ("gen-certs-and-files", {"--gen_certs": None}, [], 2, "--gen_certs makes new certificates; do not also give --dac_cert, --dac_key, --pai_cert"),
    ("onboarding-without-passcode", {"--generate_onboarding": None, "--spake2_verifier": "uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw=="}, ["--passcode"], 2, "--generate_onboarding needs --passcode"),
    ("schema-missing-file", {"--schema": "no-such-schema.json"}, [], 2, "--schema no-such-schema.json: cannot read the file"),
]


def build_args(golden, out, replace, remove):
    args = golden_args(golden, out)
    result = []
    skip = False
    for _i, item in enumerate(args):
        if skip:
            skip = False
            continue
        if item in remove:
            skip = True
            continue
        if item in replace:
            result += [item] + ([replace[item]] if replace[item] is not None else [])
            skip = True
            continue
        result.append(item)
    for key, value in replace.items():
        if key not in args:
            result += [key] + ([value] if value is not None else [])
    return result


def assert_refused(result, code, message, before, after):
    assert result.code == code, result
    assert message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err
    assert after == before, "the output directory changed"


@pytest.mark.parametrize("case_id, replace, remove, code, message", CASES,
                         ids=[c[0] for c in CASES])
def test_generate_refuses_bad_input(cli, golden, tmp_path, case_id, replace, remove, code, message):
    out_dir = tmp_path / "out"
    before = snapshot(out_dir)
    result = cli("generate", *build_args(golden, out_dir / "fd", replace, remove))
    assert_refused(result, code, message, before, snapshot(out_dir))
    assert not out_dir.exists()


def other_key_file(tmp_path):
    from matter_factory_data.core import certs

    path = tmp_path / "other_key.der"
    path.write_bytes(certs.key_der(certs.new_key()))
    return path


FILE_CASES = [
    ("dac-cert-missing", "--dac_cert", lambda g, t: t / "nope.der", "--dac_cert", "cannot read the file"),
    ("dac-key-is-a-cert", "--dac_key", lambda g, t: g / "Matter-Development-PAI-FFF1-noPID-Cert.der", "--dac_key", "is not a readable private key (it is neither SEC1 nor PKCS#8)"),
    ("dac-key-other-key", "--dac_key", lambda g, t: other_key_file(t), "--dac_key", "does not match --dac_cert"),
    ("pai-is-the-dac", "--pai_cert", lambda g, t: g / "Matter-Development-DAC-FFF1-8006-Cert.der", "--pai_cert", "was not issued by --pai_cert"),
    ("dac-cert-is-the-pai", "--dac_cert", lambda g, t: g / "Matter-Development-PAI-FFF1-noPID-Cert.der", "--dac_cert", "its public key differs from the certificate's"),
]


def test_every_case_names_what_it_expects():
    """An empty expected fragment would match any message."""
    assert all(case[-1].strip() for case in CASES), [c[0] for c in CASES if not c[-1].strip()]
    assert all(case[-1].strip() and case[-2].strip() for case in FILE_CASES)


@pytest.mark.parametrize("case_id, option, make_path, must_name, fragment", FILE_CASES,
                         ids=[c[0] for c in FILE_CASES])
def test_generate_refuses_bad_credential_files(cli, golden, tmp_path, case_id, option, make_path,
                                               must_name, fragment):
    out_dir = tmp_path / "out"
    args = build_args(golden, out_dir / "fd", {option: make_path(golden, tmp_path)}, [])
    result = cli("generate", *args)
    assert_refused(result, 2, must_name, {}, snapshot(out_dir))
    assert fragment in result.err
    assert not out_dir.exists()


@pytest.mark.parametrize("option, value, fragment", [
    ("--vendor_id", "0xFFF2", "0xFFF1"),
    ("--product_id", "0x8007", "0x8006"),
], ids=["vid-differs-from-certificates", "pid-differs-from-dac"])
def test_generate_refuses_ids_that_differ_from_certificates(cli, golden, tmp_path, option, value,
                                                             fragment):
    out_dir = tmp_path / "out"
    result = cli("generate", *build_args(golden, out_dir / "fd", {option: value}, []))
    assert_refused(result, 2, fragment, {}, snapshot(out_dir))
    assert value.upper().replace("0X", "0x") in result.err


def test_existing_output_is_not_replaced_without_overwrite(cli, golden, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "fd.hex").write_text("keep me")
    before = snapshot(out_dir)
    result = cli("generate", *golden_args(golden, out_dir / "fd"))
    assert_refused(result, 2, "fd.hex: already exists; pass --overwrite to replace it", before,
                   snapshot(out_dir))


def test_existing_json_is_protected_when_prefix_ends_in_json(cli, golden, tmp_path):
    (tmp_path / "fd.json").write_text("{}")
    before = snapshot(tmp_path)
    result = cli("generate", *golden_args(golden, tmp_path / "fd.json"))
    assert_refused(result, 2, "fd.json: already exists", before, snapshot(tmp_path))


def test_overwrite_replaces_outputs(cli, golden, tmp_path):
    (tmp_path / "fd.json").write_text("{}")
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--overwrite")
    assert result.code == 0, result.err
    assert (tmp_path / "fd.json").read_bytes() == (golden / "factory_data.json").read_bytes()


def test_output_under_a_file_is_refused(cli, golden, tmp_path):
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    result = cli("generate", *golden_args(golden, tmp_path / "afile" / "fd"))
    assert_refused(result, 2, "is not a directory", before, snapshot(tmp_path))


def test_wrong_dac_key_password_is_one_line(cli, golden, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from matter_factory_data.core import certs

    key = certs.load_private_key((golden / "Matter-Development-DAC-FFF1-8006-Key.der").read_bytes(),
                                 source="golden")
    encrypted = tmp_path / "enc.der"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.DER,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"s3cret")))
    out_dir = tmp_path / "out"
    args = build_args(golden, out_dir / "fd", {"--dac_key": encrypted}, [])
    for password in (None, "Qx7-not-it"):
        extra = ["--dac_key_password", password] if password else []
        result = cli("generate", *args, *extra)
        assert_refused(result, 2, "--dac_key", {}, snapshot(out_dir))
        assert "password" in result.err.lower()
        assert "s3cret" not in result.err and "Qx7-not-it" not in result.err
    result = cli("generate", *args, "--dac_key_password", "s3cret")
    assert result.code == 0, result.err
    assert (out_dir / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()
