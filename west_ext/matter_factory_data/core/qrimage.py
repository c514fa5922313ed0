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


def _render(text: str, image_factory: type, box_size: int) -> bytes:
    """Return the file bytes of the QR symbol of ``text`` (error correction M)."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.exceptions import DataOverflowError

    qr = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M,
        box_size=box_size,
        border=BORDER,
        image_factory=image_factory,
    )
    qr.add_data(text)
    try:
        qr.make(fit=True)
    except (DataOverflowError, ValueError):  # qrcode 8.2 raises "Invalid version (was 41 ...)"
        message = f"Text of {len(text)} characters is too long for a QR code."
        raise OnboardingError(message) from None
    buffer = io.BytesIO()
    qr.make_image().save(buffer)
    return buffer.getvalue()


def qr_png(text: str) -> bytes:
    """Return a black-on-white 1-bit PNG of the QR code of ``text``."""
    from qrcode.image.pure import PyPNGImage

    return _render(text, PyPNGImage, PNG_BOX_SIZE)


def qr_svg(text: str) -> bytes:
    """Return a standalone SVG (one path on a white background) of the QR code of ``text``."""
    from qrcode.image.svg import SvgPathFillImage

    return _render(text, SvgPathFillImage, SVG_BOX_SIZE)
