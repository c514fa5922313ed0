"""generate: the reference's behaviours we keep, and the ones we fix."""

import base64
import datetime as dt
import json
import stat

import cbor2
import pytest
from conftest import golden_args


def load_json(path):
    return json.loads(path.read_text())


def run_ok(cli, *args):
    result = cli("generate", *args)
    assert result.code == 0, result.err
    return result


def test_offset_zero_is_honoured(cli, golden, tmp_path):
    args = golden_args(golden, tmp_path / "fd")
    args[args.index("--offset") + 1] = "0"
    run_ok(cli, *args)
    hex_text = (tmp_path / "fd.hex").read_text()
    assert hex_text.startswith(":10000000B067")  # data at address 0, no extended address record
    assert (tmp_path / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()


def test_without_offset_and_size_only_json_is_written(cli, golden, tmp_path):
    args = golden_args(golden, tmp_path / "fd")
    args = args[:args.index("--offset")]
    run_ok(cli, *args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fd.json"]


def test_image_exactly_filling_the_partition_is_accepted(cli, golden, tmp_path):
    args = golden_args(golden, tmp_path / "fd")
    args[args.index("--size") + 1] = "1367"  # 1366 bytes of CBOR + the terminating byte
    run_ok(cli, *args)
    assert len((tmp_path / "fd.bin").read_bytes()) == 1367


def test_include_passcode_adds_key_and_warns(cli, golden, tmp_path):
    result = run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--include_passcode")
    data = load_json(tmp_path / "fd.json")
    assert list(data).index("passcode") == list(data).index("pai_cert") + 1
    assert data["passcode"] == 20202021
    assert "forbids this in production" in result.err
    assert "20202021" not in result.out + result.err


def test_passcode_never_printed_by_default(cli, golden, tmp_path):
    result = run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--generate_onboarding")
    assert "20202021" not in result.out + result.err
    assert "34970112332" not in result.out  # the manual code spells the passcode out
    result = run_ok(cli, *golden_args(golden, tmp_path / "fd2"), "--generate_onboarding",
                    "--print_codes")
    assert "MT:8IXS142C00KA0648G00" in result.out and "34970112332" in result.out


def test_outputs_holding_secrets_are_private(cli, golden, tmp_path):
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--generate_onboarding")
    for name in ("fd.json", "fd.hex", "fd.bin", "fd.txt", "fd.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("color, value", [("brass", 17), ("copper", 18), ("cooper", 18),
                                          ("silver", 19), ("black", 0), ("gold", 20)])
def test_product_color_uses_the_matter_enum(cli, golden, tmp_path, color, value):
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--product_color", color)
    data = load_json(tmp_path / "fd.json")
    assert data["primary_color"] == value
    assert list(data)[-1] == "primary_color"


@pytest.mark.parametrize("finish, value", [("other", 0), ("matte", 1), ("satin", 2),
                                           ("fabric", 5)])
def test_product_finish(cli, golden, tmp_path, finish, value):
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--product_finish", finish)
    assert load_json(tmp_path / "fd.json")["product_finish"] == value


def test_compact_date_is_stored_as_iso(cli, golden, tmp_path):
    args = golden_args(golden, tmp_path / "fd")
    args[args.index("--date") + 1] = "20220202"
    run_ok(cli, *args)
    assert (tmp_path / "fd.json").read_bytes() == (golden / "factory_data.json").read_bytes()


def test_optional_keys_in_reference_order(cli, golden, tmp_path):
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--product_label", "Label",
           "--product_url", "https://example.com", "--part_number", "PN-1",
           "--rd_uid", "91A9C12A7C80700A31DDCFA7FCE63E44", "--enable_key",
           "00112233445566778899AABBCCDDEEFF", "--product_finish", "satin",
           "--product_color", "red", "--user", '{"k": "v", "n": 1, "b": "hex:ff"}')
    data = load_json(tmp_path / "fd.json")
    assert list(data) == ["version", "sn", "vendor_id", "product_id", "vendor_name",
                          "product_name", "product_label", "product_url", "part_number", "date",
                          "hw_ver", "hw_ver_str", "dac_cert", "dac_key", "pai_cert", "spake2_it",
                          "spake2_salt", "spake2_verifier", "discriminator", "rd_uid",
                          "enable_key", "product_finish", "primary_color", "user"]
    # The reference keeps the hex text as given (case included).
    assert data["rd_uid"] == "hex:91A9C12A7C80700A31DDCFA7FCE63E44"
    image = cbor2.loads((tmp_path / "fd.bin").read_bytes()[:-1])
    assert image["rd_uid"] == bytes.fromhex("91a9c12a7c80700a31ddcfa7fce63e44")
    assert image["user"] == {"k": "v", "n": 1, "b": b"\xff"}
    assert image["product_label"] == b"Label"


