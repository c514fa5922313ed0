"""``flash``: program only the factory data hex into an nRF device."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import add_json_argument, request_from


def add_flash_arguments(parser: argparse.ArgumentParser) -> None:
    """Program only the factory data hex, erasing only the pages it covers."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-d", "--build-dir", metavar="DIR",
                        help="west build directory (default: build/, or the current directory "
                             "when it is one); sysbuild: the default image's "
                             "zephyr/factory_data.hex and zephyr/.config")
    source.add_argument("--hex", metavar="FILE", help="the factory data .hex to program")
    parser.add_argument("--tool", choices=("nrfjprog", "nrfutil"),
                        help="programmer (default: nrfutil; nrfjprog when nrfutil is not on "
                             "PATH)")
    parser.add_argument("--snr", "--dev-id", "--serial-number", dest="snr", metavar="SNR",
                        help="serial number of the debugger (J-Link) to use, digits only as "
                             "`flash --list` shows them (--dev-id as west flash, "
                             "--serial-number as nrfutil); --sn is the device's serial number, "
                             "never a probe")
    parser.add_argument("--sn", metavar="SERIAL", dest="device_sn",
                        help=argparse.SUPPRESS)  # refused: never a prefix of --snr, see run
    source.add_argument("--list", action="store_true",
                        help="list the connected J-Link probes (nrfutil --json device list; "
                             "nrfjprog --ids with --tool nrfjprog) and program nothing")
    parser.add_argument("--family", type=str.upper, choices=("NRF52", "NRF53", "NRF54L", "NRF91"),
                        help="SoC family (default with a build directory: from zephyr/.config; "
                             "needed by nrfjprog with --hex)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run nothing (no tool needs to be installed)")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not reset the device after programming")
    parser.add_argument("--core", type=str.lower, choices=("app", "net"),
                        help="nRF5340 core to program: app (application core, the default) or "
                             "net (network core: nrfjprog --coprocessor CP_NETWORK, nrfutil "
                             "--core Network, 2 KiB pages); with a build directory: net when its "
                             "zephyr/.config has CONFIG_SOC_NRF5340_CPUNET=y")
    add_json_argument(parser)


def run_flash(args: argparse.Namespace, ui: UI) -> int:
    from ...errors import InputError
    from ...station.flash import FlashRequest, flash_command

    if args.device_sn is not None:
        raise InputError(f"--sn {args.device_sn}: --sn is the device's serial number; the "
                         "J-Link probe is chosen with --snr SERIAL (or --dev-id, "
                         "--serial-number; see --list)")
    return flash_command(request_from(FlashRequest, args, ignore=("device_sn", "json")), ui)
