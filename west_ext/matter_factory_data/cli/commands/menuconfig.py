"""``menuconfig``: the factory data Kconfig symbols of a build or a fragment."""

from __future__ import annotations

import argparse

from ...ui import UI
from ..options import add_build_dir_argument, request_from


def add_menuconfig_arguments(parser: argparse.ArgumentParser) -> None:
    """kconfiglib's menuconfig over the factory data Kconfig, on a build or a .conf fragment."""
    target = parser.add_mutually_exclusive_group()
    add_build_dir_argument(target, "edit this west build's zephyr/.config (sysbuild: the "
                                   "default image's); the default when a build directory is "
                                   "found")
    target.add_argument("--conf", metavar="FILE",
                        help="edit a .conf fragment holding only factory data symbols (default "
                             "outside a build directory: factory_data.conf); use it with "
                             "west build -- -DEXTRA_CONF_FILE=FILE")
    parser.add_argument("--set", metavar="SYMBOL=VALUE", action="append", default=[],
                        help="set a symbol without the interactive UI (repeatable; CONFIG_ "
                             "prefix optional; strings with or without quotes)")
    parser.add_argument("--kconfig", metavar="FILE",
                        help="the factory data Kconfig (default: the one of this package)")


def run_menuconfig(args: argparse.Namespace, ui: UI) -> int:
    from ...zephyr.menuconfig import MenuconfigRequest, menuconfig_command

    return menuconfig_command(request_from(MenuconfigRequest, args), ui)
