"""``python -m matter_factory_data``: the console script."""

import os
import sys

# The module's CMake sets MFD_PYCACHE_DIR (in the build directory). When the environment
# forbids byte-code caches next to the sources (PYTHONDONTWRITEBYTECODE, or a read-only
# checkout), they go there instead: without them every configure recompiles the package.
_cache = os.environ.get("MFD_PYCACHE_DIR")
if _cache and sys.pycache_prefix is None and (
        sys.dont_write_bytecode
        or not os.access(os.path.dirname(os.path.abspath(__file__)), os.W_OK)):
    sys.pycache_prefix = _cache
    sys.dont_write_bytecode = False

if sys.argv[1:2] == ["build-step"]:  # the module's CMake: a lean start, no argparse
    from .cli.step_cli import main as step_main  # noqa: E402

    sys.exit(step_main(sys.argv[2:]))

from .cli import main  # noqa: E402

sys.exit(main())
