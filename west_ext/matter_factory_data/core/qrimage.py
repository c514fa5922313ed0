"""QR code images (PNG and SVG) of a text such as an ``MT:`` onboarding payload.

Rendering uses the ``qrcode`` library, imported inside the functions so that
importing this module costs nothing at command start-up. PNG output is written
with zlib directly, byte for byte as PyPNG writes it (Pillow is not needed).

``batch`` (a fixed version and mask) takes a hand-written hot path instead: the module
matrix of an alphanumeric text in a version 2 symbol at level M (`_fast_matrix`: the
bit stream, Reed-Solomon codewords and the placement of the data modules over the
function patterns qrcode drew once) and the PNG written with zlib directly
(`png_1bit`). qrcode took ~0.75 ms per matrix and PyPNG ~0.4 ms per image; the hot path
takes ~0.1 ms for both. ``tests/test_qrfast.py`` proves the bytes identical to qrcode's and
PyPNG's over random texts and every mask; any other text takes the library path.
"""

from __future__ import annotations

import io
import itertools
import operator
import re
import struct
import zlib

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


_DARK_BYTE = bytes([0xFF, 0x00]) + bytes(254)
_LIGHT_BYTE = bytes(48) + bytes([0xFF, 0x00]) + bytes(206)  # b"0" -> 0xFF, b"1" -> 0x00


def _packed_rows(matrix: list, box_size: int) -> list:
    """1-bit greyscale rows (0 black, 1 white), each module ``box_size`` pixels square."""
    rows = []
    for modules in matrix:
        if box_size == 8:  # one byte per module: the common case, and 10x faster
            row = bytes(modules).translate(_DARK_BYTE)
        else:
            bits = "".join(("0" if dark else "1") * box_size for dark in modules)
            bits += "1" * (-len(bits) % 8)
            row = int(bits, 2).to_bytes(len(bits) // 8, "big")
        rows.extend([row] * box_size)
    return rows


# --------------------------------------------------------------------------- the hot path

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALPHANUMERIC_VALUE = {c: i for i, c in enumerate(_ALPHANUMERIC)}
#: Texts qrcode puts in one alphanumeric segment (``add_data``'s default optimize=20: a run
#: of 20 digits becomes a numeric segment, an all-digit text too).
_ONE_ALPHANUMERIC_SEGMENT = re.compile(r"[0-9A-Z $%*+\-./:]{1,38}")
_DIGIT_RUN = re.compile(r"[0-9]{20}")
_ALL_DIGITS = re.compile(r"[0-9]+")
#: Version 2 at level M: one Reed-Solomon block of 44 codewords, 28 of them data.
_FAST_VERSION, _DATA_CODEWORDS, _EC_CODEWORDS = 2, 28, 16
_MASKS = (
    lambda i, j: (i + j) % 2 == 0, lambda i, j: i % 2 == 0, lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0, lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i * j) % 3 + (i + j) % 2) % 2 == 0,
)
_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _power in range(255, 512):
    _EXP[_power] = _EXP[_power - 255]


def _generator(degree: int) -> list:
    """Coefficients (highest first, leading 1 dropped) of prod(x - a^i), i < degree."""
    poly = [1]
    for i in range(degree):
        nxt = poly + [0]
        for k, coefficient in enumerate(poly):
            if coefficient:
                nxt[k + 1] ^= _EXP[_LOG[coefficient] + i]
        poly = nxt
    return poly[1:]


def _product_table(generator: list) -> list:
    """For each factor f, f * generator as one integer of 16 bytes (highest first)."""
    table = [0]
    for factor in range(1, 256):
        log = _LOG[factor]
        table.append(int.from_bytes(bytes(_EXP[log + _LOG[g]] if g else 0 for g in generator),
                                    "big"))
    return table


_PRODUCTS = _product_table(_generator(_EC_CODEWORDS))
_EC_MASK = (1 << 8 * _EC_CODEWORDS) - 1
_EC_TOP = 8 * (_EC_CODEWORDS - 1)


def _ec_codewords(data: bytes | bytearray) -> bytes:
    """The Reed-Solomon remainder of ``data``: the register as one integer."""
    register = 0
    for byte in data:
        register = ((register << 8) & _EC_MASK) ^ _PRODUCTS[byte ^ (register >> _EC_TOP)]
    return register.to_bytes(_EC_CODEWORDS, "big")


