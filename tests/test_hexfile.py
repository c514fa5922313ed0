"""The hand-written Intel HEX writer against intelhex (the library it replaces on the hot path)."""

from __future__ import annotations

import io
import random

import pytest
from intelhex import IntelHex

from matter_factory_data.formats.hexfile import from_hex_text, to_hex_text


def _library(offset: int, data: bytes) -> str:
    image = IntelHex()
    image.frombytes(data, offset=offset)
    out = io.StringIO()
    image.write_hex_file(out, write_start_addr=True)
    return out.getvalue()


def _cases(count: int):
    rng = random.Random(17)
    edges = [0, 1, 0xFFF0, 0xFFFF, 0x10000, 0x1FFF7, 0xF7000, 0xFFFFFF00, 0xFFFFFFF0]
    for case in range(count):
        size = rng.choice([0, 1, 15, 16, 17, rng.randrange(1, 200), rng.randrange(200, 70000)
                           if case % 25 == 0 else rng.randrange(200, 4096)])
        offset = rng.choice(edges + [rng.randrange(0, 0x100000), rng.randrange(0, 1 << 32)])
        offset = min(offset, (1 << 32) - size)
        if case % 7 == 0:  # straddle a 64 KiB boundary at a random distance
            offset = max(((offset >> 16) + 1 << 16) - rng.randrange(0, 40), 0)
            offset = min(offset, (1 << 32) - size)
        yield offset, rng.randbytes(size)


@pytest.mark.parametrize("offset, data", list(_cases(400)))
def test_writer_is_byte_identical_to_intelhex(offset: int, data: bytes) -> None:
    assert to_hex_text(offset, data) == _library(offset, data)


def test_writer_round_trips_through_the_reader() -> None:
    data = bytes(range(256)) * 5
    assert from_hex_text(to_hex_text(0xFFF8, data)) == [(0xFFF8, data)]


def test_writer_refuses_data_beyond_32_bits() -> None:
    from matter_factory_data.errors import InputError

    with pytest.raises(InputError, match="32-bit"):
        to_hex_text(0xFFFFFFF0, bytes(32))


def test_cases_cover_the_lane_sums_and_the_per_record_sums() -> None:
    """Both checksum paths of to_hex_text are compared with intelhex above: the lane sums
    (records on the 16-byte grid of the data) and per-record sums (a record cut at a 64 KiB
    boundary off that grid)."""
    from matter_factory_data.formats.hexfile import _lane_plan

    lanes = sum(_lane_plan(offset, len(data)) is not None for offset, data in _cases(400))
    assert 100 <= lanes <= 390, lanes
