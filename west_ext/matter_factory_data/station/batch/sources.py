"""Per-device values from --csv: one row per device, each cell validated like its option."""

from __future__ import annotations

import csv
from typing import Any

from ...core import series
from ...errors import OPT, InputError
from .layout import CSV_COLUMNS


def read_csv(path: str) -> list:
    """Per-device values, one row per device, each validated like an option."""
    from ...core import validate
    from ...files.inputs import read_file

    raw = read_file(path, OPT.csv)
    try:
        text = raw.decode("utf-8-sig")  # a BOM (Excel) is dropped
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{OPT.csv} {path}: line {line} is not UTF-8 text (byte "
                         f"0x{raw[exc.start]:02x} at column {column}, byte at position "
                         f"{exc.start})") from None
    try:
        return _read_rows(path, text, validate)
    except csv.Error as exc:
        raise InputError(f"{OPT.csv} {path}: not a valid CSV file ({exc}); quote a value that "
                         "holds a comma or a quote: \"like \"\"this\"\", here\"") from None


def _read_rows(path: str, text: str, validate) -> list:
    """Rows of RFC 4180 CSV (CRLF or LF lines, quoted fields); a quoted newline reaches the
    cell's check (and is refused as a control character), nothing is changed silently."""
    import io

    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    columns = reader.fieldnames or []
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(f"{OPT.csv} {path}: column {repeated[0]!r} appears twice in the header; "
                         "keep one")
    if not columns or unknown:
        raise InputError(f"{OPT.csv} {path}: unknown column(s) {', '.join(map(repr, unknown))} "
                         f"(accepted: {', '.join(CSV_COLUMNS)})" if unknown else
                         f"{OPT.csv} {path}: no header row (accepted columns: "
                         f"{', '.join(CSV_COLUMNS)})")
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"{OPT.csv} {path}: line {line}: expected {len(columns)} values")
        rows.append(_csv_given(row, f"{OPT.csv} {path}: line {reader.line_num}", validate))
    if not rows:
        raise InputError(f"{OPT.csv} {path}: no device rows after the header")
    _check_csv_unique(rows, path)
    return rows


def _check_csv_unique(rows: list, path: str) -> None:
    """Two rows giving the same identity are refused before anything is made."""
    checks = (("sn", lambda g: g.sn), ("rd_uid", lambda g: g.rd_uid),
              ("passcode and discriminator", lambda g: (g.passcode, g.discriminator)
               if g.passcode is not None and g.discriminator is not None else None))
    for what, value_of in checks:
        repeats = series.duplicates((i, value_of(g)) for i, g in enumerate(rows, start=2)
                                    if value_of(g) is not None)
        for _value, lines in repeats.items():
            raise InputError(f"{OPT.csv} {path}: lines {', '.join(map(str, lines[:5]))} give the "
                             f"same {what}; every device needs its own")


def _csv_given(row: dict, where: str, validate) -> series.Given:
    values: dict = {}
    for column, text in row.items():
        label = f"{where}: {column}"
        if text.strip() == "":
            raise InputError(f"{label}: empty (a column gives the value of every device; "
                             "leave the column out to have the values generated)")
        if text != text.strip(" "):
            raise InputError(f"{label}: {validate.shown(text)} has spaces around the value "
                             "(values are used exactly as written: remove them)")
        if column in ("passcode", "discriminator"):
            # Spreadsheets keep leading zeros (00012345): decimal, where int(x, 0) refuses.
            value: Any = validate.parse_decimal(text, label)
        elif column == "spake2_salt":
            value = validate.parse_base64(text, label)
        elif column == "rd_uid":
            value = validate.parse_hex(text, label)
        else:
            value = text
        validate.require(column, value, label)
        if column == "sn":
            problem = validate.formula_problem(text)
            if problem:
                raise InputError(f"{label}: {problem}")
        values[column] = value
    return series.Given(**values)
