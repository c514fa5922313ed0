"""``ledger``: the identity ledger of a factory line (stats, export, import)."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import request_from
from ..parser import Parser

URL_HELP = "sqlite:///ABS/PATH.db or postgresql://USER@/DB?host=/SOCKET/DIR&port=N"


def add_ledger_command_arguments(parser: argparse.ArgumentParser) -> None:
    """The identity ledger: counts, export of every issued DAC, import of a batch lot."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions.required = True
    stats = actions.add_parser("stats", help="counts per state and the claims never reported")
    stats.add_argument("--ledger", metavar="URL", required=True, help=URL_HELP)
    stats.add_argument("--format", choices=("json",), default=None,
                       help="json: the counts and every claim never reported")
    export = actions.add_parser("export", help="one record per issued DAC (DAC serial, device "
                                               "serial, key SHA-256, PAI, station, state, times)")
    export.add_argument("--ledger", metavar="URL", required=True, help=URL_HELP)
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (never overwritten) instead of stdout")
    report = actions.add_parser("report", help="record a device's outcome (after programming "
                                               "a batch device, for line scripts)")
    report.add_argument("--ledger", metavar="URL", required=True, help=URL_HELP)
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument("--sn", metavar="SN", help="the device's serial number")
    which.add_argument("--dac_serial", metavar="HEX", help="its DAC's serial number (hex)")
    report.add_argument("--state", choices=("ok", "failed", "scrapped"), required=True)
    report.add_argument("--station", metavar="NAME",
                        help="the reporting station (default: the host name)")
    report.add_argument("--image_sha256", metavar="HEX",
                        help="SHA-256 of the image programmed (64 hex digits)")
    imported = actions.add_parser("import", help="record the devices of a batch directory "
                                                 "made earlier (all or nothing)")
    imported.add_argument("batch_dir", metavar="BATCHDIR",
                          help="the batch directory (batch.json, manifest.csv, devices/)")
    imported.add_argument("--ledger", metavar="URL", required=True, help=URL_HELP)
    imported.add_argument("--station", metavar="NAME",
                          help="the station recorded for them (default: the host name)")


def run_ledger(args: argparse.Namespace, ui: UI) -> int:
    from ...station.ledger.commands import LedgerRequest, ledger_command

    return ledger_command(request_from(LedgerRequest, args), ui)
