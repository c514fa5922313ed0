"""The hand-written QR hot path (matrix and PNG writer) against qrcode and PyPNG.

batch renders every device's QR code through ``qrimage``'s hot path; these tests prove,
over hundreds of random texts and every mask, that its bytes are the libraries'.
"""

from __future__ import annotations

import io
import random

import png
import pytest

from matter_factory_data.core import onboarding, qrimage

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _library_matrix(text: str, mask: int, version) -> list:
    return qrimage._make_qr(text, mask_pattern=mask, version=version).get_matrix()


def _library_png(text: str, mask: int, version) -> bytes:
    matrix = _library_matrix(text, mask, version)
    size = len(matrix) * qrimage.PNG_BOX_SIZE
    rows = [bytes(0 if dark else 0xFF for dark in modules)
            for modules in matrix for _ in range(qrimage.PNG_BOX_SIZE)]
    buffer = io.BytesIO()
    png.Writer(size, size, greyscale=True, bitdepth=1).write_packed(buffer, rows)
    return buffer.getvalue()


def _library_svg(text: str, mask: int, version) -> bytes:
    from qrcode.image.svg import SvgPathFillImage

    return qrimage._render(text, SvgPathFillImage, qrimage.SVG_BOX_SIZE, mask, version)


def _texts(count: int):
    rng = random.Random(1717)
    for case in range(count):
        kind = case % 4
        if kind == 0:  # what batch renders: MT: payloads of random devices
            payload = onboarding.SetupPayload(
                vendor_id=rng.randrange(1, 0xFFF5), product_id=rng.randrange(1, 0x10000),
                discriminator=rng.randrange(4096), passcode=rng.randrange(1, 99999999),
                capabilities=rng.choice((2, 4, 6)))
            yield onboarding.qr_code(payload), rng.randrange(8)
        elif kind == 1:  # any alphanumeric text of every length
            yield "".join(rng.choice(ALNUM) for _ in range(rng.randrange(1, 39))), rng.randrange(8)
        elif kind == 2:  # digit-heavy texts (numeric segments: the library path)
            yield "".join(rng.choice("0123456789" * 6 + "A") for _ in range(
                rng.randrange(1, 39))), rng.randrange(8)
        else:  # anything else, also non-alphanumeric (the library path)
            yield "".join(rng.choice(ALNUM + "abc:éŁ") for _ in range(rng.randrange(1, 30))), \
                rng.randrange(8)


CASES = list(_texts(600))


def test_cases_exercise_the_hot_path_and_the_fallback() -> None:
    fast = sum(qrimage.fast_path_applies(t, m, 2) for t, m in CASES)
    assert 300 <= fast < len(CASES)


@pytest.mark.parametrize("text, mask", CASES)
def test_matrix_and_png_are_the_libraries(text: str, mask: int) -> None:
    if not qrimage.fast_path_applies(text, mask, 2):
        from matter_factory_data.errors import OnboardingError

        try:
            expected = _library_matrix(text, mask, 2)
        except OnboardingError:  # too long for version 2: the same error on our path
            with pytest.raises(OnboardingError):
                qrimage.qr_matrix(text, mask, 2)
            return
        assert qrimage.qr_matrix(text, mask, 2) == expected
        return
    assert qrimage._fast_matrix(text, mask) == _library_matrix(text, mask, 2)
    assert qrimage.qr_png(text, mask, 2) == _library_png(text, mask, 2)
    assert qrimage.qr_svg(text, mask, 2) == _library_svg(text, mask, 2)


@pytest.mark.parametrize("text", ["MT:Y.K9042C00KA0648G00", "A" * 21, "HELLO WORLD 123 $%*+-./:"])
def test_smallest_version_is_found_as_qrcode_finds_it(text: str) -> None:
    for mask in range(8):
        assert qrimage.qr_matrix(text, mask, None) == _library_matrix(text, mask, None)


def test_expected_pixels_are_those_of_the_png_at_every_level() -> None:
    """verify DIR compares a stored PNG's pixels with qr_png_pixels (no compression)."""
    for text, mask in CASES[:120]:
        if not qrimage.fast_path_applies(text, mask, 2) and len(text) > 20:
            continue  # beyond version 2 at level M
        expected = qrimage.qr_png_pixels(text, mask, 2)
        for level in (None, 1, 9):
            assert qrimage.png_pixels(qrimage.qr_png(text, mask, 2, compression=level)) == \
                expected
    other = qrimage.qr_png_pixels("MT:Y.K9042C00KA0648G01", 3, 2)
    assert other != qrimage.qr_png_pixels("MT:Y.K9042C00KA0648G00", 3, 2)


def test_png_writer_is_pypng_for_any_size_and_level() -> None:
    rng = random.Random(5)
    for n in range(200):
        width, height = rng.randrange(1, 300), rng.randrange(1, 60)
        rows = [rng.randbytes((width + 7) // 8) if n % 2 else bytes([rng.choice((0, 255))])
                * ((width + 7) // 8) for _ in range(height)]
        level = (None, 1, 9, 0)[n % 4]
        buffer = io.BytesIO()
        png.Writer(width, height, greyscale=True, bitdepth=1, compression=level).write_packed(
            buffer, rows)
        ours = qrimage.png_1bit(width, height, rows, level)
        assert ours == buffer.getvalue()
        assert qrimage.png_pixels(ours) == qrimage.png_pixels(
            qrimage.png_1bit(width, height, rows, 6 if level != 6 else 1))


def test_png_pixels_sees_a_changed_pixel_and_a_damaged_file() -> None:
    text = "MT:Y.K9042C00KA0648G00"
    good = qrimage.qr_png(text, 0, 2, compression=1)
    assert qrimage.png_pixels(good) == qrimage.png_pixels(qrimage.qr_png(text, 0, 2))
    assert qrimage.png_pixels(good) != qrimage.png_pixels(qrimage.qr_png(text, 1, 2, 1))
    assert qrimage.png_pixels(good[:-20]) is None
    damaged = bytearray(good)
    damaged[60] ^= 1
    assert qrimage.png_pixels(bytes(damaged)) is None
