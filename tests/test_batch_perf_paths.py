"""batch and verify DIR as users run them, on the paths issue #17 made fast: the main
process making devices beside its workers, verify's progress line and --json, PNGs of other
zlib levels, the flat uniqueness structures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from matter_factory_data.core import qrimage, series

FAST = ("--defaults", "--spake2_it", "1000")


def rows_of(out: Path) -> list:
    with open(out / "manifest.csv", encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def make(cli, out: Path, count: int, *extra) -> list:
    result = cli("batch", "-o", out, "--count", str(count), *FAST, "--qr", "png", *extra)
    assert result.code == 0, result
    return rows_of(out)


def test_workers_and_the_main_process_keep_the_manifest_in_index_order(cli, scratch):
    out = scratch / "b"
    rows = make(cli, out, 41, "--jobs", "3")
    assert [int(r["index"]) for r in rows] == list(range(1, 42))
    assert len({r["dac_serial"] for r in rows}) == 41
    assert sorted(p.name for p in (out / "devices").iterdir()) == [f"{i:06d}" for i in
                                                                  range(1, 42)]
    result = cli("verify", out, "--jobs", "2")
    assert result.code == 0, result


def verified(lines: list) -> list:
    return [line for line in lines if line["event"] == "device_verified"]


def test_verify_json_gives_one_event_per_device_and_a_summary(cli, scratch):
    out = scratch / "b"
    make(cli, out, 6, "--jobs", "2")
    result = cli("verify", out, "--jobs", "2", "--json")
    assert result.code == 0, result
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["device"]["index"] for line in verified(lines)] == [1, 2, 3, 4, 5, 6]
    assert all(line["data"]["ok"] and line["data"]["problems"] == [] for line in verified(lines))
    assert lines[0]["event"] == "run_started" and lines[-1]["event"] == "run_finished"
    assert lines[-1]["data"]["counts"]["device_verified"] == 6
    assert lines[-1]["data"]["counts"]["device_verified_failed"] == 0
    assert lines[-1]["data"]["ok"] is True and lines[-1]["data"]["exit_code"] == 0
    # the human result goes to stderr (no terminal and a short run: no progress line)
    assert result.err.splitlines() == [f"{out}: all 6 devices passed; no repeated identity"]


def test_verify_draws_a_progress_bar_on_a_terminal(scratch, capsys, monkeypatch):
    from matter_factory_data.cli.app import main
    from matter_factory_data.ui import UI

    out = scratch / "b"
    assert main(["batch", "-o", str(out), "--count", "5", *FAST, "--qr", "none"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(UI, "is_terminal", lambda self: True)
    assert main(["verify", str(out), "--jobs", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert "[##############################] 5/5 devices" in captured.err
    events = [json.loads(line)["event"] for line in captured.out.splitlines()]
    assert events == ["run_started"] + ["device_verified"] * 5 + ["progress", "run_finished"]


def test_verify_json_reports_the_broken_device_and_exits_1(cli, scratch):
    out = scratch / "b"
    make(cli, out, 5, "--jobs", "1")
    image = out / "devices" / "000004" / "factory_data.bin"
    data = bytearray(image.read_bytes())
    data[40] ^= 0x01
    image.write_bytes(bytes(data))
    result = cli("verify", out, "--jobs", "1", "--json")
    assert result.code == 1, result
    lines = [json.loads(line) for line in result.out.splitlines()]  # stdout is only JSON
    bad = [line for line in verified(lines) if not line["data"]["ok"]]
    assert [line["device"]["index"] for line in bad] == [4]
    assert any("SHA-256" in problem for problem in bad[0]["data"]["problems"])
    errors = [line["data"] for line in lines if line["event"] == "error"]
    assert [e["code"] for e in errors] == ["VERIFY_FAILED"] and not errors[0]["retryable"]
    assert lines[-1]["data"]["ok"] is False and lines[-1]["data"]["exit_code"] == 1
    assert lines[-1]["data"]["counts"]["device_verified_failed"] == 1
    assert len(result.err.strip().splitlines()[-1:]) == 1 and "Traceback" not in result.err


def test_verify_json_is_refused_for_a_single_image(cli, scratch):
    out = scratch / "b"
    make(cli, out, 1)
    result = cli("verify", out / "devices" / "000001" / "factory_data.bin", "--json")
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1 and "--json" in result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    assert [e["event"] for e in events] == ["run_started", "error", "run_finished"]
    assert events[1]["data"]["code"] == "INPUT_INVALID"


def test_a_qr_png_of_another_zlib_level_verifies_and_a_changed_pixel_does_not(cli, scratch):
    out = scratch / "b"
    rows = make(cli, out, 3, "--jobs", "1")
    payload = rows[1]["qr_payload"]
    png = out / "devices" / "000002" / "qr.png"
    default_level = qrimage.qr_png(payload, qrimage.FAST_MASK_PATTERN,
                                   qrimage.MT_PAYLOAD_VERSION)  # as earlier versions wrote it
    assert default_level != png.read_bytes()
    png.write_bytes(default_level)
    assert cli("verify", out, "--jobs", "1").code == 0
    png.write_bytes(qrimage.qr_png(payload, 3, qrimage.MT_PAYLOAD_VERSION))  # another mask
    result = cli("verify", out, "--jobs", "1")
    assert result.code == 1 and "qr.png" in result.out


def test_uniqueness_filters_do_not_grow_with_the_series() -> None:
    small, large = series.SeenFilter(10), series.SeenFilter(10_000_000)
    assert [len(a) for a in small._layers] == [len(a) for a in large._layers] == [1 << 19]
    for value in range(5000):
        small.add(("pair", value))
    assert all(("pair", value) in small for value in range(5000))
    assert sum(("other", value) in small for value in range(5000)) < 5  # false positives


def test_beyond_a_layer_the_filter_adds_a_larger_one_and_still_never_misses() -> None:
    seen = series.SeenFilter()
    seen._LAYER_VALUES = 2000  # as 1.5 million would, in a test's time
    for value in range(7000):
        seen.add(value)
    assert [len(a) for a in seen._layers] == [1 << 19, 1 << 20, 1 << 21, 1 << 22]
    assert all(value in seen for value in range(7000))


def test_a_discriminator_remembers_its_first_sixteen_holders() -> None:
    pool = series.DiscriminatorPool(sequential=True, start=7, allow_shared=True,
                                    randomness=series.Randomness("s"))
    for index in range(1, 4096 * 20 + 1):
        pool.allocate(index)
    assert pool.uses[7] == 20
    assert pool.shared_with(7, 4096 * 19 + 1) == [1 + 4096 * k for k in range(16)]
    assert max(len(v) for v in pool.users.values()) == series.SHARERS_KEPT


def _device_files(top: Path) -> dict:
    return {str(p.relative_to(top)): (None if p.is_dir() else p.read_bytes(),
                                      p.stat().st_mode & 0o777)
            for p in sorted(top.rglob("*"))}


def test_device_directories_by_descriptor_and_by_path_are_the_same(scratch, monkeypatch):
    """DeviceDirs writes relative to an open descriptor where the platform allows and by path
    elsewhere (Windows): the same directories, 0700/0600, a complete device never replaced."""
    import os

    import pytest

    from matter_factory_data.station.batch.workers import DeviceDirs

    files = {"factory_data.bin": b"\xa1" * 700, "qr.png": b"png", "empty": b""}
    made = {}
    for at in (True, False):
        monkeypatch.setattr(DeviceDirs, "_AT", at)
        top = scratch / f"at-{at}"
        top.mkdir()
        dirs = DeviceDirs(top)
        (top / f".tmp-000007-{os.getpid()}").mkdir()  # left by a killed process of this pid
        (top / f".tmp-000007-{os.getpid()}" / "half").write_bytes(b"x")
        dirs.write(7, files)
        dirs.write(8, files)
        with pytest.raises(OSError):
            dirs.write(7, {"other": b"y"})  # a complete device is there: refused
        dirs.close()
        made[at] = _device_files(top)
        assert sorted(p.name for p in top.iterdir() if not p.name.startswith(".tmp-")) == \
            ["000007", "000008"]
        assert made[at]["000007"] == (None, 0o700)
        assert made[at]["000007/factory_data.bin"] == (files["factory_data.bin"], 0o600)
        assert "000007/half" not in made[at]
    strip = {k: v for k, v in made[True].items() if not k.startswith(".tmp-")}
    assert strip == {k: v for k, v in made[False].items() if not k.startswith(".tmp-")}
