"""Front ends: argparse definitions, the console script and the west command.

The one place where errors become messages and exit codes (:func:`app.run`, through
:func:`boundary.guarded`). ``main`` imports the parser only when called, so that the build
step's lean entry (:mod:`.step_cli`) does not load it.
"""

from collections.abc import Sequence
from typing import Optional


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The console script. A run is one short process: Python's cyclic garbage collector is
    off while it starts (imports, the parser) and, for the commands of
    :data:`.app.ONE_SHOT_COMMANDS`, until it exits -- its passes over the objects that
    start-up creates free next to nothing and cost ~4 % of a single ``generate``. Every other
    command switches it back on before it runs (:func:`.app.run`)."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        from .app import main as app_main

        return app_main(argv)
    finally:
        if enabled:  # a caller that runs main() in its own long-lived process keeps its GC
            gc.enable()


__all__ = ["main"]