def _fast_codewords(text: str) -> bytes:
    """The 44 codewords of ``text`` as one alphanumeric segment, as qrcode makes them."""
    values = [_ALPHANUMERIC_VALUE[c] for c in text]
    bits, count = 0b0010, 4  # mode indicator
    bits, count = (bits << 9) | len(text), count + 9  # character count, versions 1..9
    for k in range(0, len(values) - 1, 2):
        bits, count = (bits << 11) | (values[k] * 45 + values[k + 1]), count + 11
    if len(values) % 2:
        bits, count = (bits << 6) | values[-1], count + 6
    limit = _DATA_CODEWORDS * 8
    terminator = min(limit - count, 4)
    bits, count = bits << terminator, count + terminator
    pad = -count % 8
    bits, count = bits << pad, count + pad
    data = bytearray(bits.to_bytes(count // 8, "big"))
    data += bytes((0xEC, 0x11)) * ((_DATA_CODEWORDS - len(data)) // 2 + 1)
    del data[_DATA_CODEWORDS:]
    return bytes(data) + _ec_codewords(data)


_TEMPLATES: dict = {}


def _template(mask: int):
    """For ``mask``: the symbol with its quiet zone as one byte per module (b"1" dark, row
    by row) with qrcode's function patterns and format information, which do not depend on
    the data; where each data bit goes (an index gather: module j takes byte j of the base,
    or byte len(base) + k, data bit k); and the mask over the data bits as an integer."""
    if mask not in _TEMPLATES:
        base = _make_qr("A", mask_pattern=mask, version=_FAST_VERSION).get_matrix()
        width = len(base)
        size = 17 + 4 * _FAST_VERSION
        reserved = [[False] * size for _ in range(size)]

        def reserve(rows, cols):
            for r in rows:
                for c in cols:
                    if 0 <= r < size and 0 <= c < size:
                        reserved[r][c] = True

        for r0, c0 in ((0, 0), (0, size - 8), (size - 8, 0)):  # finders and separators
            reserve(range(r0, r0 + 8), range(c0, c0 + 8))
        reserve(range(size), (6,))  # timing
        reserve((6,), range(size))
        reserve((8,), list(range(9)) + list(range(size - 8, size)))  # format information
        reserve(list(range(9)) + list(range(size - 8, size)), (8,))
        centre = 4 * _FAST_VERSION + 10  # the one alignment pattern of version 2
        reserve(range(centre - 2, centre + 3), range(centre - 2, centre + 3))
        gather = list(range(width * width))
        mask_bits = 0
        row, step, k = size - 1, -1, 0  # qrcode's map_data order
        for col in range(size - 1, 0, -2):
            if col <= 6:
                col -= 1
            while True:
                for c in (col, col - 1):
                    if not reserved[row][c]:
                        gather[(row + BORDER) * width + c + BORDER] = width * width + k
                        mask_bits = mask_bits << 1 | _MASKS[mask](row, c)
                        k += 1
                row += step
                if row < 0 or row >= size:
                    row -= step
                    step = -step
                    break
        grid = bytes(49 if dark else 48 for modules in base for dark in modules)
        _TEMPLATES[mask] = (grid, operator.itemgetter(*gather), k, mask_bits, width)
    return _TEMPLATES[mask]


def fast_path_applies(text: str, mask_pattern, version) -> bool:
    """Whether ``text`` takes the hot path: a fixed mask, version 2 (or any version when
    it is the smallest that fits) and one alphanumeric segment."""
    return (mask_pattern in range(8) and version in (None, _FAST_VERSION)
            and _ONE_ALPHANUMERIC_SEGMENT.fullmatch(text) is not None
            and (len(text) > 20 or _ALL_DIGITS.fullmatch(text) is None)
            and (len(text) <= 20 or _DIGIT_RUN.search(text) is None)
            and (version is not None or len(text) > 20))  # version 1 holds 20 at level M


def _fast_grid(text: str, mask: int) -> tuple:
    """(modules, width): the symbol of ``text`` with its quiet zone, one byte per module
    row by row, b"1" dark and b"0" light."""
    grid, gather, places, mask_bits, width = _template(mask)
    codewords = _fast_codewords(text)
    bits = (int.from_bytes(codewords, "big") << (places - 8 * len(codewords))) ^ mask_bits
    return bytes(gather(grid + format(bits, f"0{places}b").encode("ascii"))), width


def _fast_matrix(text: str, mask: int) -> list:
    modules, width = _fast_grid(text, mask)
    return [[b == 49 for b in modules[r:r + width]] for r in range(0, len(modules), width)]


def qr_matrix(text: str, mask_pattern=None, version=None) -> list:
    """The module matrix of ``text`` (quiet zone included, True = dark): the hot path when
    it applies, qrcode's otherwise."""
    if fast_path_applies(text, mask_pattern, version):
        return _fast_matrix(text, mask_pattern)
    return _make_qr(text, mask_pattern=mask_pattern, version=version).get_matrix()


def png_1bit(width: int, height: int, rows: list, compression=None) -> bytes:
    """A 1-bit greyscale PNG of packed ``rows``, byte for byte as PyPNG's
    ``Writer(width, height, greyscale=True, bitdepth=1, compression=compression)
    .write_packed`` writes it (zlib's default level when ``compression`` is None)."""
    header, raw = _png_parts(width, height, rows)
    # zlib.compress makes the stream compressobj(level) makes (the same deflate parameters),
    # in a third of the time for a QR code's 9 KB of scanlines
    idat = zlib.compress(raw, -1 if compression is None else compression)
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", idat),
                     _chunk(b"IEND", b"")))


def _png_parts(width: int, height: int, rows: list) -> tuple:
    """(IHDR body, scanlines with their filter bytes) of a 1-bit greyscale image."""
    raw = b"\0" + b"\0".join(rows) if rows else b""  # filter type None before every row
    return struct.pack("!2I5B", width, height, 1, 0, 0, 0, 0), raw


def _chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack("!I", len(data)) + tag + data
            + struct.pack("!I", zlib.crc32(data, zlib.crc32(tag)) & 0xFFFFFFFF))


