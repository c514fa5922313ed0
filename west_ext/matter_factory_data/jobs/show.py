"""``show``: a readable summary of factory data (or its full JSON form), and its findings.

The summary (default) gives the identity, the sizes, the certificates' subjects and
validity, and the findings; ``--json`` prints the JSON form. Secrets are masked in both
unless ``--show-secrets``: the DAC private key, the passcode and the test event trigger
enable key (a passcode or key never reaches the terminal by default).

Findings that make ``--strict`` fail (the device would reject or misread the data) are
printed as errors, the others as warnings. Any valid CBOR is rendered, bounded: tags,
simple values, undefined, floats, deep nesting (cut at the walker's depth).
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional

from ..errors import OPT
from ..typed import Request

#: Keys whose values are secrets: masked unless --show-secrets.
SECRET_KEYS = ("dac_key", "passcode", "enable_key")


class ShowRequest(Request):
    file: str = ""
    offset: Optional[int] = None
    size: Optional[int] = None
    pretty: bool = False
    json: bool = False
    show_secrets: bool = False
    strict: bool = False
    format: Optional[str] = None  # None: detected from the content (said on stderr)
    board: Optional[str] = None  # implies stm32-tlv
    records: bool = False
    dac_key_in_secure_storage: bool = False  # stm32-tlv: the key is in CKS, not in tag 5


def show_command(args: ShowRequest, ui) -> int:
    """0: shown (findings are warnings/errors on stderr); 1: ``strict`` and the device would
    reject or misread the data; InputError (exit 2): not readable factory data of the
    chosen or detected format, said once with its root cause (and the detected format)."""
    from ..errors import InputError, Message
    from ..formats import images

    check_offset_and_size(args.offset, args.size)
    name = args.format
    if name is None and (args.board is not None or args.dac_key_in_secure_storage):
        name = "stm32-tlv"
    if name is not None:
        return _show_in(args.replace(format=name), ui)
    name, why = images.detect_format(args.file, args.offset)
    said = f"read as {name}, since {why}; choose with ".replace("{", "{{").replace("}", "}}")
    try:
        return _show_in(args.replace(format=name), ui,
                        note=str(Message(f"{_braced(args.file)}: {said}{{0}}", ("format",))))
    except InputError as exc:  # one line: the root cause, then how the format was chosen
        raise InputError(Message(_braced(str(exc)) + f" ({said}{{0}})", ("format",))) from None


def _braced(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _show_in(args: ShowRequest, ui, note: Optional[str] = None) -> int:
    """``show`` in the format ``args.format``; ``note`` (how it was detected) is said once
    the data has been read."""
    from ..formats import images, nrf_cbor

    if args.format != "nrf-cbor" or args.board is not None or args.dac_key_in_secure_storage:
        return _show_other(args, ui, note)
    if args.records:
        from ..errors import InputError

        raise InputError(f"{OPT.records} lists the records of {OPT.format} stm32-tlv; this is "
                         "nRF CBOR")
    loaded = images.load(args.file, args.offset, read_any=True)
    reading = loaded.reading
    if reading is not None:
        problems = nrf_cbor.lint_image(reading, partition_size=args.size)
        used = reading.end + (1 if reading.terminated else 0)
    else:
        problems = nrf_cbor.lint(loaded.device_map, partition_size=args.size)
        used = len(nrf_cbor.encode_image(loaded.device_map))
    images.refuse_unreadable(loaded, None, problems)
    if args.size is not None and used > args.size:
        problems.append(nrf_cbor.Problem(nrf_cbor.ERROR, "", f"the data needs {used} bytes, "
                                         f"more than the partition's {args.size}"))
    if note:
        ui.note(note)
    if args.json or args.pretty:
        shown = masked_json(loaded.device_map, args.show_secrets)
        ui.info(json.dumps(shown, indent=2) if args.pretty else json.dumps(shown))
    else:
        for line in summary(loaded, problems, used=used, partition_size=args.size,
                            show_secrets=args.show_secrets):
            ui.info(line)
    return _report(args, problems, ui)


def _report(args: ShowRequest, problems: list, ui) -> int:
    from ..formats.base import ERROR

    for problem in problems:
        report = ui.error if problem.severity == ERROR else ui.warn
        report(f"{args.file}: {problem}")
    return 1 if args.strict and any(p.severity == ERROR for p in problems) else 0


def _show_other(args: ShowRequest, ui, note: Optional[str] = None) -> int:
    """``show`` of a format with records (stm32-tlv): the same summary as for nRF by default,
    ST's JSON with ``--json``, every record as scanned with ``--records``; secrets masked
    unless ``--show-secrets``. An image the reader cannot scan at all (cut off, no ST
    record) is refused with its root cause; one with bad records is summarised."""
    from ..formats import get_format, images
    from ..formats.stm32_records import tag_name

    fmt = get_format(args.format or "nrf-cbor", args.board,
                     key_in_secure_storage=args.dac_key_in_secure_storage)
    loaded = images.load(args.file, args.offset, fmt)
    records: Any = loaded.device_map  # stm32-tlv: the records as the device scans them
    problems = fmt.lint(records, partition_size=args.size)
    images.refuse_unreadable(loaded, fmt, problems)
    if note:
        ui.note(note)
    if args.records:
        for record in records.records:
            ui.info(f"{record.offset:6d}  tag {record.tag:<3d} {tag_name(record.tag):32} "
                    f"{record.declared:5d} bytes")
        end = records.end
        ui.info(f"{end:6d}  end marker" if end is not None else "        (no end marker)")
    elif args.json or args.pretty:
        data = fmt.to_json(records)
        if not args.show_secrets:
            data = {name: (_mask(value) if name in RECORD_SECRETS else value)
                    for name, value in data.items()}
        ui.info(json.dumps(data, indent=2) if args.pretty else json.dumps(data))
    else:
        model = images.LoadedData(fmt.model_values(records), loaded.source,
                                  loaded.offset, loaded.image)
        used = records.image_length
        for line in summary(model, problems, used=used, partition_size=args.size,
                            show_secrets=args.show_secrets, fmt=fmt):
            ui.info(line)
    return _report(args, problems, ui)


#: Records of ST's JSON whose values are secrets (the DAC private key, the passcode, the
#: test event trigger enable key): masked unless --show-secrets.
RECORD_SECRETS = ("DEVICE_ATTESTATION_PRIV_KEY", "SPAKE2_SETUP_PASSCODE", "TAG_ID_ENABLE_KEY")


def check_offset_and_size(offset: Optional[int], size: Optional[int]) -> None:
    """``--offset``/``--size`` of show and verify, each optional, checked like generate's."""
    from ..core.validate import partition_problem
    from ..errors import InputError, Subject

    found = partition_problem(0 if offset is None else offset, 1 if size is None else size)
    if found is None and offset is not None and size is not None:
        found = partition_problem(offset, size)
    if found:
        raise InputError.at(Subject(found[0]), found[1])


