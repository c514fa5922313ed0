"""Readback after programming (`flash`, `stm32-program`): fake nrfutil / nrfjprog /
STM32_Programmer_CLI (tests/fake_bin) serve a memory image from a file."""

import shlex
import sqlite3

import pytest
import test_flash
from intelhex import IntelHex
from test_flash import PLAIN_HEX
from test_stm32_program import FULL

from matter_factory_data.formats import nrf_cbor
from matter_factory_data.station import readback
from matter_factory_data.station.ledger import open_ledger
from matter_factory_data.station.ledger.ledger import Claim

#: the fixtures of test_flash: fake tools first on PATH, a PATH without any tool
fake_tools, empty_path = test_flash.fake_tools, test_flash.empty_path


def _image():
    hx = IntelHex(str(PLAIN_HEX))
    start, end = hx.minaddr(), hx.maxaddr() + 1
    return start, bytes(hx.tobinarray(start=start, end=end - 1))


ADDRESS, IMAGE = _image()
KEY = nrf_cbor.decode_image(IMAGE)["dac_key"]
KEY_AT = IMAGE.index(KEY)  # the 32 value bytes, found without the code under test


@pytest.fixture
def memory(tmp_path, monkeypatch):
    """Serve ``data`` (raw bytes at ``base``) as the device memory of every fake tool."""

    def serve(data: bytes, base: int = ADDRESS):
        path = tmp_path / "device-memory.bin"
        path.write_bytes(data)
        monkeypatch.setenv("MFD_FAKE_MEMORY", str(path))
        monkeypatch.setenv("MFD_FAKE_MEMORY_BASE", f"{base:x}")
        return path

    return serve


