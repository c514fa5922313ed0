"""The series directory on disk: created once (batch.json last), recognised on a rerun,
refused when it holds something else; the run's lock."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Optional

from ...errors import InputError, OutputError, OutputRefused
from .layout import (
    DEVICES,
    LOCK,
    MANIFEST,
    PAI_CERT,
    SERIES_FILES,
    STATE,
    STATE_FORMAT,
    columns_for,
)
from .request import Plan


def check_directory(plan: Plan) -> None:
    """Refuse, without writing, a directory that holds something other than this series."""
    state_path = plan.out_dir / STATE
    if state_path.is_file():
        _check_same_series(state_path, plan.params)
    else:
        _clear_unfinished_start(plan.out_dir, remove=False)


def open_series(plan: Plan) -> None:
    """Create the series files, or check that DIR holds this very series."""
    from ...files.outputs import OutputSet

    out = plan.out_dir
    state_path = out / STATE
    if state_path.is_file():
        _check_same_series(state_path, plan.params)
        _missing_series_files(plan)
        return
    _clear_unfinished_start(out)
    outputs = OutputSet(overwrite=True)  # only leftovers of an unfinished start can be there
    state = {"tool": "matter-factory-data batch", "format": STATE_FORMAT, "params": plan.params}
    for name, data, secret in plan.extra_files:
        outputs.add(out / name, data, secret=secret)
    header = ",".join(columns_for(plan.params)) + "\r\n"
    # 0600: the QR payload and manual code of each device encode its passcode.
    outputs.add(out / MANIFEST, header.encode("ascii"), secret=True)
    # batch.json last: its presence marks a complete series directory.
    outputs.add(state_path, (json.dumps(state, indent=2) + "\n").encode("ascii"))
    outputs.commit()
    (out / DEVICES).mkdir(mode=0o700, exist_ok=True)


def _clear_unfinished_start(out: Path, remove: bool = True) -> None:
    """Refuse a directory holding anything but what a killed start of a series leaves
    (series files, their staging files); remove the staging files."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputRefused(f"-o {out}: exists and is not a directory; give a new or empty one")
    entries = list(out.iterdir())
    foreign = [e.name for e in entries if not _is_start_leftover(e)]
    if foreign:
        raise OutputRefused(f"-o {out}: exists and is not a batch directory (no {STATE}; holds "
                          f"{foreign[0]!r}); give a new or empty directory")
    if remove:
        from ...files.outputs import recover

        recover(out)  # staged files of a killed start (settled by outputs.py's rules)


def _is_start_leftover(entry: Path) -> bool:
    name = entry.name
    if name == LOCK:
        return True
    if name == DEVICES:
        return entry.is_dir() and not any(entry.iterdir())
    from ...files.outputs import leftover_target

    target = leftover_target(name)  # outputs.py's staging files, links and journals
    if target == "":
        return entry.is_file()
    if target is not None:
        name = target
    return name in SERIES_FILES and entry.is_file()


def _check_same_series(state_path: Path, params: dict) -> None:
    from ...files.inputs import read_json_file

    state = read_json_file(state_path, "batch state")
    recorded = state.get("params") if isinstance(state, dict) else None
    if not isinstance(recorded, dict):
        raise InputError(f"batch state {state_path}: no 'params' object; restore it or give "
                         "another -o directory")
    difference = _first_difference(recorded, params)
    if difference is not None:
        key, there, now = difference
        raise OutputRefused(f"-o {state_path.parent}: holds a different batch (its {key} "
                          f"differs: {_short(there)} there, {_short(now)} now); use another "
                          "directory or the same options")


def _first_difference(recorded: Any, current: Any, path: str = "") -> Optional[tuple]:
    """(key, recorded value, current value) of the first difference, nested keys joined by '.'."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for key in sorted(set(recorded) | set(current)):
            found = _first_difference(recorded.get(key), current.get(key),
                                      f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    if recorded != current:
        return path.split(".")[-1] if path.startswith("common.") else path, recorded, current
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _missing_series_files(plan: Plan) -> None:
    for name in (MANIFEST, PAI_CERT):
        if not (plan.out_dir / name).is_file():
            raise OutputError(f"{plan.out_dir / name}: missing from the batch directory; "
                              "restore it (it records the finished devices)")
    (plan.out_dir / DEVICES).mkdir(mode=0o700, exist_ok=True)


def lock_series(out: Path):
    """Hold an exclusive lock on DIR/.lock for the run: a second run on the same series
    would hand out the same device indexes. Released when the process ends, even on kill -9."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    try:
        out.mkdir(parents=True, exist_ok=True)
        # kept open (and locked) until release_lock: no context manager
        stream = open(out / LOCK, "a+")  # noqa: SIM115
    except OSError as exc:
        raise OutputError(f"-o {out}: cannot create it ({exc.strerror or exc})") from None
    busy = OutputError(f"-o {out}: another batch run is working on this directory; wait "
                       "for it to finish (or stop it) and run again")
    try:
        fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        raise busy from None
    try:  # the run that held it may have removed it between our open and our lock
        same = os.stat(out / LOCK).st_ino == os.fstat(stream.fileno()).st_ino
    except OSError:
        same = False
    if not same:
        stream.close()
        raise busy
    return stream


def unlock_series(out: Path, stream) -> None:
    """Remove DIR/.lock (no empty file is left behind) and release it."""
    if stream is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(out / LOCK)
    stream.close()
