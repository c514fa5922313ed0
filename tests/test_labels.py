"""``labels LOT`` and ``batch --label_size_mm/--label_dpi``: print labels of a lot, checked
through the public commands (PNG read back with PyPNG, SVG with ElementTree, the module grid
compared with qrcode's matrix of the manifest's payload), plus focused unit tests of the
geometry."""

from __future__ import annotations

import csv
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import png
import pytest
import qrcode
import zxingcpp
from conftest import snapshot
from qrcode.constants import ERROR_CORRECT_M

from matter_factory_data.core import labels as core_labels
from matter_factory_data.errors import InputError

FAST = ("--spake2_it", "1000", "--defaults", "--jobs", "1", "--seed", "labels-test")
SVG_NS = "{http://www.w3.org/2000/svg}"


# --------------------------------------------------------------------------- helpers

def make_lot(cli, out: Path, count: int = 3, *extra) -> Path:
    result = cli("batch", "-o", out, "--count", count, "--qr", "none", *FAST, *extra)
    assert result.code == 0, result
    return out


def manifest_rows(lot: Path) -> list:
    with open(lot / "manifest.csv", encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def label_rows(directory: Path) -> list:
    with open(directory / "labels.csv", encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def library_matrix(text: str) -> list:
    """qrcode's own matrix of ``text`` at level M, smallest version, quiet zone 4."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return [[bool(m) for m in row] for row in qr.get_matrix()]


def png_grid(path: Path, modules: int) -> tuple:
    """(width, height, physical, grid): the module grid sampled at each module's centre; every
    pixel of a module must have the same colour."""
    width, height, rows, info = png.Reader(filename=str(path)).read()
    pixels = [list(row) for row in rows]
    assert width % modules == 0 and height == width
    per = width // modules
    grid = []
    for my in range(modules):
        line = []
        for mx in range(modules):
            block = {pixels[my * per + dy][mx * per + dx]
                     for dy in range(per) for dx in range(per)}
            assert len(block) == 1, f"module ({mx}, {my}) is not one colour"
            line.append(block.pop() == 0)  # 0 is black in a 1-bit greyscale PNG
        grid.append(line)
    return width, height, info.get("physical"), grid


def svg_grid(path: Path) -> tuple:
    """(width, height, modules, grid) of our SVG: the path's rectangles on a viewBox grid."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    box = [int(v) for v in root.get("viewBox").split()]
    assert box[:2] == [0, 0] and box[2] == box[3]
    size = box[2]
    grid = [[False] * size for _ in range(size)]
    (path_element,) = root.iter(f"{SVG_NS}path")
    assert path_element.get("fill") == "#000000"
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path_element.get("d")):
        for dx in range(int(w)):
            assert not grid[int(y)][int(x) + dx]
            grid[int(y)][int(x) + dx] = True
    leftover = re.sub(r"M(\d+) (\d+)h(\d+)v1h-\3z", "", path_element.get("d"))
    assert leftover == ""
    return root.get("width"), root.get("height"), size, grid


def decode(width: int, height: int, grey: bytes) -> list:
    """zxing-cpp's reading of an 8-bit greyscale image: [(text, ECC level, version)]."""
    found = zxingcpp.read_barcodes(memoryview(grey).cast("B", (height, width)))
    return [(b.text, b.ec_level, b.extra.get("Version")) for b in found if b.valid]


def decode_png(path: Path) -> list:
    width, height, rows, _ = png.Reader(filename=str(path)).asDirect()
    return decode(width, height, bytes(255 * v for row in rows for v in row))


def decode_grid(grid: list, per: int = 4) -> list:
    size = len(grid) * per
    lines = [bytes(0 if dark else 255 for dark in row for _ in range(per)) for row in grid]
    return decode(size, size, b"".join(line for line in lines for _ in range(per)))


def ecc_level(grid: list) -> str:
    """The error correction level in the symbol's format information (both copies)."""
    inner = [row[4:-4] for row in grid[4:-4]]
    n = len(inner)
    vertical = horizontal = 0
    for i in range(15):
        row = i if i < 6 else i + 1 if i < 8 else n - 15 + i
        col = n - i - 1 if i < 8 else 15 - i if i < 9 else 15 - i - 1
        vertical |= inner[row][8] << i
        horizontal |= inner[8][col] << i
    assert vertical == horizontal
    return {0b01: "L", 0b00: "M", 0b11: "Q", 0b10: "H"}[(vertical ^ 0x5412) >> 13]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- the command

def test_labels_png_and_svg_show_the_library_matrix_at_whole_dots(cli, tmp_path):
    lot = make_lot(cli, tmp_path / "lot")
    result = cli("labels", lot, "--size-mm", "20", "--dpi", "300")
    assert result.code == 0, result
    assert "33 modules of 7 dots (0.593 mm): 19.56 mm at 300 dpi" in result.err + result.out
    rows = manifest_rows(lot)
    assert len(rows) == 3
    for row in rows:
        expected = library_matrix(row["qr_payload"])
        assert len(expected) == 33  # version 2 (25 modules) + 2 x 4 quiet zone
        name = f"{int(row['index']):06d}"
        width, height, physical, grid = png_grid(lot / "labels" / f"{name}.png", 33)
        assert (width, height) == (231, 231)  # 20 mm at 300 dpi = 236 dots: 7 per module
        assert tuple(physical) == (11811, 11811, True)  # 300 dpi in pixels per metre
        assert grid == expected
        assert ecc_level(grid) == "M"
        assert decode_png(lot / "labels" / f"{name}.png") == [(row["qr_payload"], "M", "2")]
        quiet = grid[:4] + grid[-4:] + [r[:4] + r[-4:] for r in grid]
        assert not any(any(line) for line in quiet)  # 4 white modules all around
        s_width, s_height, size, s_grid = svg_grid(lot / "labels" / f"{name}.svg")
        assert (s_width, s_height, size) == ("19.558mm", "19.558mm", 33)
        assert s_grid == expected
        assert decode_grid(s_grid) == [(row["qr_payload"], "M", "2")]


@pytest.mark.parametrize(("size", "dpi", "per", "pixels", "mm"), [
    ("16.5", "203", 3, 99, "12.3872"),  # 4 dots would be 16.516 mm: more than asked
    ("16.6", "203", 4, 132, "16.5163"),
    ("16.764", "300", 6, 198, "16.764"),  # exactly 198 dots
    ("16.763", "300", 5, 165, "13.97"),
    ("4.2", "203", 1, 33, "4.1291"),
])
def test_labels_take_the_largest_whole_dots_per_module_that_fit(cli, tmp_path, size, dpi, per,
                                                               pixels, mm):
    lot = make_lot(cli, tmp_path / "lot", 1)
    out = tmp_path / "out"
    result = cli("labels", lot, "--size_mm", size, "--dpi", dpi, "-o", out)
    assert result.code == 0, result
    width, _, physical, grid = png_grid(out / "000001.png", 33)
    assert width == pixels == 33 * per
    assert physical[0] == round(int(dpi) / 0.0254)
    assert grid == library_matrix(manifest_rows(lot)[0]["qr_payload"])
    assert decode_png(out / "000001.png") == [(manifest_rows(lot)[0]["qr_payload"], "M", "2")]
    root = ET.parse(out / "000001.svg").getroot()
    assert root.get("width") == f"{mm}mm" and root.get("height") == f"{mm}mm"
    assert not (lot / "labels").exists()


def test_label_csv_matches_the_manifest_escaped_and_secret(cli, tmp_path):
    lot = make_lot(cli, tmp_path / "lot", 3, "--sn_template", 'A,"b" {n}')
    result = cli("labels", lot, "--size_mm", "20", "--dpi", "300", "--format", "svg")
    assert result.code == 0, result
    rows, labels = manifest_rows(lot), label_rows(lot / "labels")
    assert [(r["index"], r["sn"], r["manual_code"], r["qr_payload"]) for r in rows] == \
        [(r["index"], r["sn"], r["manual_code"], r["qr_payload"]) for r in labels]
    assert labels[0]["sn"] == 'A,"b" 1'
    assert [r["png"] for r in labels] == ["", "", ""]
    assert [r["svg"] for r in labels] == ["000001.svg", "000002.svg", "000003.svg"]
    assert all(re.fullmatch(r"[0-9]{11}", r["manual_code"]) for r in labels)
    files = sorted(p.name for p in (lot / "labels").iterdir())
    assert files == ["000001.svg", "000002.svg", "000003.svg", "labels.csv"]
    assert all(mode(lot / "labels" / name) == 0o600 for name in files)
    # nothing of a label reaches the terminal: the payload and manual code hold the passcode
    for row in rows:
        assert row["qr_payload"] not in result.out + result.err
        assert row["manual_code"] not in result.out + result.err


def test_labels_refuse_to_overwrite_unless_asked(cli, tmp_path):
    lot = make_lot(cli, tmp_path / "lot", 2)
    assert cli("labels", lot, "--size_mm", "20", "--dpi", "300").code == 0
    before = snapshot(lot)
    result = cli("labels", lot, "--size_mm", "30", "--dpi", "300")
    assert result.code == 2 and "already exists" in result.err
    assert snapshot(lot) == before
    result = cli("labels", lot, "--size_mm", "30", "--dpi", "300", "--overwrite")
    assert result.code == 0, result
    width, _, _, _ = png_grid(lot / "labels" / "000001.png", 33)
    assert width == 33 * 10  # 30 mm at 300 dpi: 354 dots, 10 per module


@pytest.mark.parametrize(("args", "message"), [
    (("--size_mm", "4", "--dpi", "203"), "--size_mm 4: a QR code of 33 modules (quiet zone "
                                         "included) needs at least 4.13 mm"),
    (("--size_mm", "0", "--dpi", "300"), "--size_mm '0' is not a label size"),
    (("--size_mm", "-5", "--dpi", "300"), "--size_mm '-5' is not a label size"),
    (("--size_mm", "nan", "--dpi", "300"), "--size_mm 'nan' is not a label size"),
    (("--size_mm", "1e3", "--dpi", "300"), "--size_mm '1e3' is not a label size"),
    (("--size_mm", "1001", "--dpi", "300"), "--size_mm '1001' is not a label size"),
    (("--size_mm", "20", "--dpi", "0"), "--dpi 0 is not a printer resolution"),
    (("--size_mm", "20", "--dpi", "2401"), "--dpi 2401 is not a printer resolution"),
    (("--size_mm", "20", "--dpi", "300", "--format", "gif"),
     "--format 'gif' is not a list of label formats"),
    (("--size_mm", "20", "--dpi", "300", "--format", "png,png"),
     "--format 'png,png' is not a list of label formats"),
])
def test_bad_label_options_are_one_line_exit_2_nothing_written(cli, tmp_path, args, message):
    lot = make_lot(cli, tmp_path / "lot", 1)
    before = snapshot(tmp_path)
    result = cli("labels", lot, *args)
    assert result.code == 2, result
    assert result.err.startswith("error: " + message), result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert snapshot(tmp_path) == before


def test_labels_of_what_is_not_a_lot(cli, tmp_path):
    result = cli("labels", tmp_path / "nothing", "--size_mm", "20", "--dpi", "300")
    assert result.code == 2 and "no such lot directory" in result.err
    (tmp_path / "empty").mkdir()
    result = cli("labels", tmp_path / "empty", "--size_mm", "20", "--dpi", "300")
    assert result.code == 2 and "not a batch directory (no batch.json)" in result.err
    assert sorted(os.listdir(tmp_path)) == ["empty"]


def _tamper(lot: Path, column: str, value: str, index: int = 1) -> None:
    rows = manifest_rows(lot)
    rows[index][column] = value
    with open(lot / "manifest.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("sn", '=HYPERLINK("http://x","y")', "cell 'sn'"),
    ("sn", "@SUM(A1)", "cell 'sn'"),
    ("sn", "tab\there", "cell 'sn'"),
    ("qr_payload", "MT:ABC", "cell 'qr_payload' is not a Matter QR payload"),
    ("manual_code", "34970112332", "cell 'manual_code' does not agree"),
    ("discriminator", "7", "cell 'discriminator' does not agree"),
    ("index", "1", "device 1 is listed twice"),
])
def test_hostile_manifest_cells_are_refused_and_not_echoed(cli, tmp_path, column, value,
                                                           message):
    lot = make_lot(cli, tmp_path / "lot", 3)
    _tamper(lot, column, value)
    payloads = [r["qr_payload"] for r in manifest_rows(lot)]
    before = snapshot(tmp_path)
    result = cli("labels", lot, "--size_mm", "20", "--dpi", "300")
    assert result.code == 2, result
    assert "manifest.csv: line 3: " + message in result.err, result.err
    assert result.err.count("\n") == 1
    assert not any(p in result.err for p in payloads)
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- batch options

