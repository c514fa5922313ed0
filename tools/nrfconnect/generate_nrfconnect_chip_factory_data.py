#!/usr/bin/env python3
"""Compatibility shim under the name of connectedhomeip's
scripts/tools/nrfconnect/generate_nrfconnect_chip_factory_data.py: the same options,
forwarded to ``matter-factory-data generate``.

Nothing is added to the caller's options. The reference never checked the Matter
attestation certificate profile (its own test suite uses a PAI with pathLen 1); under the
default development profile such findings are warnings naming the rule. Pass
``--profile production`` to have them refused.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shim import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("generate", []))
