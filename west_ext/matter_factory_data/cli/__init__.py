"""Front ends: argparse definitions, the console script and the west command.

The one place where errors become messages and exit codes (:func:`app.run`, through
:func:`boundary.guarded`). ``main`` imports the parser only when called, so that the build
step's lean entry (:mod:`.step_cli`) does not load it.
"""

from collections.abc import Sequence
from typing import Optional


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .app import main as app_main

    return app_main(argv)


__all__ = ["main"]
