"""verify: ranges checked before any work, no exception escapes, and what could not be
checked is said, never counted as passed."""

import time

import cbor2
import pytest


def golden_map(golden):
    return cbor2.loads((golden / "factory_data.bin").read_bytes()[:-1])


def write(tmp_path, data, name="fd.bin"):
    path = tmp_path / name
    path.write_bytes(cbor2.dumps(data) + b"\0")
    return path


@pytest.mark.parametrize("value, fragment", [
    (2 ** 31, "spake2_it 2147483648 is out of range (accepted: 1000..100000)"),
    (2 ** 31 - 1, "spake2_it 2147483647 is out of range (accepted: 1000..100000)"),
    (100001, "spake2_it 100001 is out of range"),
    (b"\x01", "spake2_it is not an integer"),
    (cbor2.CBORTag(2, b"\x01"), "spake2_it is not an integer"),
], ids=["2^31", "2^31-1", "100001", "bytes", "tagged"])
def test_iterations_are_checked_before_any_work(cli, tmp_path, golden, value, fragment):
    data = golden_map(golden)
    data["spake2_it"] = value
    path = write(tmp_path, data)
    started = time.monotonic()
    result = cli("verify", path, "--passcode", "20202021", "--format", "nrf-cbor")
    assert time.monotonic() - started < 5
    assert result.code == 1, result
    assert f"skip  spake2_verifier not checked: {fragment}" in result.out
    assert "FAIL  device parser: key 'spake2_it'" in result.out
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert result.err.count("\n") == 1


def test_what_is_not_checked_is_said(cli, golden):
    result = cli("verify", golden / "factory_data.bin", "--allow_nonconformant_certs")
    assert result.code == 0, result
    assert "skip  spake2_verifier not checked: no passcode known" in result.out
    assert "skip  onboarding codes not checked: none given" in result.out
    last = result.out.strip().splitlines()[-1]
    assert "skip  PAI not checked against a PAA: none given (--paa_cert)" in result.out
    assert last.endswith("checks passed; 3 not checked (the 'skip' lines); 1 accepted with a "
                         "warning (the 'warn' lines)")
    assert "all " in last


def test_with_the_passcode_the_verifier_is_checked(cli, golden):
    result = cli("verify", golden / "factory_data.bin", "--passcode", "20202021")
    assert "ok    spake2_verifier matches the passcode, salt and iteration count" in result.out
    assert "spake2_verifier not checked" not in result.out


@pytest.mark.parametrize("mutate", [
    lambda d: d.update({"dac_cert": cbor2.CBORTag(24, b"x")}),
    lambda d: d.update({"vendor_id": [1, 2]}),
    lambda d: d.update({"passcode": {"a": 1}}),
    lambda d: d.update({"spake2_salt": 5, "passcode": 20202021}),
    lambda d: d.update({"discriminator": 2.5}),
    lambda d: d.update({"user": cbor2.undefined, "hw_ver": cbor2.undefined}),
    lambda d: d.pop("dac_key"),
], ids=["tagged-cert", "list-vid", "map-passcode", "int-salt", "float-disc", "undefined-user",
        "no-key"])
def test_odd_values_fail_checks_not_the_command(cli, tmp_path, golden, mutate):
    data = golden_map(golden)
    mutate(data)
    path = write(tmp_path, data)
    (tmp_path / "fd.txt").write_text("Manualcode : 34970112332\nQRCode : MT:8IXS142C00KA0648G00")
    result = cli("verify", path)
    assert result.code == 1, result
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert "FAIL" in result.out
