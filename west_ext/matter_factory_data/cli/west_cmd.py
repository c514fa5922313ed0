"""``west factory-data``: the same commands as ``matter-factory-data``, inside west."""

from __future__ import annotations

import argparse

from west.commands import WestCommand

from . import app as cli

DESCRIPTION = """\
Matter factory data for nRF Connect SDK / Zephyr.

The same commands as the `matter-factory-data` console script:
""" + "\n".join(f"  {name:10} {text}" for name, (text, _, _) in cli.COMMANDS.items())


class WestUI(cli.UI):
    """Routes messages through west's output helpers (colours, verbosity)."""

    def __init__(self, command: WestCommand) -> None:
        super().__init__()
        self.command = command

    def info(self, message: str) -> None:
        if self.events is not None:  # --json: stdout carries the events only
            print(message, file=self.err)
        else:
            self.command.inf(message)

    def warn(self, message: str) -> None:
        self.command.wrn(message)

    def error(self, message: str) -> None:
        self.command.err(message)


class FactoryData(WestCommand):
    def __init__(self) -> None:
        super().__init__("factory-data", "generate, check and inspect Matter factory data",
                         DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(self.name, help=self.help, description=self.description,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        subparsers = parser.add_subparsers(metavar="COMMAND", dest="factory_data_command",
                                           parser_class=cli.Parser)
        subparsers.required = True
        cli.add_commands(subparsers)
        return parser

    def do_run(self, args, unknown_args) -> None:
        code = cli.run(cli.command_namespace(args), WestUI(self))
        if code:
            raise SystemExit(code)
