"""West extension shim: makes west_ext/ importable when the package is not pip-installed,
then exposes the command class named in west-commands.yml."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
try:
    import matter_factory_data  # noqa: F401  (installed with pip)
except ImportError:
    sys.path.insert(0, _HERE)

from matter_factory_data.cli.west_cmd import FactoryData  # noqa: E402,F401
