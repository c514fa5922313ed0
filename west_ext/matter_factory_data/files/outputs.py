"""All-or-nothing writing of a set of output files.

Everything is computed and validated before :meth:`OutputSet.commit` runs. Commit
writes every file to a temporary file in its target directory, then renames them
into place, so a reader never sees a half-written file and a failure leaves the
previous outputs untouched. Secret files are created with mode 0600.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from typing import TYPE_CHECKING, NamedTuple, Optional

from ..errors import OPT, OutputError, OutputRefused

if TYPE_CHECKING:
    from pathlib import Path


def path_text(path: str | os.PathLike[str]) -> str:
    """``str(pathlib.Path(path))`` without importing pathlib (with ``urllib.parse`` and
    ``ipaddress`` it is ~5 % of a single ``generate``): on POSIX, repeated separators and
    ``.`` components dropped, a trailing separator removed, ``..`` kept, ``.`` for nothing,
    two leading slashes kept (and three or more made one), as pathlib does."""
    text = os.fspath(path)
    if os.name != "posix" or not isinstance(text, str):
        from pathlib import Path  # Windows drives and separators: pathlib's own rules

        return str(Path(text))
    root = "//" if text.startswith("//") and not text.startswith("///") else (
        "/" if text.startswith("/") else "")
    parts = [part for part in text.split("/") if part and part != "."]
    return root + "/".join(parts) if root or parts else "."


def parent_text(path: str) -> str:
    """``str(Path(path).parent)`` of a :func:`path_text`."""
    head = os.path.dirname(path)
    if not head:
        return "."
    return head if head.strip("/") == "" else head.rstrip("/") or "/"


#: The errors pathlib's ``exists()``/``is_dir()`` treat as "no": any other (a name too
#: long, no permission) is raised, as it was when these checks used pathlib.
_NO_SUCH = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _stat(path: str) -> Optional[os.stat_result]:
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno in _NO_SUCH or getattr(exc, "winerror", None) in (21, 123, 1921):
            return None
        raise
    except ValueError:  # an embedded NUL
        return None


def _exists(path: str) -> bool:
    return _stat(path) is not None


def _is_dir(path: str) -> bool:
    info = _stat(path)
    return info is not None and stat.S_ISDIR(info.st_mode)


class OutputFile(NamedTuple):
    target: str  # the path as pathlib prints it (path_text)
    data: bytes
    secret: bool = False
    what: str = ""

    @property
    def path(self) -> Path:
        """The target as a ``pathlib.Path`` (imported on use: ``generate`` does not need it)."""
        from pathlib import Path

        return Path(self.target)


class OutputSet:
    """Files to be written together; ``overwrite`` allows replacing existing files."""

    def __init__(self, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self.files: list[OutputFile] = []

    def add(self, path: str | os.PathLike[str], data: bytes, *, secret: bool = False,
            what: str = "") -> str:
        from .inputs import path_problem

        problem = path_problem(path)
        if problem:
            raise OutputRefused(f"cannot write the {what or 'output'} {os.fspath(path)!r}: "
                                f"{problem}")
        target = path_text(path)
        key = os.path.normcase(target)
        if any(os.path.normcase(f.target) == key for f in self.files):
            raise OutputRefused(f"{target}: two outputs would be written to the same file")
        self.files.append(OutputFile(target, data, secret, what))
        return target

    def check(self) -> None:
        """Refuse before anything is written: existing files without overwrite, bad dirs.
        A dangling symbolic link at an output path counts as an existing output. Leftovers
        of a killed commit in the target directories are settled first (see recover)."""
        for directory in sorted({parent_text(out.target) for out in self.files}):
            recover(directory)
        for out in self.files:
            if _is_dir(out.target):
                raise OutputRefused(f"{out.target}: is a directory, cannot write the "
                                    f"{out.what or 'output'}")
            if os.path.lexists(out.target) and not self.overwrite:
                kind = " (a dangling symbolic link)" if not _exists(out.target) else ""
                raise OutputRefused(f"{out.target}: already exists{kind}; pass {OPT.overwrite} to "
                                  "replace it")
            parent = _existing_parent(parent_text(out.target))
            if not _is_dir(parent):
                raise OutputRefused(f"{out.target}: cannot create it, {parent} is not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"{out.target}: the directory {parent} is not writable")

    def commit(self) -> list[str]:
        """Write all files atomically: stage every file, record the set in a journal, keep
        a link to each file replaced, rename; on any failure put the previous files back.
        After a kill -9, the next commit into the directory finishes a journaled set (so it
        is complete) or removes the staged files (so it is absent): see :func:`recover`."""
        self.check()
        created_dirs = self._make_dirs()
        staged: list[tuple[str, str]] = []
        journal = None
        replaced: list[tuple[str, Optional[str]]] = []
        try:
            for out in self.files:
                staged.append((_stage(out), out.target))
            journal = _write_journal(parent_text(self.files[0].target), staged)
            for temp, target in staged:
                backup = _keep_previous(target)
                try:
                    os.replace(temp, target)
                except OSError:
                    if backup:  # the target is still the previous file
                        _remove_quietly(backup)
                    raise
                replaced.append((target, backup))
        except OSError as exc:
            _roll_back(replaced)
            for temp, _ in staged:
                _remove_quietly(temp)
            if journal:
                _remove_quietly(journal)
            for directory in reversed(created_dirs):
                _rmdir_quietly(directory)
            raise OutputError(f"cannot write outputs: {exc.strerror or exc} "
                              f"({exc.filename or ''}); the previous files are kept") from None
        for _, backup in replaced:
            if backup:
                _remove_quietly(backup)
        if journal:
            _remove_quietly(journal)
        return [out.target for out in self.files]

    def _make_dirs(self) -> list[str]:
        created: list[str] = []
        for out in self.files:
            missing = []
            directory = parent_text(out.target)
            while not _exists(directory):
                missing.append(directory)
                directory = parent_text(directory)
            for directory in reversed(missing):
                try:
                    os.mkdir(directory)
                except OSError as exc:
                    raise OutputError(f"cannot create directory {directory}: {exc.strerror}") \
                        from None
                created.append(directory)
        return created


def _existing_parent(path: str) -> str:
    while not _exists(path) and path != parent_text(path):
        path = parent_text(path)
    return path


# Names of what a commit leaves while it runs (and a kill -9 may leave behind), all in the
# target's directory: ``.NAME.PID.RANDOM.tmp`` (a staged file), ``.NAME.PID.RANDOM.old`` (a
# link to the file it replaces), ``.mfd-outputs.PID.RANDOM.journal`` (the set's renames).
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{12}\.(?P<kind>tmp|old)")
_JOURNAL = re.compile(r"\.mfd-outputs\.(?P<pid>[0-9]+)\.[0-9a-f]{12}\.journal")


def _scratch_name(directory: str | os.PathLike[str], name: str, kind: str) -> str:
    return os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(6).hex()}.{kind}")


def leftover_target(name: str) -> Optional[str]:
    """The output name a commit's leftover file belongs to, or None (also for journals: "")."""
    match = _LEFTOVER.fullmatch(name)
    if match:
        return match.group("name")
    return "" if _JOURNAL.fullmatch(name) else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def recover(directory: str | os.PathLike[str]) -> None:
    """Settle what a killed commit left in ``directory``: a journaled set is finished (each
    staged file still there is renamed into place), staged files without a journal are
    removed (that set is absent), and links to replaced files are removed. Only leftovers of
    processes that are gone are touched; a concurrent commit is left alone."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = _JOURNAL.fullmatch(name)
        if match and not _alive(int(match.group("pid"))):
            path = os.path.join(directory, name)
            try:
                with open(path, encoding="utf-8") as stream:
                    entries = json.loads(stream.read())
                for temp, target in entries:
                    if _journaled_rename(temp, target) and os.path.lexists(temp):
                        os.replace(temp, target)
            except (OSError, ValueError, TypeError):
                pass
            _remove_quietly(path)
    for name in names:
        match = _LEFTOVER.fullmatch(name)
        if match and not _alive(int(match.group("pid"))):
            _remove_quietly(os.path.join(directory, name))


def _journaled_rename(temp: object, target: object) -> bool:
    """Whether a journal entry is one a commit writes: a staged ``.<name>.<pid>.<hex>.tmp``
    renamed onto ``<name>`` in the same directory. A damaged or planted journal can never
    move any other file."""
    if not (isinstance(temp, str) and isinstance(target, str)):
        return False
    match = _LEFTOVER.fullmatch(os.path.basename(temp))
    return bool(match and match.group("kind") == "tmp"
                and match.group("name") == os.path.basename(target)
                and os.path.dirname(temp) == os.path.dirname(target))


def _write_journal(directory: str, staged: list) -> str:
    """The set's renames, written atomically before the first rename."""
    path = os.path.join(directory, f".mfd-outputs.{os.getpid()}.{os.urandom(6).hex()}.journal")
    temp = path + ".part"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump([[os.path.abspath(t), os.path.abspath(str(p))] for t, p in staged], stream)
    os.replace(temp, path)
    return path


