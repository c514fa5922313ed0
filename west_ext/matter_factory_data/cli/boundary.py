"""The error boundary of every front end: an expected error becomes one line and an exit
code, a bug one line too (the traceback only with MFD_DEBUG=1). No argparse here: the build
step's fast entry (:mod:`.step_cli`) uses it without loading the CLI parser."""

from __future__ import annotations

import contextlib
import os
from typing import Callable


def _say(ui, exc: BaseException, message: str) -> None:
    ui.error(message)
    events = getattr(ui, "events", None)
    if events is not None:
        with contextlib.suppress(OSError):  # stdout is gone: the line on stderr is enough
            events.error(exc, message)


def guarded(call: Callable[[], int], ui) -> int:
    """Run ``call``: an expected error becomes one line on stderr and its exit code; with an
    events sink on ``ui`` (``--json``) also an ``error`` event whose stable code comes from
    the exception's class (events.error_code)."""
    from ..errors import FactoryDataError

    try:
        code = call()
        _flush(ui)  # a closed pipe shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return _reader_gone(ui)
    except FactoryDataError as exc:
        _say(ui, exc, one_line(str(exc)))
        return exc.exit_code
    except OSError as exc:  # a path the system refuses (too long, ...) that no check named
        import errno

        if exc.errno == errno.EPIPE:
            return _reader_gone(ui)

        where = f"{exc.filename}: " if exc.filename else ""
        _say(ui, exc, one_line(f"{where}{exc.strerror or exc}"))
        return 2 if exc.errno in (errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR,
                                  errno.EISDIR, errno.EINVAL, errno.ELOOP) else 1
    except KeyboardInterrupt as exc:
        _say(ui, exc, "interrupted; no output was written")
        return 130
    except ImportError as exc:  # a dependency missing from the Python that runs us (west's)
        hint = missing_package(exc)
        if hint is None:
            if os.environ.get("MFD_DEBUG"):
                raise
            _say(ui, exc, f"internal error: {type(exc).__name__}: {exc} (set MFD_DEBUG=1 for a "
                     "traceback and please report it)")
            return 1
        _say(ui, exc, one_line(hint))
        return 2  # the installation is incomplete, as for a missing programmer: usage
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("MFD_DEBUG"):
            raise
        _say(ui, exc, f"internal error: {type(exc).__name__}: {exc} (set MFD_DEBUG=1 for a "
                 "traceback and please report it)")
        return 1


def one_line(message: str) -> str:
    """A message on one line whatever it quotes: control characters (a newline in a file
    name, ESC) are shown escaped, as repr() would."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


#: Import names whose pip package is spelled otherwise.
PIP_NAMES = {"yaml": "PyYAML", "serial": "pyserial", "elftools": "pyelftools", "png": "pypng",
             "west": "west"}


def missing_package(exc: ImportError) -> str | None:
    """``missing Python package 'cbor2': install with `...``, or None when the failed
    import is one of this package's own modules (a bug, not an installation problem)."""
    import sys
    from pathlib import Path

    name = (exc.name or "").split(".")[0]
    if not name or name == __package__.split(".")[0]:
        return None
    package = PIP_NAMES.get(name, name)
    requirements = Path(__file__).resolve().parents[3] / "requirements.txt"
    python = sys.executable or "python3"
    if requirements.is_file():
        command = f"{python} -m pip install -r {requirements}"
    else:
        command = f"{python} -m pip install {package}"
    what = "missing Python package" if isinstance(exc, ModuleNotFoundError) else \
        "unusable Python package (too old or broken)"
    return f"{what} {package!r}: install with `{command}`"


def _flush(ui) -> None:
    for stream in (getattr(ui, "out", None), getattr(ui, "err", None)):
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()


def _reader_gone(ui) -> int:
    """The reader of our output went away (``show ... | head -1``): end quietly with 0, as
    the reader chose to stop reading. Later writes (and the interpreter's final flush) go to
    /dev/null, so nothing more is said about it."""
    import sys

    for stream in {id(s): s for s in (getattr(ui, "out", None), getattr(ui, "err", None),
                                      sys.stdout)}.values():
        fileno = getattr(stream, "fileno", None)
        try:
            target = fileno() if fileno is not None else None
        except (OSError, ValueError):
            target = None
        if target is not None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, target)
            os.close(devnull)
    return 0
