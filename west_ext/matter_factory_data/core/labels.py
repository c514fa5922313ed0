"""Print labels of a QR code: the symbol as PNG and SVG at a size in millimetres and a DPI.

The module grid comes from the ``qrcode`` library (error correction M, the smallest version
that holds the text — version 2 for an ``MT:`` payload, as Espressif's and Telink's
``mfg_tool.py`` make it — and the mask the library scores best), with a quiet zone of 4
modules (ISO/IEC 18004). A module is a whole number of printer dots: the largest number of
dots per module whose symbol fits in the requested size, so the printed symbol is at most that
size and every module edge falls on a dot edge. The PNG (PyPNG, 1-bit) has one pixel per dot and
records the DPI in its pHYs chunk; the SVG is sized in millimetres with a ``viewBox`` of one
unit per module. Pure: nothing is written here.
"""

from __future__ import annotations

import io
import math
import re
from typing import NamedTuple, Optional

from ..errors import OPT, InputError, Subject

#: Quiet zone in modules (ISO/IEC 18004 asks for at least 4).
QUIET_ZONE = 4
#: Printer resolutions accepted (dots per inch): thermal label printers have 203, 300 or 600.
DPI_MIN, DPI_MAX = 72, 2400
#: Label sizes accepted (millimetres, the side of the square symbol with its quiet zone).
SIZE_MM_MAX = 1000
MM_PER_INCH = 25.4
#: The label formats and their file suffixes.
LABEL_FORMATS = ("png", "svg")
#: An ``MT:`` payload (22 alphanumeric characters) at level M: version 2, 25 modules + quiet zone.
MT_PAYLOAD_MODULES = 25 + 2 * QUIET_ZONE

_SIZE = re.compile(r"[0-9]{1,4}(\.[0-9]{1,3})?")


class Geometry(NamedTuple):
    """How a symbol of ``modules`` modules (quiet zone included) is printed."""

    modules: int
    dpi: int
    dots_per_module: int

    @property
    def pixels(self) -> int:
        return self.modules * self.dots_per_module

    @property
    def size_mm(self) -> float:
        return self.pixels * MM_PER_INCH / self.dpi

    @property
    def module_mm(self) -> float:
        return self.dots_per_module * MM_PER_INCH / self.dpi


def parse_size_mm(text: str, subject: Subject = OPT.size_mm) -> float:
    """A label size such as ``20`` or ``16.5`` (millimetres, up to 3 decimals)."""
    text = str(text).strip()
    if not _SIZE.fullmatch(text) or not 0 < float(text) <= SIZE_MM_MAX:
        raise InputError(f"{subject} {text[:20]!r} is not a label size (accepted: millimetres "
                         f"above 0 and up to {SIZE_MM_MAX}, up to 3 decimals, e.g. 20 or 16.5)")
    return float(text)


def dpi_problem(dpi: object) -> Optional[str]:
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not DPI_MIN <= dpi <= DPI_MAX:
        return f"is not a printer resolution (accepted: {DPI_MIN}..{DPI_MAX} dots per inch)"
    return None


def geometry(modules: int, size_mm: float, dpi: int, *, size_subject: Subject = OPT.size_mm,
             dpi_subject: Subject = OPT.dpi) -> Geometry:
    """The largest whole number of dots per module whose symbol fits in ``size_mm``."""
    problem = dpi_problem(dpi)
    if problem:
        raise InputError(f"{dpi_subject} {dpi!r} {problem}")
    dots = math.floor(size_mm * dpi / MM_PER_INCH + 1e-9)  # 16.764 mm at 300 dpi is 198 dots
    per_module = dots // modules
    if per_module < 1:
        need = modules * MM_PER_INCH / dpi
        raise InputError(f"{size_subject} {size_mm:g}: a QR code of {modules} modules (quiet "
                         f"zone included) needs at least {math.ceil(need * 1000) / 1000:g} mm "
                         f"for one whole printer dot per module at {dpi_subject} {dpi} "
                         f"(accepted: a larger size or a higher resolution)")
    return Geometry(modules, dpi, per_module)


def qr_matrix(text: str) -> list:
    """The module grid of ``text`` (rows of booleans, True dark), quiet zone included."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.exceptions import DataOverflowError

    from ..errors import OnboardingError

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(text)
    try:
        qr.make(fit=True)
    except (DataOverflowError, ValueError):
        raise OnboardingError(f"Text of {len(text)} characters is too long for a QR code.") \
            from None
    return [[bool(dark) for dark in row] for row in qr.get_matrix()]


def png_bytes(matrix: list, geo: Geometry) -> bytes:
    """A 1-bit greyscale PNG, one pixel per printer dot, with the DPI in its pHYs chunk."""
    import png

    per = geo.dots_per_module
    rows = []
    for modules in matrix:
        bits = "".join(("0" if dark else "1") * per for dark in modules)
        bits += "1" * (-len(bits) % 8)
        row = int(bits, 2).to_bytes(len(bits) // 8, "big")
        rows.extend([row] * per)
    pixels_per_metre = round(geo.dpi / (MM_PER_INCH / 1000))
    buffer = io.BytesIO()
    png.Writer(geo.pixels, geo.pixels, greyscale=True, bitdepth=1,
               x_pixels_per_unit=pixels_per_metre, y_pixels_per_unit=pixels_per_metre,
               unit_is_meter=True).write_packed(buffer, rows)
    return buffer.getvalue()


def _mm(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def svg_bytes(matrix: list, geo: Geometry) -> bytes:
    """A standalone SVG sized in millimetres, one ``viewBox`` unit per module: a white square
    and one black path of the dark modules (runs of a row joined)."""
    size = len(matrix)
    parts = []
    for y, modules in enumerate(matrix):
        x = 0
        while x < size:
            if modules[x]:
                start = x
                while x < size and modules[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    side = _mm(geo.size_mm)
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side}mm" '
            f'height="{side}mm" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">\n'
            f'<rect width="{size}" height="{size}" fill="#ffffff"/>\n'
            f'<path fill="#000000" d="{"".join(parts)}"/>\n'
            "</svg>\n")
    return text.encode("ascii")


def render(text: str, size_mm: float, dpi: int, formats: tuple = LABEL_FORMATS, *,
           size_subject: Subject = OPT.size_mm, dpi_subject: Subject = OPT.dpi) -> dict:
    """``{format: bytes}`` of the label of ``text``."""
    matrix = qr_matrix(text)
    geo = geometry(len(matrix), size_mm, dpi, size_subject=size_subject,
                   dpi_subject=dpi_subject)
    writers = {"png": png_bytes, "svg": svg_bytes}
    return {name: writers[name](matrix, geo) for name in formats}


def parse_formats(text: str, subject: Subject = OPT.format) -> tuple:
    """``png,svg`` → ('png', 'svg'): a comma-separated list of LABEL_FORMATS, none twice."""
    names = [name.strip().lower() for name in str(text).split(",")]
    if not names or any(n not in LABEL_FORMATS for n in names) or len(set(names)) != len(names):
        raise InputError(f"{subject} {str(text)[:30]!r} is not a list of label formats "
                         f"(accepted: {', '.join(LABEL_FORMATS)} or both, comma-separated)")
    return tuple(n for n in LABEL_FORMATS if n in names)