def _flipped(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


def _zeroed_key(data: bytes) -> bytes:
    return data[:KEY_AT] + bytes(32) + data[KEY_AT + 32:]


def _readback(cli, tool, family, *extra):
    return cli("flash", "--hex", PLAIN_HEX, "--tool", tool, "--family", family,
               "--readback-only", *extra)


@pytest.mark.parametrize("tool", ["nrfutil", "nrfjprog"])
def test_identical_memory_is_a_match(cli, fake_tools, memory, tool):
    fake_tools.install(tool)
    memory(IMAGE + b"\xff" * 64)
    result = _readback(cli, tool, "NRF52")
    assert result.code == 0, result
    assert result.out.splitlines()[-1] == f"readback at 0x{ADDRESS:x}: match ({len(IMAGE)} bytes)"
    assert all("program" not in call for call in fake_tools())  # --readback-only programs nothing


@pytest.mark.parametrize("tool", ["nrfutil", "nrfjprog"])
def test_a_flipped_byte_is_a_mismatch_naming_its_offset(cli, fake_tools, memory, tool):
    fake_tools.install(tool)
    memory(_flipped(IMAGE, 0x123))
    result = _readback(cli, tool, "NRF52")
    assert result.code == 1
    assert result.err == (f"error: readback at 0x{ADDRESS:x}: mismatch at offset 0x123 (image "
                          f"0x{IMAGE[0x123]:02x}, device 0x{IMAGE[0x123] ^ 1:02x}); the device "
                          "does not hold the factory data image\n")


def test_nrf54l_may_zero_the_dac_key(cli, fake_tools, memory):
    """nRF54L imports the key into its KMU and zeroes its 32 bytes: accepted there (nrfutil:
    nrfjprog predates nRF54L)."""
    tool = "nrfutil"
    fake_tools.install(tool)
    memory(_zeroed_key(IMAGE))
    result = _readback(cli, tool, "NRF54L")
    assert result.code == 0, result
    assert result.out.splitlines()[-1] == (f"readback at 0x{ADDRESS:x}: match (dac_key zeroed "
                                           f"by the device) ({len(IMAGE)} bytes)")


@pytest.mark.parametrize("tool", ["nrfutil", "nrfjprog"])
def test_on_nrf52_a_zeroed_dac_key_is_a_mismatch_without_showing_the_key(cli, fake_tools,
                                                                          memory, tool):
    fake_tools.install(tool)
    memory(_zeroed_key(IMAGE))
    result = _readback(cli, tool, "NRF52")
    assert result.code == 1
    assert f"mismatch at offset 0x{KEY_AT:x} (image 0x{KEY[0]:02x}, device 0x00)" in result.err
    assert len(result.err.splitlines()) == 1


def test_nrf54l_refuses_a_key_neither_original_nor_zero(cli, fake_tools, memory):
    fake_tools.install("nrfutil")
    memory(_flipped(IMAGE, KEY_AT + 5))
    result = _readback(cli, "nrfutil", "NRF54L")
    assert result.code == 1
    assert result.err == (f"error: readback at 0x{ADDRESS:x}: mismatch at offset 0x{KEY_AT:x} "
                          "(in the dac_key value, neither the original nor all zeros; bytes "
                          "not shown); the device does not hold the factory data image\n")
    for shown in (KEY.hex(), f"0x{KEY[5]:02x}", f"0x{KEY[5] ^ 1:02x}"):
        assert shown not in result.err


def test_nrf54l_still_sees_a_flip_outside_the_key(cli, fake_tools, memory):
    fake_tools.install("nrfutil")
    memory(_flipped(_zeroed_key(IMAGE), 3))
    result = _readback(cli, "nrfutil", "NRF54L")
    assert result.code == 1
    assert "mismatch at offset 0x3 " in result.err


def test_nrfutil_falls_back_to_x_read(cli, fake_tools, memory, monkeypatch):
    fake_tools.install("nrfutil")
    memory(IMAGE)
    monkeypatch.setenv("MFD_FAKE_FAIL_READ", "read")
    result = _readback(cli, "nrfutil", "NRF52")
    assert result.code == 0, result
    assert [call[3] for call in fake_tools()] == ["read", "x-read"]


@pytest.mark.parametrize("tool, cmd", [
    ("nrfutil", ["nrfutil", "--json", "device", "x-read", "--address", "0xfb000", "--bytes",
                 "1367", "--width", "8", "--family", "nrf52"]),
    ("nrfjprog", ["nrfjprog", "--memrd", "0x000fb000", "--n", "1368", "--w", "32", "-f",
                  "NRF52"]),
])
def test_a_tool_failure_is_one_line(cli, fake_tools, memory, monkeypatch, tool, cmd):
    fake_tools.install(tool)
    memory(IMAGE)
    monkeypatch.setenv("MFD_FAKE_FAIL_READ", "all")
    result = _readback(cli, tool, "NRF52")
    assert result.code == 1
    assert result.err == f"error: command exited with status 1: {shlex.join(cmd)}\n"


def test_after_programming_the_device_is_read_back(cli, fake_tools, monkeypatch, memory):
    """Default on: program, reset, read back; a device that does not keep it is a mismatch."""
    fake_tools.install("nrfutil")
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52")  # serves what it programmed
    assert result.code == 0, result
    assert [c[:4] for c in fake_tools()][-1] == ["nrfutil", "--json", "device", "read"]
    memory(_flipped(IMAGE, 0x10))
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52")
    assert result.code == 1
    assert "factory data flashed; device reset" in result.out
    assert "mismatch at offset 0x10 " in result.err


def test_no_readback_reads_nothing(cli, fake_tools):
    fake_tools.install("nrfutil")
    assert cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52", "--no-readback").code == 0
    assert [c[:3] for c in fake_tools()] == [["nrfutil", "device", "program"],
                                             ["nrfutil", "device", "reset"]]


def test_dry_run_readback_only_prints_the_read(cli, empty_path):
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF54L", "--readback-only",
                 "--dry-run", "--snr", "1050065027")
    assert result.code == 0, result
    assert result.out.splitlines()[1:] == [
        "nrfutil --json device read --address 0xfb000 --bytes 1367 --width 8 --serial-number "
        "1050065027 --family nrf54l"]


def test_no_readback_and_readback_only_exclude_each_other(cli, empty_path):
    result = cli("flash", "--hex", PLAIN_HEX, "--no-readback", "--readback-only")
    assert result.code == 2
    assert "not allowed with argument" in result.err


# --- the ledger ---------------------------------------------------------------------------

@pytest.fixture
def ledger_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sn = nrf_cbor.decode_image(IMAGE)["sn"]
    sn = sn.decode() if isinstance(sn, bytes) else sn
    with open_ledger(url) as ledger:
        lot = ledger.lot("test-lot", "batch", "st-1")
        assert ledger.claim_new(lot, "st-1", Claim(token="t1", idx=0, sn=sn, dac_serial="1a2b",
                                                   pai_sha256="00" * 32, state="issued"))
    return url


