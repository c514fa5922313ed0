"""QR code images (PNG and SVG) of a text such as an ``MT:`` onboarding payload.

Rendering uses the ``qrcode`` library, imported inside the functions so that
importing this module costs nothing at command start-up. PNG output goes
through pure-Python PyPNG (Pillow is not needed).
"""

import io

from matter_factory_data.errors import OnboardingError

#: Pixels per module in PNG output (a version 2 code is 25 + 2 * 4 modules: 264 px).
PNG_BOX_SIZE = 8
#: SVG units per module; qrcode maps 10 to 1 mm, so a version 2 code is 33 mm wide.
SVG_BOX_SIZE = 10
#: Quiet zone in modules: 4 is the minimum ISO/IEC 18004 asks for.
BORDER = 4
#: The mask ``batch`` uses instead of trying all eight. Scoring the eight masks (the
#: ISO 18004 penalty rules) costs ~3.7 ms per code, half the PBKDF2 floor of a device;
#: every mask decodes, and over random ``MT:`` payloads mask 0 has the lowest mean
#: penalty and is the best one most often.
FAST_MASK_PATTERN = 0
#: An ``MT:`` payload without extension data is 22 alphanumeric characters: version 2 at
#: level M (room for 38), the version the search would find.
MT_PAYLOAD_VERSION = 2


def _make_qr(text: str, **options):
    """The ``qrcode.QRCode`` of ``text`` (error correction M, smallest version that fits)."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.exceptions import DataOverflowError

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER, **options)
    qr.add_data(text)
    try:
        qr.make(fit=options.get("version") is None)
    except (DataOverflowError, ValueError):  # qrcode 8.2 raises "Invalid version (was 41 ...)"
        message = f"Text of {len(text)} characters is too long for a QR code."
        raise OnboardingError(message) from None
    return qr


def _render(text: str, image_factory: type, box_size: int, mask_pattern=None,
            version=None) -> bytes:
    """Return the file bytes of the QR symbol of ``text`` drawn by a qrcode image factory."""
    qr = _make_qr(text, box_size=box_size, image_factory=image_factory,
                  mask_pattern=mask_pattern, version=version)
    buffer = io.BytesIO()
    qr.make_image().save(buffer)
    return buffer.getvalue()


def _packed_rows(matrix: list, box_size: int) -> list:
    """1-bit greyscale rows (0 black, 1 white), each module ``box_size`` pixels square."""
    rows = []
    for modules in matrix:
        if box_size == 8:  # one byte per module: the common case, and 3x faster
            row = bytes(0 if dark else 0xFF for dark in modules)
        else:
            bits = "".join(("0" if dark else "1") * box_size for dark in modules)
            bits += "1" * (-len(bits) % 8)
            row = int(bits, 2).to_bytes(len(bits) // 8, "big")
        rows.extend([row] * box_size)
    return rows


def qr_png(text: str, mask_pattern=None, version=None) -> bytes:
    """Return a black-on-white 1-bit PNG of the QR code of ``text``.

    The module matrix comes from ``qrcode``; rows are handed to PyPNG already packed,
    which is ~10x faster than drawing the image pixel by pixel. ``mask_pattern`` (0..7)
    fixes the mask instead of scoring all eight, ``version`` the symbol size instead of
    searching for the smallest.
    """
    import png

    # get_matrix() includes the quiet zone
    matrix = _make_qr(text, mask_pattern=mask_pattern, version=version).get_matrix()
    size = len(matrix) * PNG_BOX_SIZE
    buffer = io.BytesIO()
    png.Writer(size, size, greyscale=True, bitdepth=1).write_packed(
        buffer, _packed_rows(matrix, PNG_BOX_SIZE))
    return buffer.getvalue()


def qr_svg(text: str, mask_pattern=None, version=None) -> bytes:
    """Return a standalone SVG (one path on a white background) of the QR code of ``text``."""
    from qrcode.image.svg import SvgPathFillImage

    return _render(text, SvgPathFillImage, SVG_BOX_SIZE, mask_pattern, version)
