"""Reading input files: a failure names the option (or key) and the file, on one line."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

def read_file(path: "str | Path", option: str) -> bytes:
    """Read an input file; a failure names the option and the file."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read the file ({exc.strerror})") from None

