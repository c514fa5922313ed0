"""Reading factory data back from a ``.hex``, ``.bin`` or ``.json`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import FactoryDataError, InputError
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


# --- which format: nRF CBOR or STM32 TLV ------------------------------------------------

#: The two formats as a user chooses them (named in every "cannot tell" message); {0} is
#: the format option, {1} the board option.
CHOOSE = ("give {0} nrf-cbor (nRF Connect SDK) or {0} stm32-tlv with {1} wb5mm-dk or wba65 "
          "(ST X-CUBE-MATTER)")


def _cannot_tell(text: str) -> FactoryDataError:
    return InputError.naming(text.replace("{", "{{").replace("}", "}}") + "; " + CHOOSE,
                             "format", "board")


def detect_format(path: str, offset: Optional[int] = None) -> tuple[str, str]:
    """(format name, why) for ``path`` from its content: a CBOR map at byte 0 is nRF, an ST
    tag as the first u32 is STM32, a JSON object's keys tell which JSON form it is.
    InputError naming both formats when the content fits neither."""
    raw = read_file(path, "input")
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return _json_format(raw, path)
    data = _hex_segment(raw, path, offset)[1] if suffix in (".hex", ".ihex") else raw
    if not data:
        raise InputError(f"{path}: the image is empty")
    if data.count(0xFF) == len(data):
        raise InputError(f"{path}: the image is erased flash (all 0xFF), not factory data")
    from .stm32_records import BY_NUMBER, END_MARKER, tag_name

    if data[:4] == END_MARKER:  # before the map test: 0xAC is also a CBOR map head
        return "stm32-tlv", "it starts with the STM32 end marker AC AC AC AC"
    first = data[0]
    if 0xA0 <= first <= 0xBB or first == 0xBF:
        return "nrf-cbor", "it starts with a CBOR map"
    tag = int.from_bytes(data[:4], "little") if len(data) >= 4 else None
    if tag in BY_NUMBER:
        return "stm32-tlv", f"it starts with an STM32 TLV record, tag {tag} {tag_name(tag)}"
    raise _cannot_tell(f"{path}: cannot tell the format: {_first_bytes(data)} start neither a "
                       "CBOR map (nRF) nor an STM32 TLV record (an ST tag as a u32)")


def _first_bytes(data: bytes) -> str:
    from .cbor_items import CborError, read_head, with_article

    shown = data[:4].hex(" ")
    try:
        head = read_head(data, 0, len(data))
    except CborError:
        return f"the first bytes ({shown})"
    return f"the first bytes ({shown}; as CBOR {with_article(head.describe())})"


def _json_format(raw: bytes, path: str) -> tuple[str, str]:
    from ..files.inputs import parse_json
    from .stm32_records import BY_NAME

    obj = parse_json(raw, path)
    if isinstance(obj, dict) and obj:
        if all(isinstance(k, str) and k in BY_NAME for k in obj):
            return "stm32-tlv", "its keys are ST tag names (genFactoryData's JSON)"
        if not any(k in BY_NAME for k in obj):
            return "nrf-cbor", "its keys are not ST tag names (the nRF JSON form)"
    raise _cannot_tell(f"{path}: cannot tell the format of this JSON: it is not an object "
                       "keyed either by the nRF factory data keys or by ST tag names")


# --- readable factory data at all? ------------------------------------------------------

def refuse_unreadable(loaded: LoadedData, fmt, problems: list) -> None:
    """InputError (one line: the root cause, and the count of what is missing because of it)
    when ``loaded`` is not readable factory data of ``fmt`` (None: nRF CBOR): not a map, a
    map cut off or without one factory data key; an STM32 scan cut off inside a record or
    reaching no ST record. Data that is readable but bad is left to the findings."""
    missing = sum(1 for p in problems if "is missing" in p.message)
    if fmt is not None and fmt.name != "nrf-cbor":
        from .stm32_records import not_readable

        records: Any = loaded.device_map  # stm32-tlv: the records as the device scans them
        why = not_readable(records) if loaded.image is not None else None
        if why is not None:
            cut = getattr(records, "cut", None) is not None
            raise InputError(f"{loaded.source}: not readable STM32 factory data: {why}"
                             + (f"; {missing} required record(s) missing after the cut"
                                if cut else ""))
        return
    reading = loaded.reading
    where = f"{loaded.source}: not readable nRF factory data"
    if reading is not None and not reading.is_map:
        raise InputError(f"{where}: {reading.not_a_map}")
    if reading is not None and reading.cut is not None:
        count = reading.map_head.argument if reading.map_head is not None else None
        read = f"{len(reading.entries)} of its {count} entries" if count is not None else \
            f"{len(reading.entries)} entries"
        raise InputError(f"{where}: the CBOR map is cut off or malformed after {read} "
                         f"({reading.cut}); {missing} mandatory key(s) missing after the cut")
    if not any(nrf_cbor.device_key_for(key) is not None for key in loaded.device_map):
        what = "empty" if not loaded.device_map else \
            f"{len(loaded.device_map)} entries, none of them a factory data key"
        raise InputError(f"{where}: the map holds no factory data key ({what})")