def _row(url):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT state, station, reported_at, readback, image_sha256 FROM "
                          "identities").fetchone()


def test_a_match_is_reported_to_the_ledger(cli, fake_tools, memory, ledger_url):
    fake_tools.install("nrfutil")
    memory(_zeroed_key(IMAGE))
    result = _readback(cli, "nrfutil", "NRF54L", "--ledger", ledger_url, "--station", "line-3")
    assert result.code == 0, result
    state, station, reported_at, text, digest = _row(ledger_url)
    assert (state, station, text) == ("ok", "line-3", "match (dac_key zeroed by the device)")
    assert reported_at and len(digest) == 64
    assert "ledger: DAC serial 1a2b reported ok" in result.out


def test_a_mismatch_is_reported_failed(cli, fake_tools, memory, ledger_url):
    fake_tools.install("nrfjprog")
    memory(_flipped(IMAGE, 0x40))
    result = _readback(cli, "nrfjprog", "NRF52", "--ledger", ledger_url, "--station", "line-3")
    assert result.code == 1
    state, station, _, text, _ = _row(ledger_url)
    assert (state, station) == ("failed", "line-3")
    assert text.startswith("mismatch at offset 0x40 ")


def test_a_device_unknown_to_the_ledger_is_one_line(cli, fake_tools, memory, tmp_path):
    fake_tools.install("nrfutil")
    memory(IMAGE)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_ledger(url).close()
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52", "--ledger", url)
    assert result.code == 1
    assert result.err.startswith("error: ledger ") and "no device with serial number" in result.err
    assert len(result.err.splitlines()) == 1
    assert fake_tools() == []  # checked before the device is programmed


def test_a_bad_station_name_is_refused_before_programming(cli, fake_tools, ledger_url):
    fake_tools.install("nrfutil", "STM32_Programmer_CLI")
    result = cli("flash", "--hex", PLAIN_HEX, "--family", "NRF52", "--ledger", ledger_url,
                 "--station", "=cmd|x")
    assert (result.code, result.out) == (2, "")
    assert len(result.err.splitlines()) == 1 and "--station" in result.err
    result = _stm32(cli, "--ledger", ledger_url, "--station", "=cmd|x")
    assert (result.code, result.out) == (2, "")
    assert fake_tools() == []


# --- STM32 ---------------------------------------------------------------------------------

STM32_DATA = FULL.read_bytes()


def _stm32(cli, *extra):
    return cli("stm32-program", "--image", FULL, "--board", "wba65", "--probe", "0A0B0C0D",
               *extra)


def test_stm32_programs_then_uploads_and_matches(cli, fake_tools):
    fake_tools.install("STM32_Programmer_CLI")
    result = _stm32(cli)
    assert result.code == 0, result
    calls = fake_tools()
    assert calls[-1][:6] == ["STM32_Programmer_CLI", "-c", "port=SWD", "sn=0A0B0C0D", "mode=UR",
                             "-u"]
    assert calls[-1][6:8] == ["0x081EC000", str(len(STM32_DATA))]
    assert calls[-1][8].startswith("/")
    assert result.out.splitlines()[-1] == f"readback at 0x081EC000: match ({len(STM32_DATA)} bytes)"


def test_stm32_flipped_byte_is_a_mismatch(cli, fake_tools, memory):
    fake_tools.install("STM32_Programmer_CLI")
    memory(_flipped(STM32_DATA, 7), 0x081EC000)
    result = _stm32(cli, "--readback-only")
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        f"error: ST-LINK 0A0B0C0D: readback at 0x081EC000: mismatch at offset 0x7 (image "
        f"0x{STM32_DATA[7]:02x}, device 0x{STM32_DATA[7] ^ 1:02x}); the device does not hold "
        "the factory data image")
    assert all("-d" not in call for call in fake_tools())