def test_batch_makes_labels_and_remakes_them_when_the_lot_grows(cli, tmp_path):
    lot = tmp_path / "lot"
    result = cli("batch", "-o", lot, "--count", "2", "--qr", "svg", *FAST,
                 "--label-size-mm", "16.6", "--label-dpi", "203", "--label-format", "png")
    assert result.code == 0, result
    assert sorted(os.listdir(lot / "labels")) == ["000001.png", "000002.png", "labels.csv"]
    assert (lot / "devices" / "000001" / "qr.svg").is_file()  # --qr still works
    result = cli("batch", "-o", lot, "--count", "3", "--qr", "svg", *FAST,
                 "--label_size_mm", "16.6", "--label_dpi", "203", "--label_format", "png")
    assert result.code == 0, result
    rows, labels = manifest_rows(lot), label_rows(lot / "labels")
    assert [r["qr_payload"] for r in rows] == [r["qr_payload"] for r in labels]
    assert len(labels) == 3
    for row in rows:
        path = lot / "labels" / f"{int(row['index']):06d}.png"
        assert mode(path) == 0o600
        width, _, physical, grid = png_grid(path, 33)
        assert width == 132 and physical[0] == 7992
        assert grid == library_matrix(row["qr_payload"])
    # and the labels command gives the same files
    out = tmp_path / "again"
    assert cli("labels", lot, "--size_mm", "16.6", "--dpi", "203", "--format", "png",
               "-o", out).code == 0
    assert (out / "labels.csv").read_bytes() == (lot / "labels" / "labels.csv").read_bytes()
    assert (out / "000003.png").read_bytes() == (lot / "labels" / "000003.png").read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (("--label_dpi", "300"), "--label_dpi needs --label_size_mm too"),
    (("--label_size_mm", "20"), "--label_size_mm needs --label_dpi too"),
    (("--label_size_mm", "3", "--label_dpi", "203"), "--label_size_mm 3: a QR code of 33"),
    (("--label_size_mm", "20", "--label_dpi", "9000"), "--label_dpi 9000 is not a printer"),
    (("--label_size_mm", "20", "--label_dpi", "300", "--label_format", "jpg"),
     "--label_format 'jpg' is not a list of label formats"),
])
def test_batch_refuses_bad_label_options_before_making_anything(cli, tmp_path, args, message):
    result = cli("batch", "-o", tmp_path / "lot", "--count", "2", *FAST, *args)
    assert result.code == 2, result
    assert result.err.startswith("error: " + message), result.err
    assert not (tmp_path / "lot").exists()


