"""QR code images: PNG and SVG bytes that hold a well-formed QR symbol.

No QR decoder is installed, so the symbol is checked structurally against
ISO/IEC 18004 (quiet zone, finder and timing patterns, dark module, format
information with error correction M) and module by module against the matrix
``qrcode`` computes for the same text; PNG and SVG must show the same symbol.
"""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import png
import pytest

from matter_factory_data.core import qrimage
from matter_factory_data.core.qrimage import qr_png, qr_svg
from matter_factory_data.errors import OnboardingError

QR_TEXT = "MT:8IXS142C00KA0648G00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"
BORDER = 4


def png_modules(data: bytes) -> list[list[bool]]:
    """Module grid (True = dark) of a PNG, quiet zone removed; every box must be uniform."""
    width, height, rows, info = png.Reader(bytes=data).read()
    pixels = [list(row) for row in rows]
    box = qrimage.PNG_BOX_SIZE
    assert width == height and width % box == 0
    assert info["greyscale"] and info["bitdepth"] == 1
    count = width // box
    grid = []
    for r in range(count):
        row = []
        for c in range(count):
            values = {pixels[r * box + y][c * box + x] for y in range(box) for x in range(box)}
            assert len(values) == 1, f"module ({r}, {c}) is not one colour"
            row.append(values.pop() == 0)
        grid.append(row)
    quiet = grid[:BORDER] + grid[-BORDER:] + [row[:BORDER] + row[-BORDER:] for row in grid]
    assert not any(any(row) for row in quiet), "the quiet zone is not white"
    return [row[BORDER:-BORDER] for row in grid[BORDER:-BORDER]]


def svg_dark_modules(data: bytes) -> set[tuple[int, int]]:
    """(row, col) of the dark modules drawn by the single path of an SvgPath image."""
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    paths = root.findall(f".//{SVG_NS}path")
    assert len(paths) == 1
    unit = qrimage.SVG_BOX_SIZE / 10  # qrcode: box size 10 = 1 user unit (mm)
    squares = re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H([\d.]+)z", paths[0].get("d"))
    assert squares and "".join(
        f"M{x0},{y0}H{x1}V{y1}H{x2}z" for x0, y0, x1, y1, x2 in squares
    ) == paths[0].get("d"), "path is not only squares"
    dark = set()
    for x0, y0, x1, y1, _ in squares:
        assert float(x1) - float(x0) == unit and float(y1) - float(y0) == unit
        dark.add((round(float(y0) / unit) - BORDER, round(float(x0) / unit) - BORDER))
    return dark


def format_word(grid: list[list[bool]]) -> tuple[int, int]:
    """The two copies of the 15-bit format information, bit i read where ISO 18004 puts it."""
    n = len(grid)
    vertical = [(i, 8) for i in range(6)] + [(7, 8), (8, 8)] + [(n - 7 + i, 8) for i in range(7)]
    horizontal = [(8, n - 1 - i) for i in range(8)] + [(8, 7)] + [(8, 5 - i) for i in range(6)]
    return tuple(
        sum(grid[r][c] << i for i, (r, c) in enumerate(cells)) for cells in (vertical, horizontal)
    )


def bch_format(data5: int) -> int:
    """BCH(15,5) format codeword of 5 data bits, masked with 0x5412."""
    remainder = data5 << 10
    for bit in range(14, 9, -1):
        if remainder & (1 << bit):
            remainder ^= 0x537 << (bit - 10)
    return ((data5 << 10) | remainder) ^ 0x5412


def assert_is_qr_symbol(grid: list[list[bool]]) -> None:
    """Finder, separator and timing patterns, dark module and format information (EC level M)."""
    n = len(grid)
    assert n >= 21 and (n - 17) % 4 == 0, f"{n} modules is not a QR size"
    for top, left in ((0, 0), (0, n - 7), (n - 7, 0)):
        for r in range(7):
            for c in range(7):
                ring = max(abs(r - 3), abs(c - 3))
                assert grid[top + r][left + c] == (ring != 2), f"finder at ({top}, {left})"
    for i in range(8, n - 8):
        assert grid[6][i] == (i % 2 == 0) and grid[i][6] == (i % 2 == 0), "timing pattern"
    version = (n - 17) // 4
    assert grid[4 * version + 9][8], "dark module"
    first, second = format_word(grid)
    assert first == second
    data5 = next((d for d in range(32) if bch_format(d) == first), None)
    assert data5 is not None, f"format information {first:015b} is not a BCH codeword"
    assert data5 >> 3 == 0b00, "error correction level is not M"


def library_matrix(text: str) -> list[list[bool]]:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(text)
    return qr.get_matrix()


# ------------------------------------------------------------------ self-checks of the helpers


def test_bch_format_matches_known_codewords():
    # ISO/IEC 18004 Table C.1: level M mask 0 -> 101010000010010, level L mask 0 -> 111011111000100.
    assert bch_format(0b00000) == 0b101010000010010
    assert bch_format(0b01000) == 0b111011111000100


def test_symbol_checks_reject_a_damaged_symbol():
    grid = png_modules(qr_png(QR_TEXT))
    grid[8][0] = not grid[8][0]  # one format information bit
    with pytest.raises(AssertionError):
        assert_is_qr_symbol(grid)


# --------------------------------------------------------------------------- PNG


def test_png_is_a_square_png():
    data = qr_png(QR_TEXT)
    assert data.startswith(PNG_SIGNATURE)
    width, height, rows, _ = png.Reader(bytes=data).read()
    assert width == height == len(list(rows))


@pytest.mark.parametrize("text", [QR_TEXT, "MT:KAYA3EYF15ND8B1OA00", "hello, world", "x" * 300])
def test_png_holds_the_qr_symbol_of_the_text(text):
    grid = png_modules(qr_png(text))
    assert_is_qr_symbol(grid)
    assert grid == library_matrix(text)


def test_png_of_an_onboarding_payload_is_version_2():
    grid = png_modules(qr_png(QR_TEXT))
    assert len(grid) == 25


def test_png_is_deterministic_and_depends_on_the_text():
    assert qr_png(QR_TEXT) == qr_png(QR_TEXT)
    assert qr_png(QR_TEXT) != qr_png("MT:KAYA3EYF15ND8B1OA00")


# --------------------------------------------------------------------------- SVG


def test_svg_is_a_square_svg_document_on_white():
    data = qr_svg(QR_TEXT)
    assert data.startswith(b"<?xml")
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("width") == root.get("height") == "33mm"
    assert root.get("viewBox") == "0 0 33 33"
    background = root.find(f"{SVG_NS}rect")
    assert background is not None and background.get("fill") == "white"


@pytest.mark.parametrize("text", [QR_TEXT, "MT:KAYA3EYF15ND8B1OA00"])
def test_svg_shows_the_same_symbol_as_the_png(text):
    grid = png_modules(qr_png(text))
    expected = {(r, c) for r, row in enumerate(grid) for c, dark in enumerate(row) if dark}
    assert svg_dark_modules(qr_svg(text)) == expected


# ------------------------------------------------------------------ errors and start-up cost


def test_too_long_text_is_an_onboarding_error():
    with pytest.raises(OnboardingError, match="3000 characters is too long for a QR code"):
        qr_png("x" * 3000)
    with pytest.raises(OnboardingError, match="too long"):
        qr_svg("x" * 3000)


def test_importing_the_module_does_not_import_qrcode():
    code = (
        "import sys, matter_factory_data.core.qrimage; "
        "print(sorted(m for m in ('qrcode', 'png', 'xml.etree.ElementTree') if m in sys.modules))"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
