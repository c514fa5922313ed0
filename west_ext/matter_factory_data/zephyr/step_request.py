"""The build step's parameters: one table, read by the CLI's argparse definition and by the
record of a configured build (``zephyr/factory_data_step.json``).

CMake runs ``python -m matter_factory_data build-step <argv>`` and records the same argv;
``generate -d``, ``merge -d`` and ``batch -d`` load the record as a :class:`BuildStepRequest`
with :func:`from_argv`, without the CLI parser.
"""

from __future__ import annotations

from typing import Callable, Optional

from ..typed import Request
from .step_options import BY_FLAG, OPTIONS, StepOption


class BuildStepRequest(Request):
    """What the build step reads and writes; paths are absolute as CMake gives them."""

    dotconfig: str = ""
    out_dir: str = ""
    partitions: Optional[str] = None
    pm_static: Optional[str] = None
    dt_address: Optional[int] = None
    dt_size: Optional[int] = None
    edt_pickle: Optional[str] = None
    zephyr_base: Optional[str] = None
    firmware_hex: Optional[str] = None
    merged_hex: Optional[str] = None
    dac_cert: Optional[str] = None
    dac_key: Optional[str] = None
    pai_cert: Optional[str] = None
    check_only: bool = False


def from_argv(argv: list, source) -> BuildStepRequest:
    """Parse a recorded argv (``--opt VALUE`` pairs and flags); always a writing run.
    A problem names the record and says how to renew it."""
    from ..errors import InputError

    def refuse(message: str) -> InputError:
        return InputError(f"{source}: the recorded build-step arguments are not accepted "
                          f"({message}); reconfigure the build (west build --cmake-only)")

    values: dict = {}
    unknown: list = []
    items = iter(argv)
    for item in items:
        flag, has_value, inline = str(item).partition("=")
        option = BY_FLAG.get(flag if item.startswith("--") else "")
        if option is None:
            unknown.append(str(item))
            continue
        if option.kind == "flag":
            if has_value:
                raise refuse(f"argument {flag}: ignored explicit argument {inline!r}")
            values[option.dest] = True
            continue
        text = inline if has_value else next(items, None)
        if text is None:
            raise refuse(f"argument {flag}: expected one argument")
        values[option.dest] = _typed(option, text, refuse)
    if unknown:
        raise refuse(f"unrecognized arguments: {' '.join(unknown)}")
    missing = [o.flag for o in OPTIONS if o.required and o.dest not in values]
    if missing:
        raise refuse(f"the following arguments are required: {', '.join(missing)}")
    values["check_only"] = False
    return BuildStepRequest(**values)


def _typed(option: StepOption, text: str, refuse: Callable):
    if option.kind != "int":
        return text
    from ..core.validate import int_problem

    problem = int_problem(text)
    if problem:
        raise refuse(f"argument {option.flag}: {problem}")
    return int(text, 0)


def recorded(app_dir) -> BuildStepRequest:
    """The build-step request an app build recorded (``zephyr/factory_data_step.json``)."""
    from pathlib import Path

    from . import build_dir

    return from_argv(build_dir.step_arguments(app_dir), Path(app_dir) / build_dir.STEP_FILE)
