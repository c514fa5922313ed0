#!/usr/bin/env python3
"""Compatibility shim under the name of connectedhomeip's
scripts/tools/nrfconnect/nrfconnect_generate_partition.py: the same options, forwarded to
``matter-factory-data partition``.

The reference always replaces its outputs (NCS <= 2.6 runs it on every regeneration), so
the shim passes --overwrite.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shim import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("partition", ["--overwrite"]))
