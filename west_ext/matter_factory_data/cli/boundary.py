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
        ui.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted; no output was written")
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("MFD_DEBUG"):
            raise
        ui.error(f"internal error: {type(exc).__name__}: {exc} (set MFD_DEBUG=1 for a "
                 "traceback and please report it)")
        return 1
