"""``labels``: the print labels (QR code PNG/SVG, labels.csv) of a lot made by ``batch``."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import any_int, request_from


def add_labels_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lot", metavar="LOT", help="the -o directory of a batch")
    parser.add_argument("--size_mm", metavar="MM", required=True,
                        help="the side of the printed QR code with its 4-module quiet zone, in "
                             "millimetres: the largest whole number of printer dots per module "
                             "that fits is used (e.g. 20)")
    parser.add_argument("--dpi", type=any_int, metavar="N", required=True,
                        help="the printer's resolution in dots per inch (72..2400, e.g. 203, "
                             "300 or 600)")
    parser.add_argument("--format", metavar="LIST", default="png,svg",
                        help="png, svg or png,svg (default: both)")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="where to write the labels (default: LOT/labels)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing label files")


def run_labels(args: argparse.Namespace, ui: UI) -> int:
    from ...station.labels import LabelsRequest, labels_command

    return labels_command(request_from(LabelsRequest, args), ui)
