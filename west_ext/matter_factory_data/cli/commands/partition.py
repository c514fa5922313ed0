"""``partition``: a factory data JSON file to the partition image."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import (
    add_format_arguments,
    add_key_storage_argument,
    add_profile_arguments,
    any_int,
    request_from,
)


def add_partition_arguments(parser: argparse.ArgumentParser) -> None:
    """The reference partition script's options, plus --strict and --overwrite."""
    parser.add_argument("-i", "--input", required=True, metavar="FILE", help="input JSON file")
    parser.add_argument("-o", "--output", required=True, metavar="PREFIX",
                        help="output prefix: writes PREFIX.hex and PREFIX.bin")
    parser.add_argument("--offset", type=any_int,
                        help="partition address in flash (required for nrf-cbor; stm32-tlv: "
                             "default the --board's region)")
    parser.add_argument("--size", type=any_int,
                        help="partition size in bytes (required for nrf-cbor)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more details")
    parser.add_argument("-r", "--raw", action="store_true",
                        help="quiet: print only warnings and errors")
    parser.add_argument("--strict", action="store_true",
                        help="refuse data the device would reject or misread")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_profile_arguments(parser)
    add_format_arguments(parser)
    add_key_storage_argument(parser)


def run_partition(args: argparse.Namespace, ui: UI) -> int:
    from ...jobs.commands import PartitionRequest, partition_command

    return partition_command(request_from(PartitionRequest, args), ui)
