"""All-or-nothing writing of a set of output files.

Everything is computed and validated before :meth:`OutputSet.commit` runs. Commit
writes every file to a temporary file in its target directory, then renames them
into place, so a reader never sees a half-written file and a failure leaves the
previous outputs untouched. Secret files are created with mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..errors import OutputError


class OutputFile(NamedTuple):
    path: Path
    data: bytes
    secret: bool = False
    what: str = ""


class OutputSet:
    """Files to be written together; ``overwrite`` allows replacing existing files."""

    def __init__(self, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self.files: list[OutputFile] = []

    def add(self, path: "str | os.PathLike[str]", data: bytes, *, secret: bool = False,
            what: str = "") -> Path:
        target = Path(path)
        if any(f.path == target for f in self.files):
            raise OutputError(f"{target}: two outputs would be written to the same file")
        self.files.append(OutputFile(target, data, secret, what))
        return target

    def check(self) -> None:
        """Refuse before anything is written: existing files without overwrite, bad dirs."""
        for out in self.files:
            if out.path.is_dir():
                raise OutputError(f"{out.path}: is a directory, cannot write the {out.what or 'output'}")
            if out.path.exists() and not self.overwrite:
                raise OutputError(f"{out.path}: already exists; pass --overwrite to replace it")
            parent = _existing_parent(out.path.parent)
            if not parent.is_dir():
                raise OutputError(f"{out.path}: cannot create it, {parent} is not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"{out.path}: the directory {parent} is not writable")

    def commit(self) -> list[Path]:
        """Write all files atomically; on any failure remove what this call created."""
        self.check()
        created_dirs = self._make_dirs()
        staged: list[tuple[str, Path]] = []
        try:
            for out in self.files:
                staged.append((_stage(out), out.path))
            for temp, target in staged:
                os.replace(temp, target)
        except OSError as exc:
            for temp, _ in staged:
                _remove_quietly(temp)
            for directory in reversed(created_dirs):
                _rmdir_quietly(directory)
            raise OutputError(f"cannot write outputs: {exc.strerror or exc} "
                              f"({exc.filename or ''})") from None
        return [out.path for out in self.files]

    def _make_dirs(self) -> list[Path]:
        created: list[Path] = []
        for out in self.files:
            missing = []
            directory = out.path.parent
            while not directory.exists():
                missing.append(directory)
                directory = directory.parent
            for directory in reversed(missing):
                try:
                    directory.mkdir()
                except OSError as exc:
                    raise OutputError(f"cannot create directory {directory}: {exc.strerror}") \
                        from None
                created.append(directory)
        return created


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _stage(out: OutputFile) -> str:
    """Write ``out`` to a temporary file next to its target; return the temp path."""
    temp = str(out.path.parent / f".{out.path.name}.{os.urandom(6).hex()}.tmp")
    # O_EXCL: never follow or reuse a file someone else put there; 0600 until chmod below.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            # No fsync: rename is atomic against crashes and kills, which is what
            # matters on a programming station; fsync would triple the write time.
            stream.write(out.data)
        os.chmod(temp, 0o600 if out.secret else 0o666 & ~_umask())
    except BaseException:
        _remove_quietly(temp)
        raise
    return temp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _rmdir_quietly(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
