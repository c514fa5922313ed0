"""``check``: the factory_data partition of a layout or build directory."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import add_build_dir_argument, request_from


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    add_build_dir_argument(source, "a west build directory: uses its partitions.yml, "
                                   "zephyr/.config (SoC, write protection), zephyr/zephyr.elf "
                                   "and zephyr/factory_data.bin (sysbuild: the default image's)")
    source.add_argument("--pm-static", metavar="FILE", help="a pm_static.yml to check")
    source.add_argument("--partitions", metavar="FILE",
                        help="a partitions.yml (Partition Manager output) to check")
    source.add_argument("--devicetree", metavar="FILE",
                        help="a devicetree to check: a build's zephyr/zephyr.dts or "
                             "zephyr/edt.pickle (node label factory_data_partition, else alias "
                             "factory-data, with every other partition of its flash)")
    parser.add_argument("--zephyr-base", metavar="DIR",
                        help="the Zephyr tree whose python-devicetree reads --devicetree / the "
                             "build's edt.pickle (default: the build's ZEPHYR_BASE, else the "
                             "environment, else the installed devicetree package)")
    parser.add_argument("--soc", metavar="SOC",
                        help="the SoC: nrf52840, nrf5340 (application core), nrf5340_cpunet, "
                             "nrf54l15, nrf54l10, nrf54l05, nrf54lm20a, nrf54h20, nrf91xx, other "
                             "nrf52xxx (default with -d: CONFIG_SOC)")
    parser.add_argument("--data", metavar="FILE",
                        help="the factory data image (.bin, or .hex to also check its address)")
    parser.add_argument("--elf", metavar="FILE",
                        help="the firmware zephyr.elf: no loadable section may lie in factory_data")
    parser.add_argument("--write-protect", action=argparse.BooleanOptionalAction, default=None,
                        help="check the fprotect block around factory_data against "
                             "settings_storage / storage_partition (default with -d: "
                             "CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT; otherwise on where the SoC "
                             "has write protection, as the firmware's default)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only problems, not the layout report")


def run_check(args: argparse.Namespace, ui: UI) -> int:
    from ...zephyr.layout_check import CheckRequest
    from ...zephyr.layout_check import run_check as check_command

    return check_command(request_from(CheckRequest, args), ui)
