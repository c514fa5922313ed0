"""What the two compatibility shims share: run a matter-factory-data command in this
interpreter, importing the package from this repository when it is not installed."""

import sys
from pathlib import Path


def run(command: str, extra: list) -> int:
    try:
        import matter_factory_data  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "west_ext"))
    from matter_factory_data.cli import main

    return main([command, *extra, *sys.argv[1:]])