# --------------------------------------------------------------------------- the core

def test_geometry_is_whole_dots_and_at_most_the_size():
    for dpi in (72, 203, 300, 600, 1200, 2400):
        for tenth in range(40, 400, 7):
            size = tenth / 10
            try:
                geo = core_labels.geometry(33, size, dpi)
            except InputError:
                assert 33 * 25.4 / dpi > size
                continue
            assert geo.size_mm <= size + 1e-9
            bigger = (geo.dots_per_module + 1) * 33 * 25.4 / dpi
            assert bigger > size  # the largest whole number of dots that fits


def test_an_mt_payload_is_a_version_2_symbol_at_level_m():
    payload = "MT:Y.K90KQS02F2W71GY10"
    matrix = core_labels.qr_matrix(payload)
    assert len(matrix) == core_labels.MT_PAYLOAD_MODULES == 33
    assert matrix == library_matrix(payload)
    assert ecc_level(matrix) == "M"


def test_labels_do_not_run_beside_a_batch_on_the_same_lot(cli, tmp_path):
    from matter_factory_data.station.batch.series_dir import lock_series, unlock_series

    lot = make_lot(cli, tmp_path / "lot", 1)
    held = lock_series(lot)  # what a running batch holds
    try:
        result = cli("labels", lot, "--size_mm", "20", "--dpi", "300")
    finally:
        unlock_series(lot, held)
    assert result.code == 1 and "another batch run is working on this directory" in result.err
    assert not (lot / "labels").exists()
    assert cli("labels", lot, "--size_mm", "20", "--dpi", "300").code == 0
    assert not (lot / ".lock").exists()


def test_a_lot_without_a_device_has_no_label(cli, tmp_path):
    lot = make_lot(cli, tmp_path / "lot", 1)
    header = (lot / "manifest.csv").read_bytes().split(b"\n", 1)[0] + b"\n"
    (lot / "manifest.csv").write_bytes(header)
    result = cli("labels", lot, "--size_mm", "20", "--dpi", "300")
    assert result.code == 2 and "the lot has no device yet" in result.err
    assert not (lot / "labels").exists()
