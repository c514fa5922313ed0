"""``python -m matter_factory_data``: the console script."""

import sys

from .cli.app import main

sys.exit(main())
