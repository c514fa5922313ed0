"""The command-line parser class every front end uses: one-line errors, exit code 2, and one
option style (``_`` and ``-`` are the same separator)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2, and one option style:
    ``--vendor_id`` and ``--vendor-id`` (any mix of ``_`` and ``-``) name the same option,
    prefixes resolve as argparse resolves them, and a mistyped option gets a suggestion."""

    #: The last usage error (for the ``error`` event of ``--json``).
    last_error: str = ""

    #: Set while :meth:`add_argument` runs (see :meth:`_get_formatter`).
    _adding = False

    def add_argument(self, *args, **kwargs):
        self._adding = True
        try:
            return super().add_argument(*args, **kwargs)
        finally:
            self._adding = False

    def add_subparsers(self, **kwargs):
        # argparse formats this parser's usage to name the sub-commands' prog; with no
        # positionals and no custom usage that is exactly ``self.prog`` (and needs no
        # formatter, see _get_formatter).
        if kwargs.get("prog") is None and self.usage is None and not any(
                not action.option_strings for action in self._actions):
            kwargs["prog"] = self.prog
        return super().add_subparsers(**kwargs)

    def _get_formatter(self):
        # argparse formats every new option's metavar once to check it; its formatter asks
        # shutil for the terminal width, and importing shutil (with bz2, lzma, fnmatch) is
        # ~2 ms of every run. The check does not depend on the width; help output does.
        if self._adding:
            return self.formatter_class(prog=self.prog, width=80)  # type: ignore[call-arg]
        return super()._get_formatter()

    def error(self, message: str) -> NoReturn:
        Parser.last_error = message
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        if args is None:
            args = sys.argv[1:]
        if not any(isinstance(a, argparse._SubParsersAction) for a in self._actions):
            args = self.resolve_long_options(list(args))
        return super().parse_known_args(args, namespace)

    def resolve_long_options(self, args: list) -> list:
        """Each ``--name[=value]`` spelled as this parser's own option string: ``_`` and
        ``-`` are the same separator; an exact name wins, else a prefix of exactly one option
        (argparse's abbreviation); several: ambiguous; none: the closest is suggested."""
        by_key: dict = {}
        for string, action in self._option_string_actions.items():
            if string.startswith("--"):
                by_key.setdefault(_option_key(string), (string, action))
        resolved: list[str] = []
        for position, arg in enumerate(args):
            if arg == "--":
                return resolved + args[position:]
            if not arg.startswith("--") or arg in self._option_string_actions:
                resolved.append(arg)
                continue
            name, sep, value = arg.partition("=")
            key = _option_key(name)
            if key in by_key:
                resolved.append(by_key[key][0] + sep + value)
                continue
            matches: dict = {}
            for option_key, (string, action) in by_key.items():
                if option_key.startswith(key) and len(key) >= getattr(action, "min_prefix", 0):
                    matches.setdefault(id(action), string)
            if len(matches) == 1:
                resolved.append(next(iter(matches.values())) + sep + value)
            elif len(matches) > 1:
                self.error(f"ambiguous option: {name} could match "
                           f"{', '.join(matches.values())}")
            else:
                import difflib

                close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.6)
                if close:
                    self.error(f"unrecognized option {name} (did you mean "
                               f"{by_key[close[0]][0]}?)")
                resolved.append(arg)
        return resolved


def abbreviable_from(action: argparse.Action, length: int) -> argparse.Action:
    """Let ``action`` be abbreviated only to ``length`` characters or more, so an option added
    after the reference's does not make a reference prefix ambiguous (``--disc`` stays
    ``--discriminator``; ``--disco`` is ``--discovery``)."""
    action.min_prefix = length  # type: ignore[attr-defined]
    return action


def _option_key(option: str) -> str:
    """``--vendor-id`` and ``--vendor_id`` -> ``vendor_id``."""
    return option[2:].replace("-", "_")
