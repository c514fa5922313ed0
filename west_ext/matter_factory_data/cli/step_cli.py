"""``python -m matter_factory_data build-step ...`` without argparse: the module's CMake runs
it at every configure (``--check-only``) and build, so it starts lean (bench/bench_cmake.py).
The options are the build step's own table (``zephyr/step_options.py``), parsed as argparse
would (``--opt VALUE`` or ``--opt=VALUE``); ``--help`` and anything unusual go to the full
parser of :mod:`.app`, which gives the same errors and help as before."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional


def parse(argv: Sequence[str]) -> Optional[dict]:
    """The request values, or None when the full parser must handle ``argv``."""
    from ..zephyr.step_options import parse_argv
    from ..zephyr.step_request import to_int

    values, problem = parse_argv(argv, to_int)
    return None if problem else values


def main(argv: Sequence[str]) -> int:
    """``argv``: the arguments after ``build-step``."""
    values = parse(argv)
    if values is None:
        from .app import main as full_main

        return full_main(["build-step", *argv])
    from ..ui import UI
    from ..zephyr.build_step import build_step
    from ..zephyr.step_request import BuildStepRequest
    from .boundary import guarded

    ui = UI()
    try:
        return guarded(lambda: build_step(BuildStepRequest(**values), ui), ui)
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
