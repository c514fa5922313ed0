"""The build step's parameters: one table, read by the CLI's argparse definition and by the
record of a configured build (``zephyr/factory_data_step.json``).

CMake runs ``python -m matter_factory_data build-step <argv>`` and records the same argv;
``generate -d``, ``merge -d`` and ``batch -d`` load the record as a :class:`BuildStepRequest`
with :func:`from_argv`, without the CLI parser.
"""

from __future__ import annotations

from typing import Optional

from ..typed import Request
from .step_options import parse_argv


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
    profile: Optional[str] = None  # None: CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION decides
    check_only: bool = False


def from_argv(argv: list, source) -> BuildStepRequest:
    """Parse a recorded argv (``--opt VALUE`` pairs and flags); always a writing run.
    A problem names the record and says how to renew it."""
    from ..errors import InputError

    values, problem = parse_argv(argv, to_int)
    if problem:
        raise InputError(f"{source}: the recorded build-step arguments are not accepted "
                         f"({problem}); reconfigure the build (west build --cmake-only)")
    values["check_only"] = False
    return BuildStepRequest(**values)


def to_int(text: str) -> tuple:
    """``(int(text, 0), None)``, or ``(None, problem)`` for anything the CLI would refuse."""
    from ..core.validate import int_problem

    problem = int_problem(text)
    return (None, problem) if problem else (int(text, 0), None)


def recorded(app_dir) -> BuildStepRequest:
    """The build-step request an app build recorded (``zephyr/factory_data_step.json``)."""
    from pathlib import Path

    from . import build_dir

    return from_argv(build_dir.step_arguments(app_dir), Path(app_dir) / build_dir.STEP_FILE)