# --- JSON ----------------------------------------------------------------------------

def json_value(value: Any) -> Any:
    """Any decoded CBOR value as JSON (bytes as ``hex:``; tags, simple values, undefined and
    non-finite floats as ``<...>`` text). Depth is bounded by the walker."""
    import cbor2

    if isinstance(value, (bytes, bytearray)):
        return "hex:" + bytes(value).hex()
    if isinstance(value, float):
        return value if math.isfinite(value) else f"<{value}>"
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {_json_key(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, cbor2.CBORTag):
        return {f"<tag {value.tag}>": json_value(value.value)}
    if value is cbor2.undefined:
        return "<undefined>"
    if isinstance(value, cbor2.CBORSimpleValue):
        return f"<simple {value.value}>"
    return f"<{value!r}>"


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        return "hex:" + bytes(key).hex()
    return str(json_value(key))


def masked_json(device_map: dict, show_secrets: bool) -> dict:
    """The JSON form of ``show`` (the reference's, for the factory data keys), secrets
    masked unless ``show_secrets``."""
    from ..formats import nrf_cbor

    result = {}
    for key, value in device_map.items():
        known = nrf_cbor.device_key_for(key)
        if known in SECRET_KEYS and not show_secrets:
            result[_json_key(key)] = _mask(value)
            continue
        converted = nrf_cbor.device_map_to_json({key: value})
        for k, v in converted.items():
            result[k] = json_value(v)
    return result


def _mask(value: Any) -> str:
    size = f"{len(value)} bytes, " if isinstance(value, (bytes, bytearray)) else ""
    return f"<secret: {size}{OPT['show-secrets']} prints it>"


# --- summary -------------------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return "hex " + bytes(value).hex()
        return json.dumps(text, ensure_ascii=True)[1:-1] if not text.isprintable() else text
    if isinstance(value, str):
        return value if value.isprintable() else json.dumps(value)[1:-1]
    return repr(value)


def _id(value: Any) -> str:
    return f"0x{value:04X}" if isinstance(value, int) and not isinstance(value, bool) \
        else _text(value)


def summary(loaded, problems: list, *, used: int, partition_size: Optional[int],
            show_secrets: bool, fmt=None) -> list[str]:
    """The summary lines; ``loaded.device_map`` in the nRF device map's shape (other formats
    pass their ``model_values``)."""
    from ..formats import nrf_cbor

    reading = loaded.reading
    rows: list[tuple[str, str]] = [("file", loaded.source)]
    if fmt is not None and fmt.name != "nrf-cbor":
        board = getattr(getattr(fmt, "board", None), "name", None)
        rows.append(("format", fmt.name + (f", board {board}" if board else "")))
    size = f"{used} bytes of factory data"
    if reading is not None:
        size += f" ({reading.end} of CBOR{' + 0x00 terminator' if reading.terminated else ''})"
    elif fmt is not None and fmt.name != "nrf-cbor":
        size += " (records and end marker)"
    if loaded.image is not None:
        container = "HEX segment" if loaded.source.lower().endswith((".hex", ".ihex")) \
            else "file"
        size += f"; the {container} holds {len(loaded.image)} bytes"
    else:
        size = f"{used} bytes when encoded (read from JSON)"
    if partition_size is not None:
        size += f"; partition {partition_size} bytes, {max(partition_size - used, 0)} free"
    rows.append(("size", size))
    data: dict[Any, Any] = {}
    for key, value in loaded.device_map.items():
        known = nrf_cbor.device_key_for(key)
        data.setdefault(known if known == key else key, value)
    get = data.get
    nrf = fmt is None or fmt.name == "nrf-cbor"
    if nrf:  # other formats have no version record
        rows.append(("version", _text(get("version", "(missing)"))))
    rows += [("serial number", _text(get("sn", "(missing)"))),
             ("vendor", f"{_id(get('vendor_id'))}  {_text(get('vendor_name', ''))}"),
             ("product", f"{_id(get('product_id'))}  {_text(get('product_name', ''))}")]
    for key, label in (("product_label", "label"), ("part_number", "part number"),
                       ("product_url", "URL")):
        if key in data:
            rows.append((label, _text(data[key])))
    if nrf or "date" in data:
        rows.append(("manufacturing date", _text(get("date", "(missing)"))))
    hardware = f"{_text(get('hw_ver', '(missing)'))}  {_text(get('hw_ver_str', ''))}"
    rows.append(("hardware version", hardware.strip()))
    if "sw_ver_str" in data:
        rows.append(("software version", _text(data["sw_ver_str"])))
    disc = get("discriminator")
    rows.append(("discriminator", f"{disc} (0x{disc:03X})" if isinstance(disc, int)
                 and not isinstance(disc, bool) else _text(disc)))
    if "passcode" in data:
        rows.append(("passcode", _text(data["passcode"]) if show_secrets else
                     f"stored (hidden; {OPT['show-secrets']} prints it)"))
    else:
        rows.append(("passcode", "not stored"))
    rows.append(("SPAKE2+", f"{_text(get('spake2_it'))} iterations, salt "
                 f"{_length(get('spake2_salt'))}, verifier {_length(get('spake2_verifier'))}"))
    for key, label in (("rd_uid", "rotating device UID"), ("enable_key", "enable key")):
        if key in data:
            shown = data[key].hex() if show_secrets and isinstance(data[key], bytes) else \
                _length(data[key]) + ("" if key == "rd_uid" else " (hidden)")
            rows.append((label, shown))
    for key, label in (("product_finish", "finish"), ("primary_color", "color")):
        if key in data:
            rows.append((label, _enum_name(key, data[key])))
    date = get("date")
    for key, label in (("dac_cert", "DAC"), ("pai_cert", "PAI")):
        rows += _certificate_rows(label, get(key), date)
    key = get("dac_key")
    if key is None and fmt is not None and fmt.name != "nrf-cbor":
        rows.append(("DAC key", "not in the image" + (
            f" (public key {_length(get('dac_pub_key'))})" if "dac_pub_key" in data else "")))
    else:
        rows.append(("DAC key", (key.hex() if isinstance(key, bytes) else _text(key)) if
                     show_secrets else f"{_length(key)} (hidden; {OPT['show-secrets']} prints it)"))
    if "user" in data:
        user = data["user"]
        rows.append(("user data", f"{len(user)} keys: " + ", ".join(_text(k) for k in user)
                     if isinstance(user, dict) else _text(json_value(user))[:200]))
    unknown = [_text(k) for k in loaded.device_map if nrf_cbor.device_key_for(k) is None
               and (fmt is None or fmt.name == "nrf-cbor")]
    if unknown:
        rows.append(("other keys", ", ".join(unknown)))
    return _finish(rows, problems)


def _finish(rows: list, problems: list) -> list[str]:
    from ..formats import nrf_cbor

    errors = sum(p.severity == nrf_cbor.ERROR for p in problems)
    warnings = len(problems) - errors
    rows.append(("findings", "none" if not problems else
                 f"{errors} error(s), {warnings} warning(s) (listed on stderr)"))
    return [f"{label + ':':20} {value}" for label, value in rows]


def _length(value: Any) -> str:
    return f"{len(value)} bytes" if isinstance(value, (bytes, bytearray)) else "(missing)"


def _enum_name(key: str, value: Any) -> str:
    from ..core.model import PRODUCT_COLORS, PRODUCT_FINISHES

    table = PRODUCT_FINISHES if key == "product_finish" else PRODUCT_COLORS
    names = {v: k for k, v in table.items()}
    if isinstance(value, int) and not isinstance(value, bool) and value in names:
        return f"{value} ({names[value]})"
    return _text(value)


def _certificate_rows(label: str, der: Any, date: Any) -> list[tuple[str, str]]:
    from ..core import certview
    from ..errors import FactoryDataError

    if not isinstance(der, bytes):
        return [(label, "(missing)")]
    try:
        cert = certview.parse_certificate(der, source=label, profile=False)
        subject = certview.subject_text(cert)
    except FactoryDataError as exc:
        return [(label, f"unreadable ({exc})")]
    valid = f"{_when(cert.not_before)} .. {_when(cert.not_after)}"
    if isinstance(date, bytes) and len(date) == 10:
        stamp = date.decode("ascii", "replace").replace("-", "")
        if stamp + "235959" < cert.not_before:
            valid += " (not yet valid at the manufacturing date)"
        elif stamp + "000000" > cert.not_after:
            valid += " (expired at the manufacturing date)"
    return [(label, subject), (f"{label} validity", valid),
            (f"{label} serial", f"{cert.serial_number:X}")]


def _when(stamp: str) -> str:
    if stamp == "99991231235959":
        return "no expiry (9999-12-31)"
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:]}Z"
