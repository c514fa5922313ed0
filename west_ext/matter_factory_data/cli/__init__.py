"""Front ends: argparse definitions, the console script and the west command.

The one place where errors become messages and exit codes (:func:`app.run`).
"""

from .app import main

__all__ = ["main"]
