"""``generate``: the reference generator's options, same spelling, plus a few of ours."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import (
    add_build_dir_argument,
    add_field_arguments,
    add_format_arguments,
    add_key_storage_argument,
    refuse_options_besides,
    request_from,
)


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The reference generator's options, same spelling, plus a few of ours
    (docs/options.md)."""
    add_build_dir_argument(parser, "re-run the factory data step of this west build with the "
                                   "arguments its CMake recorded (no other option but -v)")
    parser.add_argument("-s", "--schema", metavar="FILE",
                        help="also validate the JSON against this JSON schema (draft 2020-12)")
    parser.add_argument("-o", "--output", metavar="PREFIX",
                        help="output prefix: writes PREFIX.json (a trailing .json is stripped), "
                             "PREFIX.hex/.bin with --offset/--size, PREFIX.txt/.png with "
                             "--generate_onboarding")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more details")
    parser.add_argument("--include_passcode", action="store_true",
                        help="store the passcode in the factory data (development only)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_field_arguments(parser)
    parser.add_argument("--print_codes", action="store_true",
                        help="also print the QR payload and manual code (they reveal the "
                             "passcode)")
    add_format_arguments(parser, cd=True)
    add_key_storage_argument(parser)


def run_generate(args: argparse.Namespace, ui: UI) -> int:
    if args.build_dir is not None:
        from ...zephyr.commands import GenerateInBuildRequest, generate_in_build

        refuse_options_besides(args, add_generate_arguments, allowed=("build_dir", "verbose"),
                               why="generate: {option} cannot be combined with -d/--build-dir: "
                                   "the build's values come from its zephyr/.config (change "
                                   "them in prj.conf or with `menuconfig -d`); accepted with "
                                   "-d: -v")
        return generate_in_build(GenerateInBuildRequest(build_dir=args.build_dir,
                                                        verbose=args.verbose), ui)
    from ...jobs.commands import GenerateCommand, generate_command

    return generate_command(request_from(GenerateCommand, args, ignore=("build_dir",)), ui)
