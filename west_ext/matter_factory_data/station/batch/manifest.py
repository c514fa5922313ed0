"""manifest.csv: read back on resume (a torn last row is cut), appended one row at a time."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ...errors import OutputError


class Manifest:
    """The rows of manifest.csv: read back on resume, appended one complete row at a time."""

    def __init__(self, path: Path, columns: list) -> None:
        self.path, self.columns = path, columns

    def read(self) -> Iterator[dict]:
        """Rows as dicts; a torn last line (a kill mid-write) is cut off the file."""
        from ...files.outputs import cut_torn_line

        raw = cut_torn_line(self.path)
        lines = raw.decode("utf-8").splitlines()
        if not lines or lines[0].split(",") != self.columns:
            raise OutputError(f"{self.path}: the header is not {','.join(self.columns)}; "
                              "restore the manifest of this batch")
        for number, row in enumerate(csv.DictReader(lines), start=2):
            if None in row or any(v is None for v in row.values()):
                raise OutputError(f"{self.path}: line {number} is malformed; restore the "
                                  "manifest of this batch")
            yield row

    def open_for_append(self):
        return open(self.path, "a", encoding="utf-8", newline="")


def write_rows(manifest: Manifest, columns: list, rows: list) -> None:
    with manifest.open_for_append() as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore")
        for row in rows:
            writer.writerow(row)
