"""``merge``: firmware hex + factory data hex -> one hex."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import add_build_dir_argument, request_from


def add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    """Firmware hex + factory data hex -> one hex; in a build directory all three default."""
    add_build_dir_argument(parser, "take the defaults from this west build: zephyr/zephyr.hex, "
                                   "factory_data.hex, output zephyr/merged.hex (sysbuild: the "
                                   "default image's); used whenever one of the files is not "
                                   "given")
    parser.add_argument("--firmware", metavar="HEX", help="the firmware hex (zephyr.hex)")
    parser.add_argument("--factory-data", metavar="HEX", help="the factory data hex")
    parser.add_argument("-o", "--output", metavar="HEX",
                        help="the merged hex to write (default in a build: the build's "
                             "merged.hex, which is replaced)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output (not needed for the build's own "
                             "merged.hex)")


def run_merge(args: argparse.Namespace, ui: UI) -> int:
    from ...zephyr.merge import MergeRequest, merge_command

    return merge_command(request_from(MergeRequest, args), ui)