def _keep_previous(target: str) -> Optional[str]:
    """A hard link (else a copy) of the file ``target`` replaces, for a roll-back."""
    if not os.path.lexists(target):
        return None
    backup = _scratch_name(parent_text(target), os.path.basename(target), "old")
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError:
        if os.path.islink(target):
            os.symlink(os.readlink(target), backup)
        else:
            import shutil

            shutil.copy2(target, backup)
    return backup


def _roll_back(replaced: list) -> None:
    """Put every replaced file back; remove the new files that replaced nothing."""
    for target, backup in reversed(replaced):
        try:
            if backup:
                os.replace(backup, target)
            elif os.path.lexists(target):
                os.unlink(target)
        except OSError:
            pass


def _stage(out: OutputFile) -> str:
    """Write ``out`` to a temporary file next to its target; return the temp path."""
    temp = _scratch_name(parent_text(out.target), os.path.basename(out.target), "tmp")
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
    with contextlib.suppress(OSError):
        os.unlink(path)


def _rmdir_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def cut_torn_line(path: str | os.PathLike[str]) -> bytes:
    """The content of an append-only line file (a manifest) with a torn last line -- a
    write cut short by a kill -- removed from the file too; every complete line is kept."""
    with open(path, "rb") as stream:
        raw = stream.read()
    keep = raw.rfind(b"\n") + 1
    if keep < len(raw):
        with open(path, "r+b") as stream:
            stream.truncate(keep)
    return raw[:keep]
