"""``attest``: check an image or a lot the way a commissioner does (DAC -> PAI -> a PAA of a
trust store, the Certification Declaration against a CD-signer store, VID/PID rules)."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import BOARD_CHOICES, FORMAT_CHOICES, any_int, request_from


def add_attest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="IMAGE|LOT",
                        help="a factory data image (.bin, .hex or .json; nRF CBOR or STM32 TLV, "
                             "detected) or a lot directory made by batch")
    parser.add_argument("--paa-store", dest="paa_store", metavar="DIR",
                        required=True,
                        help="the trusted PAAs: a directory of DER or PEM certificates")
    parser.add_argument("--cd-store", dest="cd_store", metavar="DIR",
                        help="the trusted CD signers: a directory of DER or PEM certificates "
                             "(without it the CD's signature is not checked)")
    parser.add_argument("--cd", metavar="FILE",
                        help="the Certification Declaration (DER) of images that hold none "
                             "(nRF: it is in the firmware; a lot's CD.der is used by default)")
    parser.add_argument("--at", metavar="DATE",
                        help="the commissioning time the DAC must be valid at: YYYY-MM-DD or "
                             "YYYY-MM-DDTHH:MM:SS, UTC (default: now)")
    parser.add_argument("--format", choices=FORMAT_CHOICES,
                        help="the image format (default: detected from the image)")
    parser.add_argument("--board", type=str.lower, choices=BOARD_CHOICES,
                        help="stm32-tlv: the board whose reader rules apply")
    parser.add_argument("--jobs", type=any_int, metavar="N",
                        help="a lot: worker processes (default: one per CPU)")
    parser.add_argument("--offset", type=any_int,
                        help="partition address in a multi-segment .hex")
    parser.add_argument("--ledger", metavar="URL",
                        help="record every device's result in the identity ledger "
                             "(sqlite:///ABS/PATH.db or postgresql://...): its attest column "
                             "becomes pass or 'fail: <first reason>', with the time and the "
                             "station; its state is left alone. A device the ledger does not "
                             "know fails the run (exit 1)")
    parser.add_argument("--station", metavar="NAME",
                        help="this station's name in the ledger (default: the host name)")


def run_attest(args: argparse.Namespace, ui: UI) -> int:
    from ...station.attest import AttestRequest, attest_command

    return attest_command(request_from(AttestRequest, args), ui)
