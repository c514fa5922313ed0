"""``labels LOT``: the print labels of a lot made by ``batch`` — per device the QR code as PNG
and/or SVG at a size in millimetres and a printer DPI (core/labels.py), and ``labels.csv``
(index, serial number, manual code, QR payload, the image files).

Every manifest row is checked before anything is written: the QR payload must decode
(``MT:``), the manual code must be the one of that payload, the VID, PID and discriminator of
the row those of the payload, the serial number a safe CSV cell. All files are written
together (files/outputs.OutputSet) and 0600: the QR payload and manual code hold the device's
setup passcode. Nothing of a label is printed to the terminal.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Optional

from ..core import labels as core_labels
from ..errors import OPT, InputError, Subject
from ..typed import Request

#: The labels folder of a lot (default of -o; where ``batch`` writes them).
LABELS_DIR = "labels"
LABELS_CSV = "labels.csv"
CSV_COLUMNS = ("index", "sn", "manual_code", "qr_payload", "png", "svg")


class LabelsRequest(Request):
    lot: str = ""
    size_mm: str = ""
    dpi: int = 0
    format: str = "png,svg"
    output: Optional[str] = None
    overwrite: bool = False


class LabelOptions:
    """Validated label options (what ``batch`` checks before it starts)."""

    def __init__(self, size_mm: str, dpi: int, formats: str, *, size_subject: Subject,
                 dpi_subject: Subject, format_subject: Subject) -> None:
        self.size_mm = core_labels.parse_size_mm(size_mm, size_subject)
        self.formats = core_labels.parse_formats(formats, format_subject)
        self.dpi = dpi
        self.size_subject, self.dpi_subject = size_subject, dpi_subject
        # an MT: payload is always a version 2 symbol: refuse a size or DPI now, not per row
        core_labels.geometry(core_labels.MT_PAYLOAD_MODULES, self.size_mm, dpi,
                             size_subject=size_subject, dpi_subject=dpi_subject)

    def describe(self) -> str:
        """The printed size of an ``MT:`` label, e.g. '33 modules of 6 dots (0.508 mm): 16.76
        mm at 300 dpi'."""
        geo = core_labels.geometry(core_labels.MT_PAYLOAD_MODULES, self.size_mm, self.dpi)
        return (f"{geo.modules} modules of {geo.dots_per_module} dot"
                f"{'s' if geo.dots_per_module != 1 else ''} ({geo.module_mm:.3f} mm): "
                f"{geo.size_mm:.2f} mm at {self.dpi} dpi")

    def render(self, payload: str) -> dict:
        return core_labels.render(payload, self.size_mm, self.dpi, self.formats,
                                  size_subject=self.size_subject, dpi_subject=self.dpi_subject)


def labels_command(args: LabelsRequest, ui) -> int:
    options = LabelOptions(args.size_mm, args.dpi, args.format, size_subject=OPT.size_mm,
                           dpi_subject=OPT.dpi, format_subject=OPT.format)
    lot = Path(args.lot)
    _check_lot(lot)
    import os

    from .batch.series_dir import lock_series, unlock_series

    # no batch run may add rows while we read them; a read-only lot (an archive) has none
    lock = lock_series(lot) if os.access(lot, os.W_OK) else None
    try:
        out = Path(args.output) if args.output else lot / LABELS_DIR
        count = write_labels(lot, out, options, overwrite=args.overwrite)
    finally:
        unlock_series(lot, lock)
    ui.info(f"{out}: labels of {count} device{'s' if count != 1 else ''} "
            f"({', '.join(options.formats)}, {LABELS_CSV}; files 0600: they hold the passcodes); "
            f"{options.describe()}")
    return 0


def _check_lot(lot: Path) -> None:
    from .batch.layout import MANIFEST, STATE

    if not lot.is_dir():
        raise InputError(f"{lot}: no such lot directory (give the -o directory of a batch)")
    for name in (STATE, MANIFEST):
        if not (lot / name).is_file():
            raise InputError(f"{lot}: not a batch directory (no {name})")


def write_labels(lot: Path, out: Path, options: LabelOptions, *, overwrite: bool) -> int:
    """Render every device's label and write them with labels.csv as one set."""
    from ..files.outputs import OutputSet

    outputs = OutputSet(overwrite=overwrite)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in _rows(lot):
        index = int(row["index"])
        images = options.render(row["qr_payload"])
        names = {}
        for kind in core_labels.LABEL_FORMATS:
            if kind in images:
                names[kind] = f"{index:06d}.{kind}"
                outputs.add(out / names[kind], images[kind], secret=True,
                            what=f"{kind.upper()} label of device {index}")
        writer.writerow([index, row["sn"], row["manual_code"], row["qr_payload"],
                         names.get("png", ""), names.get("svg", "")])
        count += 1
    if not count:
        raise InputError(f"{lot}: the lot has no device yet (its manifest has no row)")
    outputs.add(out / LABELS_CSV, table.getvalue().encode("utf-8"), secret=True,
                what="label table")
    outputs.commit()
    return count


def _rows(lot: Path):
    """Every manifest row, checked as a label's source."""
    from ..core import onboarding
    from ..core.validate import formula_problem, text_problem
    from ..errors import FactoryDataError
    from ..files.inputs import csv_lines
    from .batch.layout import MANIFEST
    from .batch.resume import check_row

    seen: set = set()
    for line, row in csv_lines(lot / MANIFEST, "batch manifest"):
        where = f"batch manifest {lot / MANIFEST}: line {line}"
        if None in row or any(v is None for v in row.values()) or not {
                "sn", "qr_payload", "manual_code", "vendor_id", "product_id",
                "discriminator"} <= set(row):
            raise InputError(f"{where}: the row is incomplete; rerun the batch command to "
                             "finish the lot")
        index = check_row(row, where)
        if index in seen:
            raise InputError(f"{where}: device {index} is listed twice; run verify on the lot")
        seen.add(index)
        sn = row["sn"]
        problem = text_problem(sn) or formula_problem(sn)
        if problem:
            raise InputError(f"{where}: cell 'sn' {problem}; run verify on the lot")
        try:
            payload = onboarding.parse_qr_code(row["qr_payload"])
        except FactoryDataError as exc:
            raise InputError(f"{where}: cell 'qr_payload' is not a Matter QR payload ({exc}); "
                             "run verify on the lot") from None
        expected = {"qr_payload": onboarding.qr_code(payload),
                    "manual_code": onboarding.manual_code(payload),
                    "vendor_id": f"0x{payload.vendor_id:04X}",
                    "product_id": f"0x{payload.product_id:04X}",
                    "discriminator": str(payload.discriminator)}
        for key, value in expected.items():
            if row[key] != value:  # the cell itself is not shown: it may hold the passcode
                raise InputError(f"{where}: cell {key!r} does not agree with the row's QR "
                                 "payload; run verify on the lot")
        yield row
