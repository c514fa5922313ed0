"""``stm32-program``: STM32CubeProgrammer over ST-LINK."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import (
    BOARD_CHOICES,
    add_json_argument,
    add_key_storage_argument,
    request_from,
)


def add_stm32_program_arguments(parser: argparse.ArgumentParser) -> None:
    """STM32CubeProgrammer over ST-LINK: list probes, or write the image on each."""
    parser.add_argument("--image", metavar="BIN",
                        help="the factory data .bin (generate --format stm32-tlv); written at "
                             "the board's address")
    parser.add_argument("--board", type=str.lower, choices=BOARD_CHOICES,
                        help="wb5mm-dk (external flash 0x901C0000, through the external "
                             "loader) or wba65 (internal flash 0x081EC000)")
    parser.add_argument("--probe", metavar="SERIAL", action="append",
                        help="ST-LINK serial number, hex digits as --list shows them "
                             "(repeatable; default: every probe that STM32_Programmer_CLI -l "
                             "lists)")
    parser.add_argument("--sn", metavar="SERIAL", action="append", dest="old_sn",
                        help=argparse.SUPPRESS)  # the former spelling: refused, see run
    parser.add_argument("--list", action="store_true",
                        help="only list the connected probes (serial number, board, port)")
    parser.add_argument("--cli", metavar="PATH",
                        help="STM32_Programmer_CLI or its bin directory (default: PATH, then "
                             "the usual STM32CubeProgrammer install locations)")
    parser.add_argument("--external-loader", metavar="STLDR",
                        help="external loader for external flash (default: the board's "
                             ".stldr in the CubeProgrammer ExternalLoader directory)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run nothing")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not reset the device after programming")
    add_key_storage_argument(parser)
    add_json_argument(parser)


def run_stm32_program(args: argparse.Namespace, ui: UI) -> int:
    from ...errors import InputError
    from ...station.cubeprogrammer import Stm32ProgramRequest, stm32_program_command

    if args.old_sn:
        raise InputError(f"--sn {args.old_sn[0]}: --sn is the device's serial number; the "
                         "ST-LINK probe is chosen with --probe SERIAL (see --list)")
    return stm32_program_command(request_from(Stm32ProgramRequest, args, ignore=("old_sn", "json")),
                                 ui)
