"""``show``: summarise or print an image, and lint it as the device reads it."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import (
    add_build_dir_argument,
    add_format_arguments,
    add_key_storage_argument,
    any_int,
    request_from,
)


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", metavar="FILE", nargs="?",
                        help="factory data: .hex, .bin or .json")
    add_build_dir_argument(source, "show the factory_data.hex of this west build (sysbuild: "
                                   "the default image's)")
    parser.add_argument("--offset", type=any_int,
                        help="address of the partition in a .hex holding more than one segment")
    parser.add_argument("--size", type=any_int, help="partition size, checked against the data")
    parser.add_argument("--json", action="store_true",
                        help="print the full JSON form instead of the summary")
    parser.add_argument("--pretty", action="store_true", help="the JSON form, indented")
    parser.add_argument("--show-secrets", dest="show_secrets",
                        action="store_true",
                        help="also print the DAC private key, the passcode and the enable key "
                             "(masked otherwise)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the device would reject or misread the data")
    parser.add_argument("--records", action="store_true",
                        help="stm32-tlv: list every record as the device scans it (offset, "
                             "tag, name, length), duplicates included, instead of the JSON")
    add_format_arguments(parser, detect=True)
    add_key_storage_argument(parser)


def run_show(args: argparse.Namespace, ui: UI) -> int:
    from ...jobs.show import ShowRequest, show_command

    if args.build_dir is not None:
        from ...zephyr.commands import factory_data_hex_of

        args.file = factory_data_hex_of(args.build_dir)
    return show_command(request_from(ShowRequest, args, ignore=("build_dir",)), ui)
