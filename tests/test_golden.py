"""Byte-for-byte compatibility with the reference tools (tests/data/golden)."""

import base64
import hashlib

import pytest
from conftest import golden_args

GOLDEN_SHA256 = {
    "factory_data.json": "d84c8a56cbe94ee2d46467a74639531a1429b1b091d95bfd82d365ee2df87c18",
    "factory_data.bin": "2c166b58f3819a06c263c5471271142b9e09692b93ddadcf641926eaaf2ad236",
    "factory_data.hex": "42f223c2a67088b771f29e9b88e3a8989254d41043832f5dec8b4655c9d3682c",
}


def test_golden_files_are_the_documented_ones(golden):
    for name, digest in GOLDEN_SHA256.items():
        assert hashlib.sha256((golden / name).read_bytes()).hexdigest() == digest


def test_generate_reproduces_golden_json_hex_bin(cli, golden, tmp_path):
    result = cli("generate", *golden_args(golden, tmp_path / "out" / "factory_data"))
    assert result.code == 0, result.err
    for suffix in ("json", "hex", "bin"):
        produced = (tmp_path / "out" / f"factory_data.{suffix}").read_bytes()
        assert produced == (golden / f"factory_data.{suffix}").read_bytes(), suffix


def test_the_documented_example_needs_no_flag_and_warns_naming_the_rule(cli, golden, tmp_path):
    result = cli("generate", *golden_args(golden, tmp_path / "fd"))
    assert result.code == 0, result.err
    assert result.err == (
        f"warning: --dac_cert {golden}/Matter-Development-DAC-FFF1-8006-Cert.der: the DAC is "
        "not yet valid on the manufacturing date 2022-02-02 (notBefore 2022-02-05) (Matter "
        "attestation profile rule 'dac-valid-at-manufacturing-date': DAC: valid on the "
        "manufacturing date (not expired, not yet valid)); accepted by the development "
        "profile (--profile=production refuses it)\n")
    assert (tmp_path / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()


def test_the_documented_example_is_refused_under_the_production_profile(cli, golden, tmp_path):
    result = cli("generate", *golden_args(golden, tmp_path / "out" / "fd"),
                 "--profile", "production")
    assert result.code == 2
    assert result.err.startswith("error: --dac_cert ") and result.err.count("\n") == 1
    assert "rule 'dac-valid-at-manufacturing-date'" in result.err
    assert not (tmp_path / "out").exists()


def test_generate_with_json_suffix_prefix_gives_same_files(cli, golden, tmp_path):
    result = cli("generate", *golden_args(golden, tmp_path / "factory_data.json"))
    assert result.code == 0, result.err
    expected = (golden / "factory_data.json").read_bytes()
    assert (tmp_path / "factory_data.json").read_bytes() == expected
    assert not (tmp_path / "factory_data.json.json").exists()


def test_partition_reproduces_golden_hex_bin(cli, golden, tmp_path):
    result = cli("partition", "-i", golden / "factory_data.json", "-o", tmp_path / "p",
                 "--offset", "0xf7000", "--size", "0x1000", "--raw")
    assert result.code == 0, result.err
    assert result.out == ""
    assert (tmp_path / "p.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()
    assert (tmp_path / "p.hex").read_bytes() == (golden / "factory_data.hex").read_bytes()


@pytest.mark.parametrize("name", ["factory_data.bin", "factory_data.hex", "factory_data.json"])
def test_show_decodes_back_to_golden_json(cli, golden, name):
    result = cli("show", golden / name, "--json", "--show-secrets")
    assert result.code == 0, result.err
    assert result.out == (golden / "factory_data.json").read_text() + "\n"
    assert result.err.startswith(f"note: {golden / name}: read as nrf-cbor, since ")
    assert result.err.count("\n") == 1  # only the note of the detected format


def test_golden_image_layout(golden):
    data = (golden / "factory_data.bin").read_bytes()
    assert data[0] == 0xB0  # a map of 16 keys, no tag, no header
    assert data[-1] == 0x00 and len(data) == 1367
    hex_lines = (golden / "factory_data.hex").read_text().split("\n")
    assert hex_lines[0] == ":02000004000FEB"


@pytest.mark.parametrize("passcode, iterations, expected", [
    (20202021, 1000, "uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s"
                     "31EH+NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw=="),
    (13243546, 2000, "WN0SgEXLfUN19BbJqp6qn4pS69EtdNLReIMZwv/CIM0ECMP7ytiAJ7txIYJ0Ovlha/rQ3E+88mj"
                     "3qaqqnviMaZzG+OyXEdSocDIT9ZhmkTCgWwERaHz4Vdh3G37RT6kqbw=="),
], ids=["vector1", "vector2"])
def test_spake2p_vectors(passcode, iterations, expected):
    from matter_factory_data.core.spake2p import compute_verifier, verifier_problem

    verifier = compute_verifier(passcode, b"SPAKE2P Key Salt", iterations)
    assert base64.b64encode(verifier).decode() == expected
    assert verifier_problem(verifier) is None


def test_generate_onboarding_text_matches_reference_format(cli, golden, tmp_path):
    result = cli("generate", *golden_args(golden, tmp_path / "fd"), "--generate_onboarding")
    assert result.code == 0, result.err
    assert (tmp_path / "fd.txt").read_bytes() == \
        b"Manualcode : 34970112332\nQRCode : MT:8IXS142C00KA0648G00"
    assert (tmp_path / "fd.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # Adding onboarding changes none of the image files.
    assert (tmp_path / "fd.bin").read_bytes() == (golden / "factory_data.bin").read_bytes()