def test_generate_rd_uid_makes_16_random_bytes(cli, golden, tmp_path):
    run_ok(cli, *golden_args(golden, tmp_path / "a"), "--generate_rd_uid")
    run_ok(cli, *golden_args(golden, tmp_path / "b"), "--generate_rd_uid")
    first = load_json(tmp_path / "a.json")["rd_uid"]
    second = load_json(tmp_path / "b.json")["rd_uid"]
    assert len(bytes.fromhex(first[4:])) == 16 and first != second


def test_given_rd_uid_wins_over_generate(cli, golden, tmp_path):
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--generate_rd_uid", "--rd_uid", "ab" * 16)
    assert load_json(tmp_path / "fd.json")["rd_uid"] == "hex:" + "ab" * 16


def test_given_verifier_without_passcode(cli, golden, tmp_path):
    args = golden_args(golden, tmp_path / "fd")
    i = args.index("--passcode")
    del args[i:i + 2]
    verifier = (golden / "factory_data.json").read_text()
    v_hex = json.loads(verifier)["spake2_verifier"][4:]
    run_ok(cli, *args, "--spake2_verifier", base64.b64encode(bytes.fromhex(v_hex)).decode())
    assert (tmp_path / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()


def test_verifier_matching_the_passcode_is_accepted(cli, golden, tmp_path):
    vector1 = ("uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+"
               "NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw==")
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--spake2_verifier", vector1)
    assert (tmp_path / "fd.json").read_bytes() == (golden / "factory_data.json").read_bytes()


def test_upstream_generator_test_case(cli, golden, tmp_path):
    """The upstream test_generate_factory_data.py case: vector 2 and the 0xFED codes."""
    args = ["--sn", "SN:12345678", "--vendor_id", "0x127F", "--product_id", "0xABCD",
            "--vendor_name", "Nordic Semiconductor ASA", "--product_name", "Lock",
            "--part_number", "PCA10056", "--product_url", "https://example.com/lock",
            "--product_label", "Lock", "--date", "2022-07-20", "--hw_ver", "101",
            "--hw_ver_str", "v1.1", "--gen_certs",
            "--spake2_it", "2000", "--spake2_salt", "U1BBS0UyUCBLZXkgU2FsdA==",
            "--discriminator", "0xFED", "--passcode", "13243546",
            "--rd_uid", "0123456789ABCDEF0123456789ABCDEF",
            "--enable_key", "00112233445566778899aabbccddeeff", "--product_finish", "satin",
            "--product_color", "red", "--generate_onboarding", "-o", tmp_path / "fd.json"]
    result = cli("generate", *args)
    assert result.code == 0, result.err
    data = load_json(tmp_path / "fd.json")
    assert base64.b64encode(bytes.fromhex(data["spake2_verifier"][4:])).decode().startswith(
        "WN0SgEXLfUN19BbJqp6qn4pS69EtdNLReIMZwv")
    assert "passcode" not in data
    assert data["product_finish"] == 2 and data["primary_color"] == 11
    lines = (tmp_path / "fd.txt").read_text().split("\n")
    assert lines == ["Manualcode : 35442608082", "QRCode : MT:KAYA3EYF15ND8B1OA00"]


def test_gen_certs_reuses_the_development_paa(cli, tmp_path):
    from matter_factory_data.core import certs

    base = ["--sn", "SN1", "--vendor_id", "0xFFF1", "--product_id", "0x8001", "--vendor_name",
            "Acme", "--product_name", "Lamp", "--date", "2024-05-06", "--hw_ver", "1",
            "--hw_ver_str", "1.0", "--spake2_it", "1000", "--spake2_salt",
            "U1BBS0UyUCBLZXkgU2FsdA==", "--discriminator", "100", "--passcode", "20202021",
            "--gen_certs", "-o", tmp_path / "fd"]
    run_ok(cli, *base)
    paa = (tmp_path / "PAA_cert.der").read_bytes()
    dac = (tmp_path / "DAC_cert.der").read_bytes()
    for name in ("PAA_key.der", "PAI_key.der", "PAI_key.pem", "DAC_key.der", "DAC_key.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    run_ok(cli, *base, "--overwrite")
    assert (tmp_path / "PAA_cert.der").read_bytes() == paa
    assert (tmp_path / "DAC_cert.der").read_bytes() != dac
    data = load_json(tmp_path / "fd.json")
    assert data["dac_cert"] == "hex:" + (tmp_path / "DAC_cert.der").read_bytes().hex()
    dac_cert = certs.load_certificate((tmp_path / "DAC_cert.der").read_bytes(), source="dac")
    assert certs.matter_ids(dac_cert) == (0xFFF1, 0x8001)
    result = cli("verify", tmp_path / "fd.json", "--paa_cert", tmp_path / "PAA_cert.der",
                 "--passcode", "20202021")
    assert result.code == 0, result.out + result.err


def test_gen_certs_with_user_paa(cli, tmp_path):
    from matter_factory_data.core import certs

    key = certs.new_key()
    paa = certs.make_paa(key=key, common_name="Test PAA", vendor_id=0xFFF1,
                         not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    (tmp_path / "paa.pem").write_bytes(certs.cert_pem(paa))
    (tmp_path / "paa_key.pem").write_bytes(certs.key_pem(key))
    result = cli("generate", "--defaults", "--gen_certs", "--paa_cert", tmp_path / "paa.pem",
                 "--paa_key", tmp_path / "paa_key.pem", "-o", tmp_path / "out" / "fd")
    assert result.code == 0, result.err
    assert not (tmp_path / "out" / "PAA_cert.der").exists()
    result = cli("verify", tmp_path / "out" / "fd.hex", "--paa_cert", tmp_path / "paa.pem")
    assert result.code == 0, result.out


def test_gen_cd_writes_a_verifiable_declaration(cli, tmp_path):
    from matter_factory_data.core import cd, certs

    result = cli("generate", "--defaults", "--gen_cd", "--cd_type", "0", "-o", tmp_path / "fd")
    assert result.code == 0, result.err
    signer = certs.load_certificate((tmp_path / "CD_signing_cert.der").read_bytes(), source="cd")
    declaration = cd.verify((tmp_path / "CD.der").read_bytes(), signer)
    assert declaration.vendor_id == 0xFFF1 and declaration.product_ids == (0x8000,)
    assert declaration.certification_type == 0
    assert stat.S_IMODE((tmp_path / "CD_signing_key.der").stat().st_mode) == 0o600


def test_chip_cert_path_is_accepted_and_not_needed(cli, golden, tmp_path):
    result = run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--chip_cert_path", "/nowhere")
    assert "not needed" in result.err


def test_schema_is_applied_when_given(cli, golden, tmp_path):
    schema = {"type": "object", "properties": {"sn": {"type": "string", "maxLength": 5}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--schema", tmp_path / "s.json")
    assert result.code == 2 and "sn: '11223344556677889900' is too long" in result.err
    assert not (tmp_path / "fd.json").exists()
    schema["properties"]["sn"]["maxLength"] = 32
    (tmp_path / "s.json").write_text(json.dumps(schema))
    run_ok(cli, *golden_args(golden, tmp_path / "fd"), "--schema", tmp_path / "s.json")


def test_defaults_main_job(cli, tmp_path):
    result = cli("generate", "--defaults", "-o", tmp_path / "out" / "factory_data")
    assert result.code == 0, result.err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert {"factory_data.json", "factory_data.hex", "factory_data.bin", "factory_data.txt",
            "factory_data.png", "DAC_cert.der", "PAI_cert.der"} <= set(names)
    assert "vendor / product:      0xFFF1 / 0x8000" in result.out
    data = load_json(tmp_path / "out" / "factory_data.json")
    assert data["enable_key"] == "hex:00112233445566778899AABBCCDDEEFF"
    assert (tmp_path / "out" / "factory_data.txt").read_text() == \
        "Manualcode : 34970112332\nQRCode : MT:Y.K9042C00KA0648G00"


def test_verbose_lists_sizes_and_modes(cli, golden, tmp_path):
    result = run_ok(cli, *golden_args(golden, tmp_path / "fd"), "-v")
    assert f"{tmp_path / 'fd.bin'} (1367 bytes, mode 0600)" in result.out
