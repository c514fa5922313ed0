"""The STM32 (X-CUBE-MATTER) factory data image behind the format interface (``stm32-tlv``).

The format lives in three modules along its seams: :mod:`.stm32_records` (the wire layout,
the tag table, records <-> bytes as the device reader scans them), :mod:`.stm32_json`
(ST's JSON form, genFactoryData's input, <-> records) and :mod:`.stm32_lint` (the device
reader's view plus the board's rules, :mod:`.stm32_boards`). This module ties them to
:class:`base.ImageFormat` and re-exports their public names.
"""

from __future__ import annotations

from .base import ImageFormat
from .stm32_boards import Board, get_board
from .stm32_json import (
    device_map_to_json,
    json_text,
    json_to_device_map,
    load_json_text,
    model_values,
    values_to_json,
)
from .stm32_lint import lint
from .stm32_records import (
    BY_NAME,
    BY_NUMBER,
    END_MARKER,
    HEADER,
    MAGIC,
    MAX_RECORD,
    PROVISIONED_TAGS,
    TAGS,
    Record,
    Records,
    Tag,
    decode_image,
    encode_image,
    tag_name,
    tag_number,
)

__all__ = ["BY_NAME", "BY_NUMBER", "END_MARKER", "HEADER", "MAGIC", "MAX_RECORD",
           "PROVISIONED_TAGS", "TAGS", "Record", "Records", "Stm32TlvFormat", "Tag",
           "decode_image", "device_map_to_json", "encode_image", "json_text",
           "json_to_device_map", "lint", "load_json_text", "model_values", "tag_name",
           "tag_number", "values_to_json"]


class Stm32TlvFormat(ImageFormat):
    """``stm32-tlv``: ST's X-CUBE-MATTER format; ``board`` adds that board's rules."""

    name = "stm32-tlv"

    def __init__(self, board: Board | str | None = None, *,
                 key_in_secure_storage: bool = False) -> None:
        self.board = get_board(board) if isinstance(board, str) else board
        #: The DAC key lives in the device's secure key storage (STM32WB: CKS), not tag 5.
        self.key_in_secure_storage = key_in_secure_storage

    def from_json(self, obj, source):
        return json_to_device_map(obj, source)

    def to_json(self, device_map):
        return device_map_to_json(device_map)

    def encode(self, device_map):
        return encode_image(device_map)

    def decode(self, image, source):
        return decode_image(image, source)

    def lint(self, device_map, *, partition_size=None):
        return lint(device_map, partition_size=partition_size, board=self.board,
                    key_in_secure_storage=self.key_in_secure_storage)

    def json_from_values(self, values):
        return values_to_json(values)

    def json_text(self, obj):
        return json_text(obj)

    def model_values(self, device_map):
        return model_values(device_map)
