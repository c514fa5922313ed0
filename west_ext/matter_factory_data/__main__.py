"""``python -m matter_factory_data``: the console script."""

import os
import sys

# The module's CMake sets MFD_PYCACHE_DIR (in the build directory): byte-code caches go there
# when the sources are not writable (a read-only checkout or installation).
_cache = os.environ.get("MFD_PYCACHE_DIR")
if _cache and sys.pycache_prefix is None and \
        not os.access(os.path.dirname(os.path.abspath(__file__)), os.W_OK):
    sys.pycache_prefix = _cache

from .cli.app import main  # noqa: E402

sys.exit(main())
