"""``build-step``: the factory data step of a Zephyr build (full parser; see ``step_cli``)."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import any_int, request_from


def add_build_step_arguments(parser: argparse.ArgumentParser) -> None:
    """Run by cmake/matter_factory_data.cmake; errors name the Kconfig symbol or file.
    The options come from the build step's own table (also read by ``generate -d``)."""
    from ...zephyr.step_options import OPTIONS

    for option in OPTIONS:
        if option.kind == "flag":
            parser.add_argument(option.flag, dest=option.dest, action="store_true",
                                help=option.help)
        else:
            action = parser.add_argument(option.flag, dest=option.dest, metavar=option.metavar,
                                         required=option.required, help=option.help)
            if option.kind == "int":
                action.type = any_int


def run_build_step(args: argparse.Namespace, ui: UI) -> int:
    from ...zephyr.build_step import build_step
    from ...zephyr.step_request import BuildStepRequest

    return build_step(request_from(BuildStepRequest, args), ui)
