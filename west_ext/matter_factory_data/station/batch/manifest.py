"""manifest.csv: read back on resume (a torn last row is cut), appended one row at a time."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ...errors import InputError


class Manifest:
    """The rows of manifest.csv: read back on resume, appended one complete row at a time."""

    def __init__(self, path: Path, columns: list) -> None:
        self.path, self.columns = path, columns

    def read(self) -> Iterator[dict]:
        """Rows as dicts; a torn last line (a kill mid-write) is cut off the file."""
        for _, row in self.numbered():
            yield row

    def numbered(self) -> Iterator[tuple[int, dict]]:
        """``(line number, row)``; a damaged file (not UTF-8, a cell too many or too few, a
        header of another batch) is one InputError naming the file and the line."""
        from ...files.inputs import csv_lines
        from ...files.outputs import cut_torn_line

        raw = cut_torn_line(self.path)
        first = raw.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        if first.split(",") != self.columns:
            raise InputError(f"{self.path}: line 1: the header is not "
                             f"{','.join(self.columns)}; restore the manifest of this batch")
        yield from csv_lines(self.path, "batch manifest")

    def open_for_append(self):
        return open(self.path, "a", encoding="utf-8", newline="")


def write_rows(manifest: Manifest, columns: list, rows: list) -> None:
    with manifest.open_for_append() as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore")
        for row in rows:
            writer.writerow(row)
