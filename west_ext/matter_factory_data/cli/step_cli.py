"""``python -m matter_factory_data build-step ...`` without argparse: the module's CMake runs
it at every configure (``--check-only``) and build, so it starts lean (bench/bench_cmake.py).
The options are the build step's own table (``zephyr/step_options.py``), parsed as argparse
would (``--opt VALUE`` or ``--opt=VALUE``); ``--help`` and anything unusual go to the full
parser of :mod:`.app`, which gives the same errors and help as before."""

from __future__ import annotations

import sys
from typing import Optional, Sequence


def parse(argv: Sequence[str]) -> Optional[dict]:
    """The request values, or None when the full parser must handle ``argv``."""
    from ..zephyr.step_options import BY_FLAG, OPTIONS

    values: dict = {}
    items = iter(argv)
    for item in items:
        flag, has_value, inline = item.partition("=")
        option = BY_FLAG.get(flag)
        if option is None or option.dest in values:
            return None
        if option.kind == "flag":
            if has_value:
                return None
            values[option.dest] = True
            continue
        text = inline if has_value else next(items, None)
        if text is None or (not has_value and text.startswith("--")):
            return None
        if option.kind == "int":
            try:
                values[option.dest] = int(text, 0)
            except ValueError:
                return None
        else:
            values[option.dest] = text
    if any(o.required and o.dest not in values for o in OPTIONS):
        return None
    return values


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
