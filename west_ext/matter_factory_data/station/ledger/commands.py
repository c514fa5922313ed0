"""``ledger stats|export|import``: the command bodies."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Optional

from ...errors import InputError, OutputError, Subject
from ...typed import Request
from .ledger import EXPORT_COLUMNS, Claim, new_token, open_ledger

#: How many claims never reported ``stats`` lists (the JSON form lists them all).
LISTED = 50


class LedgerRequest(Request):
    action: str = "stats"
    batch_dir: Optional[str] = None
    ledger: Optional[str] = None
    format: Optional[str] = None
    output: Optional[str] = None
    station: Optional[str] = None
    sn: Optional[str] = None
    dac_serial: Optional[str] = None
    state: Optional[str] = None
    image_sha256: Optional[str] = None


def ledger_command(args: LedgerRequest, ui) -> int:
    if not args.ledger:
        raise InputError.at(Subject("ledger"), "missing: the ledger URL")
    args = args.replace(ledger=str(args.ledger))
    if args.action != "import" and args.batch_dir is not None:
        raise InputError(f"ledger {args.action} takes no directory (only ledger import does)")
    if args.action == "stats":
        return _stats(args, ui)
    if args.action == "export":
        return _export(args, ui)
    if args.action == "import":
        return _import(args, ui)
    if args.action == "report":
        return _report(args, ui)
    raise InputError(f"ledger: unknown action {args.action!r} (accepted: stats, export, "
                     "import, report)")


def _stats(args: LedgerRequest, ui) -> int:
    if args.format not in (None, "json"):
        raise InputError.at(Subject("format"), f"{args.format}: ledger stats prints text or "
                                               "json")
    with open_ledger(str(args.ledger), create=False) as ledger:
        stats = ledger.stats()
    if args.format == "json":
        ui.info(json.dumps(stats, indent=2))
        return 0
    states = stats["states"]
    ui.info(f"ledger {args.ledger}: schema {stats['schema_version']}, {stats['lots']} lot(s), "
            f"{stats['total']} identities")
    for state, count in states.items():
        ui.info(f"  {state:<9} {count}")
    unreported = stats["unreported"]
    ui.info(f"claims never reported: {len(unreported)}")
    for entry in unreported[:LISTED]:
        ui.info(f"  {_cell(entry['sn'])}  dac_serial={entry['dac_serial']}  {entry['state']}  "
                f"station={_cell(entry['station'])}  claimed {entry['claimed_at']}  "
                f"lot={_cell(entry['lot'])}")
    if len(unreported) > LISTED:
        ui.info(f"  ... and {len(unreported) - LISTED} more (the json format lists them all)")
    return 0


def _export(args: LedgerRequest, ui) -> int:
    if args.format not in ("csv", "json"):
        raise InputError.at(Subject("format"), "ledger export needs csv or json")
    target = Path(args.output) if args.output else None
    if target is not None and target.exists():
        raise OutputError(f"{target}: exists; give a new file (an export is never "
                          "overwritten)")
    with open_ledger(str(args.ledger), create=False) as ledger:
        rows = ledger.export_rows()
    if args.format == "json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in EXPORT_COLUMNS])
        text = buffer.getvalue()
    if target is None:
        ui.out.write(text)
        ui.out.flush()
        return 0
    from ...files.outputs import OutputSet

    outputs = OutputSet()
    outputs.add(target, text.encode("utf-8"))
    outputs.commit()
    ui.info(f"{len(rows)} DAC record(s) written to {target}")
    return 0


def _cell(value) -> str:
    """A CSV/terminal cell: never a formula, never a control character."""
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    from ...core.validate import FORMULA_STARTS

    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text


def _report(args: LedgerRequest, ui) -> int:
    import re

    from .batch import default_station
    from .errors import LedgerError
    from .url import check_station

    if (args.sn is None) == (args.dac_serial is None):
        raise InputError("ledger report: give the device's serial number or its DAC serial")
    if args.dac_serial is not None and not re.fullmatch(r"[0-9a-fA-F]{1,40}", args.dac_serial):
        raise InputError.at(Subject("dac_serial"), f"{_cell(args.dac_serial)}: not a DAC serial "
                                                   "(accepted: 1..40 hex digits)")
    if args.image_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}",
                                                          args.image_sha256):
        raise InputError.at(Subject("image_sha256"), f"{_cell(args.image_sha256)}: not a "
                                                     "SHA-256 (accepted: 64 hex digits)")
    station = check_station(args.station) or default_station()
    with open_ledger(str(args.ledger), create=False) as ledger:
        serial = (format(int(args.dac_serial, 16), "x") if args.dac_serial is not None
                  else ledger.dac_serial_of(str(args.sn)))
        if serial is None:
            raise LedgerError(f"ledger {args.ledger}: no device with serial number "
                              f"{_cell(args.sn)!r}")
        ledger.report(serial, str(args.state), station,
                      image_sha256=args.image_sha256.lower() if args.image_sha256 else None)
    ui.info(f"{_cell(args.sn or serial)}: {args.state} (DAC serial {serial})")
    return 0


def _import(args: LedgerRequest, ui) -> int:
    from .batch import default_station, lot_name

    if not args.batch_dir:
        raise InputError("ledger import needs the batch directory (BATCHDIR)")
    if args.format is not None or args.output is not None:
        raise InputError("ledger import takes no export options")
    directory = Path(args.batch_dir)
    devices = list(_batch_devices(directory))
    station = args.station or default_station()
    with open_ledger(str(args.ledger)) as ledger:
        lot_id = ledger.lot(lot_name(directory), "batch", station)
        claims = [Claim(token=new_token(), state="issued", **device) for device in devices]
        imported = ledger.import_claims(lot_id, station, claims, where=str(directory))
    skipped = len(devices) - imported
    ui.info(f"imported {imported} device(s) of {directory} into {args.ledger}"
            + (f" ({skipped} already there)" if skipped else ""))
    return 0


def _batch_devices(directory: Path):
    """Every device of a batch directory as claim values (the manifest, checked against
    each device's image)."""
    import hashlib

    from ...core import certs, onboarding
    from ...formats import get_format
    from ..batch.device import decoded_values
    from ..batch.layout import MANIFEST, STATE

    state_path = directory / STATE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        params = state["params"]
        pai_sha256 = params["pai_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{directory}: not a batch directory ({STATE}: "
                         f"{getattr(exc, 'strerror', None) or exc})") from None
    fmt = get_format(params.get("format", "nrf-cbor"), params.get("board"))
    try:
        with open(directory / MANIFEST, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{directory / MANIFEST}: unreadable ({exc})") from None
    for number, row in enumerate(rows, start=2):
        where = f"{directory / MANIFEST} line {number}"
        try:
            image_path = directory / row["image"]
            image = image_path.read_bytes()
            if hashlib.sha256(image).hexdigest() != row["image_sha256"]:
                raise InputError(f"{where}: {row['image']} does not match its image_sha256")
            values = decoded_values(image, str(image_path), fmt)
            payload = onboarding.parse_qr_code(row["qr_payload"])
            dac = certs.load_certificate(bytes(values["dac_cert"]), source=f"{where} DAC")
        except InputError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{where}: unreadable device ({exc})") from None
        rd_uid = values.get("rd_uid")
        yield {"idx": int(row["index"]), "sn": row["sn"],
               "dac_serial": f"{dac.serial_number:x}", "pai_sha256": pai_sha256,
               "discriminator": payload.discriminator, "passcode": payload.passcode,
               "rd_uid": bytes(rd_uid).hex() if rd_uid is not None else None,
               "pubkey_sha256": certs.public_key_sha256(dac)}
