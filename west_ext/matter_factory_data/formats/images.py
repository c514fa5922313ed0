"""Reading factory data back from a ``.hex``, ``.bin`` or ``.json`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError
from ..files.inputs import read_file
from . import hexfile, nrf_cbor


@dataclass(frozen=True)
class LoadedData:
    device_map: dict  # CBOR types: bytes for bstr, str for tstr
    source: str
    offset: Optional[int] = None  # flash address, for .hex
    image: Optional[bytes] = None  # the bytes read from flash/bin (None for JSON)
    reading: Optional[nrf_cbor.ImageReading] = None  # item by item (None for JSON)


def load(path: str, offset: Optional[int] = None, fmt=None, *,
         read_any: bool = False) -> LoadedData:
    """Decode ``path`` by its suffix: .json (JSON form), .hex (Intel HEX), anything else binary.
    ``fmt`` is the image format (default nRF CBOR).

    An nRF image is read item by item (``reading``); its device map holds the entries read.
    Unless ``read_any``, an image whose byte 0 is not a map is refused (InputError); with
    it, any CBOR item there is read (for ``show``)."""
    if fmt is not None and fmt.name != "nrf-cbor":
        return _load_in(fmt, path, offset)
    raw = read_file(path, "input")
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        from ..files.inputs import parse_json

        obj = parse_json(raw, path)
        return LoadedData(nrf_cbor.json_to_device_map(obj, path), path)
    if suffix in (".hex", ".ihex"):
        address, data = _hex_segment(raw, path, offset)
        return _image(data, path, address, read_any)
    return _image(raw, path, offset, read_any)


def _hex_segment(raw: bytes, path: str, offset: Optional[int]) -> tuple:
    """(address, bytes) of the one segment of an Intel HEX file (at ``offset`` when given)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not an Intel HEX file (non-ASCII content)") from None
    return hexfile.segment_at(hexfile.from_hex_text(text, path), offset, path)


def _image(data: bytes, path: str, address: Optional[int], read_any: bool) -> LoadedData:
    reading = nrf_cbor.read_image(data, path)
    if not reading.is_map and not read_any:
        raise InputError(f"{path}: {reading.not_a_map}")
    return LoadedData(reading.device_map, path, address, data, reading)


def _load_in(fmt, path: str, offset: Optional[int]) -> LoadedData:
    """Any other format: its JSON reader (``load_json_text``) for .json, else its decoder."""
    import sys

    raw = read_file(path, "input")
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        module = sys.modules[type(fmt).__module__]  # the format's own module, loaded
        return LoadedData(module.load_json_text(raw, path), path)
    if suffix in (".hex", ".ihex"):
        address, data = _hex_segment(raw, path, offset)
        return LoadedData(fmt.decode(data, path), path, address, data)
    return LoadedData(fmt.decode(raw, path), path, offset, raw)
