"""``codes``: the QR payload and manual pairing code."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import any_int, request_from


def add_codes_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vendor_id", type=any_int, required=True, help="vendor ID")
    parser.add_argument("--product_id", type=any_int, required=True, help="product ID")
    parser.add_argument("--discriminator", type=any_int, required=True, help="0..4095")
    parser.add_argument("--passcode", type=any_int, required=True, help="1..99999998")
    parser.add_argument("--discovery", metavar="LIST", default="ble",
                        help="comma-separated rendezvous: softap, ble, onnetwork, wifipaf, nfc, "
                             "thread, or a number (default: ble)")
    parser.add_argument("--flow", default="standard",
                        choices=("standard", "user-intent", "custom", "0", "1", "2"),
                        help="commissioning flow (default: standard)")
    parser.add_argument("--png", metavar="FILE", help="also write the QR code image")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --png")


def run_codes(args: argparse.Namespace, ui: UI) -> int:
    from ...jobs.commands import CodesRequest, codes_command

    return codes_command(request_from(CodesRequest, args), ui)
