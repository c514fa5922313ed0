"""``provision``: the STM32 provisioning station."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import (
    add_json_argument,
    add_ledger_arguments,
    add_profile_arguments,
    any_int,
    request_from,
)


def add_provision_arguments(parser: argparse.ArgumentParser) -> None:
    """The provisioning station: one worker per serial port, outcomes to a manifest."""
    parser.add_argument("--port", metavar="PORT", action="append",
                        help="a board's serial port (repeatable: all are served at once)")
    parser.add_argument("--protocol", choices=("csr", "st-demo"), default="csr",
                        help="csr (default): the device sends a CSR, the station issues its "
                             "DAC from the PAI (see docs/stm32.md); st-demo: wait for ST's "
                             "STM_Provisioning firmware's finish:NNN")
    parser.add_argument("--manifest", metavar="FILE", required=True,
                        help="CSV file every board's outcome is appended to (created if "
                             "missing)")
    parser.add_argument("--pai_cert", metavar="FILE", help="csr: the PAI certificate")
    parser.add_argument("--pai_key", metavar="FILE|URI",
                        help="csr: the PAI private key (a file, or a pkcs11: URI: the key "
                             "stays in its token)")
    parser.add_argument("--vendor_id", type=any_int, help="csr: the product's vendor ID")
    parser.add_argument("--product_id", type=any_int, help="csr: the product ID")
    parser.add_argument("--dac_common_name", metavar="CN", default="Matter DAC",
                        help="csr: common name of the issued DACs (default: Matter DAC)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="per step (csr: answer, CSR, final status: 10/30/30 s; st-demo: "
                             "finish frame, 15 s)")
    parser.add_argument("--baud", type=any_int, default=115200,
                        help="baud rate (default 115200, as ST's firmware)")
    add_ledger_arguments(parser, "provision")
    add_profile_arguments(parser)
    add_json_argument(parser)


def run_provision(args: argparse.Namespace, ui: UI) -> int:
    from ...station.provision.command import ProvisionRequest, provision_command

    return provision_command(request_from(ProvisionRequest, args, ignore=("json",)), ui)