def test_stm32_upload_failure_is_one_line(cli, fake_tools, memory, monkeypatch):
    fake_tools.install("STM32_Programmer_CLI")
    memory(STM32_DATA, 0x081EC000)
    monkeypatch.setenv("MFD_FAKE_FAIL_READ", "-u")
    result = _stm32(cli, "--readback-only")
    assert result.code == 1
    first = result.err.splitlines()[0]
    assert first.startswith("error: ST-LINK 0A0B0C0D: command exited with status 1: /")
    assert "STM32_Programmer_CLI -c port=SWD sn=0A0B0C0D mode=UR -u 0x081EC000 1622 /" in first


def test_stm32_dry_run_prints_the_upload(cli, empty_path):
    result = _stm32(cli, "--dry-run")
    assert result.code == 0, result
    assert shlex.split(result.out.splitlines()[-1])[1:7] == [
        "-c", "port=SWD", "sn=0A0B0C0D", "mode=UR", "-u", "0x081EC000"]


# --- the core ------------------------------------------------------------------------------

def test_dac_key_range_is_where_the_key_is():
    assert readback.dac_key_range(IMAGE) == (KEY_AT, 32)


@pytest.mark.parametrize("family, config, expected", [
    ("NRF54L", None, True), ("NRF52", None, False), (None, None, False),
    ("NRF52", {"CONFIG_CHIP_CRYPTO_PSA_MIGRATE_DAC_PRIV_KEY": "y"}, True),
    (None, {"CONFIG_CHIP_CRYPTO_PSA_DAC_PRIV_KEY_KMU": "y"}, True),
    ("NRF53", {"CONFIG_CHIP_CRYPTO_PSA_DAC_PRIV_KEY_KMU": "n"}, False),
])
def test_which_devices_change_the_key(family, config, expected):
    assert readback.device_changes_dac_key(family, config) is expected


def test_a_short_read_is_a_mismatch():
    outcome = readback.compare(IMAGE, IMAGE[:100])
    assert not outcome.ok and outcome.offset == 100


def test_memrd_parsing_reads_little_endian_words():
    text = "0x000FB000: 04030201 08070605   |........|\n0x000FB008: 0C0B0A09   |....|\n"
    assert readback.parse_nrfjprog_memrd(text, 0xFB000, 10) == bytes(range(1, 11))


@pytest.mark.parametrize("kconfig, code", [
    ("", 1), ("CONFIG_CHIP_CRYPTO_PSA_DAC_PRIV_KEY_KMU=y\n", 0),
    ("CONFIG_CHIP_CRYPTO_PSA_MIGRATE_DAC_PRIV_KEY=y\n", 0)])
def test_a_build_that_migrates_the_key_may_zero_it(cli, fake_tools, memory, tmp_path, kconfig,
                                                   code):
    """-d BUILD (an nRF52 build): its .config says whether the firmware zeroes the key."""
    import shutil

    build = tmp_path / "build"
    shutil.copytree(test_flash.BUILDS / "plain", build)
    with open(build / "zephyr" / ".config", "a", encoding="utf-8") as config:
        config.write(kconfig)
    fake_tools.install("nrfutil")
    memory(_zeroed_key(IMAGE))
    result = cli("flash", "-d", build, "--readback-only")
    assert result.code == code, result


def test_ledger_without_readback_is_refused(cli, empty_path):
    result = cli("flash", "--hex", PLAIN_HEX, "--no-readback", "--ledger", "sqlite:////tmp/l.db")
    assert (result.code, result.out) == (2, "")
    assert result.err == "error: --no-readback cannot be combined with --ledger\n"


def test_json_events_of_a_mismatch_and_its_report(cli, fake_tools, memory, ledger_url):
    """--json: a device_readback event (ok false, the first offset; no key byte) and a
    device_reported event, every line valid against the shipped schema."""
    import test_events

    fake_tools.install("nrfutil")
    memory(_flipped(IMAGE, 0x40))
    result = _readback(cli, "nrfutil", "NRF52", "--ledger", ledger_url, "--json")
    assert result.code == 1
    lines = test_events.parse(test_events.validator.__wrapped__(), result.out)
    readback_events = [e for e in lines if e["event"] == "device_readback"]
    assert [(e["data"]["ok"], e["data"]["mismatches"]) for e in readback_events] == \
        [(False, [0x40])]
    assert [e["data"]["state"] for e in lines if e["event"] == "device_reported"] == ["failed"]
    assert KEY.hex() not in result.out
