#!/usr/bin/env python3
"""Compatibility shim under the name of connectedhomeip's
scripts/tools/nrfconnect/nrfconnect_generate_partition.py: the same options, forwarded to
``matter-factory-data partition``.

Like the generator shim it adds no option: the reference's argv reaches ``partition``
unchanged. Outputs that already exist are kept unless ``--overwrite`` is given.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shim import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("partition", []))
