"""``verify``: an image (or a batch directory) against its certificates and codes."""

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


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="factory data: .hex, .bin or .json, or a batch directory (checks "
                             "every device against manifest.csv and the series' PAI)")
    parser.add_argument("--offset", type=any_int, help="partition address in a multi-segment .hex")
    parser.add_argument("--jobs", type=any_int, metavar="N",
                        help="batch directory: worker processes (default: one per CPU)")
    parser.add_argument("--dac_cert", metavar="FILE", help="expected DAC certificate")
    parser.add_argument("--pai_cert", metavar="FILE", help="expected PAI certificate")
    parser.add_argument("--paa_cert", metavar="FILE", help="PAA that must have signed the PAI")
    parser.add_argument("--passcode", type=any_int,
                        help="passcode, to check the verifier (when the image holds none)")
    parser.add_argument("--codes", metavar="FILE",
                        help="onboarding codes file (default: FILE's .txt when it exists)")
    parser.add_argument("--qr", metavar="MT:...", help="a QR payload to check against the image")
    parser.add_argument("--manual", metavar="DIGITS", help="a manual pairing code to check")
    add_profile_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="batch directory: NDJSON events on stdout (schema factory-line/1, "
                             "docs/events.md): a device_verified event per device (ok, "
                             "problems), an error per repeated identity, run_finished")
    add_format_arguments(parser, detect=True)
    add_key_storage_argument(parser)


def run_verify(args: argparse.Namespace, ui: UI) -> int:
    from ...station.batch.verify import is_batch_dir, verify_batch

    if is_batch_dir(args.file):
        from ...core.profile import policy

        return verify_batch(args.file, pai_cert=args.pai_cert, paa_cert=args.paa_cert,
                            jobs=args.jobs, ui=ui,
                            profile=policy(args.profile, allow_nonconformant_certs=args
                                           .allow_nonconformant_certs))
    if args.json:
        from ...errors import InputError

        raise InputError(f"--json: only for a batch directory (one with a manifest.csv), not "
                         f"{args.file}")
    from ...jobs.commands import VerifyRequest, verify_command

    return verify_command(request_from(VerifyRequest, args, ignore=("jobs", "json")), ui)
