"""``batch``: factory data for N devices, each with its own identity."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import (
    add_build_dir_argument,
    add_field_arguments,
    add_format_arguments,
    add_json_argument,
    add_ledger_arguments,
    any_int,
    request_from,
)


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """generate's field options (common to every device) plus the series options."""
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="the batch directory: a new or empty one, or the directory of the "
                             "same series to resume or extend it")
    parser.add_argument("--count", type=any_int, metavar="N",
                        help="number of devices of the series (a rerun with a larger N "
                             "continues it)")
    parser.add_argument("--csv", metavar="FILE",
                        help="per-device values, one row per device; columns among sn, "
                             "passcode, discriminator, spake2_salt (base64), rd_uid (hex)")
    parser.add_argument("--fields", metavar="FILE",
                        help="common values as a JSON object keyed by option name "
                             "(options given on the command line win)")
    add_build_dir_argument(parser, "take the common values from this west build: its "
                                   "CONFIG_CHIP_DEVICE_* symbols and factory_data partition "
                                   "(--fields and options win)")
    parser.add_argument("--pai_key", metavar="FILE|URI",
                        help="the key of --pai_cert: the PAI signs every DAC (a file, or a "
                             "pkcs11: URI: the key stays in its token)")
    parser.add_argument("--sn_template", metavar="TEMPLATE",
                        help="serial numbers from the device index n, e.g. 'SN-{n:06d}' "
                             "(default: 16 random hex digits)")
    parser.add_argument("--discriminators", choices=("random", "sequential"), default="random",
                        help="random without repetition (default), or sequential from "
                             "--discriminator (default 0)")
    parser.add_argument("--allow_shared_discriminators", action="store_true",
                        help="allow more than 4096 devices: discriminators are then shared and "
                             "the manifest says with whom")
    parser.add_argument("--jobs", type=any_int, metavar="N",
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--qr", choices=("png", "svg", "none"), default="png",
                        help="QR code image per device (default: png)")
    parser.add_argument("--label_size_mm", metavar="MM",
                        help="also write print labels to DIR/labels (as the labels command "
                             "does): the QR code's side in millimetres, quiet zone included")
    parser.add_argument("--label_dpi", type=any_int, metavar="N",
                        help="the label printer's resolution in dots per inch (72..2400)")
    parser.add_argument("--label_format", metavar="LIST", default="png,svg",
                        help="label images: png, svg or png,svg (default: both)")
    parser.add_argument("--seed", metavar="TEXT",
                        help="make every random choice reproducible (tests and fixtures only: "
                             "whoever knows the seed knows every passcode and key)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more details")
    parser.add_argument("-s", "--schema", metavar="FILE",
                        help="also validate a device's JSON against this JSON schema")
    parser.add_argument("--include_passcode", action="store_true",
                        help="store the passcode in the factory data and the manifest "
                             "(development only)")
    add_ledger_arguments(parser, "batch")
    add_field_arguments(parser)
    add_format_arguments(parser, cd=True)
    add_json_argument(parser)


def run_batch(args: argparse.Namespace, ui: UI) -> int:
    from ...station.batch.run import BatchRequest
    from ...station.batch.run import run_batch as batch_command

    return batch_command(request_from(BatchRequest, args, ignore=("json",)), ui)