def png_pixels(data: bytes):
    """(IHDR fields, decompressed scanlines) of a PNG this module writes, or None when the
    bytes are not such a PNG: two images with the same pixels compare equal whatever zlib
    level wrote them."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    at, header, idat = 8, None, []
    try:
        while at < len(data):
            length = int.from_bytes(data[at:at + 4], "big")
            tag, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
            if len(body) != length or data[at + 8 + length:at + 12 + length] != struct.pack(
                    "!I", zlib.crc32(body, zlib.crc32(tag)) & 0xFFFFFFFF):
                return None
            if tag == b"IHDR":
                header = body
            elif tag == b"IDAT":
                idat.append(body)
            elif tag == b"IEND":
                return (header, zlib.decompress(b"".join(idat))) if header else None
            at += 12 + length
    except zlib.error:
        return None
    return None


def qr_png(text: str, mask_pattern=None, version=None, compression=None) -> bytes:
    """Return a black-on-white 1-bit PNG of the QR code of ``text``.

    The module matrix comes from ``qrcode`` (or the hot path); packed rows go to
    :func:`png_1bit`, ~10x faster than drawing the image pixel by pixel. ``mask_pattern`` (0..7)
    fixes the mask instead of scoring all eight, ``version`` the symbol size instead of
    searching for the smallest; ``compression`` is zlib's level (None: its default).
    """
    size, rows = _png_rows(text, mask_pattern, version)
    return png_1bit(size, size, rows, compression)


def qr_png_pixels(text: str, mask_pattern=None, version=None) -> tuple:
    """What :func:`png_pixels` reads from ``qr_png(text, mask_pattern, version)`` at any zlib
    level, without compressing: (IHDR body, scanlines)."""
    size, rows = _png_rows(text, mask_pattern, version)
    return _png_parts(size, size, rows)


def _png_rows(text: str, mask_pattern, version) -> tuple:
    """(size in pixels, packed rows) of the PNG of ``text``."""
    if PNG_BOX_SIZE == 8 and fast_path_applies(text, mask_pattern, version):
        modules, width = _fast_grid(text, mask_pattern)
        light = modules.translate(_LIGHT_BYTE)  # one byte per module: 8 pixels
        rows = [light[r:r + width] for r in range(0, len(light), width)]
        return width * 8, [row for row in rows for _ in "01234567"]
    matrix = qr_matrix(text, mask_pattern, version)  # includes the quiet zone
    return len(matrix) * PNG_BOX_SIZE, _packed_rows(matrix, PNG_BOX_SIZE)


def qr_svg(text: str, mask_pattern=None, version=None) -> bytes:
    """Return a standalone SVG (one path on a white background) of the QR code of ``text``."""
    from qrcode.image.svg import SvgPathFillImage

    if SVG_BOX_SIZE == 10 and fast_path_applies(text, mask_pattern, version):
        head, tail, squares = _svg_template()
        modules, _ = _fast_grid(text, mask_pattern)
        return head + b"".join(itertools.compress(squares, modules.translate(_BIT))) + tail
    return _render(text, SvgPathFillImage, SVG_BOX_SIZE, mask_pattern, version)


_SVG_TEMPLATE: list = []


def _svg_template() -> tuple:
    """qrcode's SVG document of a version 2 symbol around its path data: all of it but the
    path depends on the size only (a box of 10 is one user unit, so module (r, c) of the
    matrix with its quiet zone is the unit square at x = c, y = r)."""
    if not _SVG_TEMPLATE:
        from qrcode.image.svg import SvgPathFillImage

        sample = _render("A", SvgPathFillImage, SVG_BOX_SIZE, 0, _FAST_VERSION)
        start = sample.index(b' d="') + 4
        end = sample.index(b'"', start)
        width = 17 + 4 * _FAST_VERSION + 2 * BORDER
        squares = [f"M{c},{r}H{c + 1}V{r + 1}H{c}z".encode("ascii")
                   for r in range(width) for c in range(width)]
        _SVG_TEMPLATE.extend((sample[:start], sample[end:], squares))
    return tuple(_SVG_TEMPLATE)


_BIT = bytes(48) + b"\x00\x01" + bytes(206)  # b"0" -> 0, b"1" -> 1
