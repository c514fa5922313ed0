"""The error boundary of every front end: an expected error becomes one line and an exit
code, a bug one line too (the traceback only with MFD_DEBUG=1). No argparse here: the build
step's fast entry (:mod:`.step_cli`) uses it without loading the CLI parser."""

from __future__ import annotations

import os
from typing import Callable


def guarded(call: Callable[[], int], ui) -> int:
    from ..errors import FactoryDataError

    try:
        return call()
    except FactoryDataError as exc:
        ui.error(one_line(str(exc)))
        return exc.exit_code
    except OSError as exc:  # a path the system refuses (too long, ...) that no check named
        import errno

        where = f"{exc.filename}: " if exc.filename else ""
        ui.error(one_line(f"{where}{exc.strerror or exc}"))
        return 2 if exc.errno in (errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR,
                                  errno.EISDIR, errno.EINVAL, errno.ELOOP) else 1
    except KeyboardInterrupt:
        ui.error("interrupted; no output was written")
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("MFD_DEBUG"):
            raise
        ui.error(f"internal error: {type(exc).__name__}: {exc} (set MFD_DEBUG=1 for a "
                 "traceback and please report it)")
        return 1


def one_line(message: str) -> str:
    """A message on one line whatever it quotes: control characters (a newline in a file
    name, ESC) are shown escaped, as repr() would."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
