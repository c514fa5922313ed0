"""Reading input files: a failure names the option (or key) and the file, on one line.

Every input has limits, so a hostile file gets one line and never a hang or a memory blow-up:
only regular files are read (not ``/dev/zero``, a FIFO or a directory), at most
:data:`MAX_INPUT_BYTES`; JSON and YAML are nested at most :data:`MAX_DEPTH` deep and hold at
most :data:`MAX_NODES` values counted as a reader walks them (a YAML alias "bomb" counts every
expansion of its aliases).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import InputError, Message, Where

if TYPE_CHECKING:  # pathlib costs ~5 % of a single generate's start-up
    from pathlib import Path

#: Larger inputs are refused: a merged firmware .hex of a 4 MiB flash is ~12 MiB.
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: Deepest nesting of JSON / YAML values accepted (the device reads user data 4 deep).
MAX_DEPTH = 64
#: Most values (with aliases expanded) in one JSON / YAML document.
MAX_NODES = 200_000
#: Longest number (digits) in a JSON document (Python's own int/str conversion limit).
MAX_NUMBER_DIGITS = 4300

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _where(where: Where, detail: str) -> InputError:
    return InputError(Message.at(where, detail))


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot name a file at all (empty, NUL character), or None."""
    text = os.fspath(path)
    if text == "":
        return "the path is empty"
    if "\0" in text:
        return "the path contains a NUL character"
    return None


def read_file(path: str | Path, option: Where, limit: int = MAX_INPUT_BYTES) -> bytes:
    """Read a regular file of at most ``limit`` bytes; a failure names the option and the file."""
    label = f"{option} {path}" if os.fspath(path) else f"{option} ''"
    problem = path_problem(path)
    if problem:
        raise InputError(f"{label}: cannot read the file ({problem})")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise InputError(f"{label}: is {kind}, not a file")
    if info.st_size > limit:
        raise InputError(f"{label}: the file is {info.st_size} bytes, more than the "
                         f"{limit} accepted")
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputError(f"{label}: the file is more than the {limit} bytes accepted")
    return data


def parse_json(raw: bytes | str, where: Where) -> Any:
    """A JSON document: UTF-8 (a BOM is refused: strict JSON has none), no NaN/Infinity, no
    key twice in an object, numbers of at most 4300 digits, nesting and size limited."""
    import json

    if isinstance(raw, bytes):
        if raw.startswith(b"\xef\xbb\xbf"):
            raise _where(where, "not valid JSON (starts with a UTF-8 byte order mark; save the "
                                "file without it)")
        data = raw
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise _where(where, f"not valid JSON (not UTF-8: byte 0x{data[exc.start]:02x} at "
                                f"line {line}, column {column})") from None

    elif utf8_problem(raw):  # text from argv: a byte that was not UTF-8 (surrogate escape)
        from ..core.validate import control_problem

        raise _where(where, f"not valid JSON ({control_problem(raw)})")

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def integer(text: str) -> int:
        if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
        return int(text)

    def real(text: str) -> float:
        if len(text) > MAX_NUMBER_DIGITS:
            raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
        number = float(text)
        if number in (float("inf"), float("-inf")):
            raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is "
                             "out of range")
        return number

    def pairs(items: list) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result:
                raise ValueError(f"key {key!r} appears twice in an object")
            result[key] = value
        return result

    try:
        value = json.loads(raw, parse_constant=constant, object_pairs_hook=pairs,
                           parse_int=integer, parse_float=real)
    except json.JSONDecodeError as exc:
        raise _where(where, f"not valid JSON ({exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno})") from None
    except RecursionError:
        raise _where(where, f"not accepted: JSON nested more than {MAX_DEPTH} deep") from None
    except ValueError as exc:  # the hooks above; int() digit limit
        detail = str(exc)
        if "digits" in detail:
            detail = f"a number has more than {MAX_NUMBER_DIGITS} digits"
        raise _where(where, f"not valid JSON ({detail})") from None
    check_shape(value, where, "JSON")
    return value


def parse_yaml(raw: bytes | str, where: Where) -> Any:
    """A YAML document (safe loader), nesting and size (aliases expanded) limited."""
    import yaml

    try:
        value = yaml.load(raw, Loader=_unique_keys_loader())  # noqa: S506 (a SafeLoader)
    except DuplicateKey as exc:
        raise _where(where, f"not accepted: key {exc.key!r} appears twice in a mapping (at "
                            f"line {exc.line}; the YAML reader would keep only the last)") from None
    except yaml.YAMLError as exc:
        raise _where(where, f"not valid YAML ({yaml_problem(exc)}); fix the syntax") from None
    except RecursionError:
        raise _where(where, f"not accepted: YAML nested more than {MAX_DEPTH} deep") from None
    except (ValueError, OverflowError) as exc:  # e.g. a number of more than 4300 digits
        detail = "a number has more than 4300 digits" if "digits" in str(exc) else str(exc)
        raise _where(where, f"not valid YAML ({detail})") from None
    check_shape(value, where, "YAML")
    return value


class DuplicateKey(Exception):
    """A YAML mapping that gives a key twice (YAML forbids it; PyYAML keeps the last)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


_LOADER: Any = None


def _unique_keys_loader() -> Any:
    """PyYAML's SafeLoader, refusing a key given twice in one mapping (merge keys ``<<``
    keep their meaning: what they bring in may be overridden, as YAML says)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class UniqueKeyLoader(yaml.SafeLoader):
            def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                seen: set = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        repeated = key in seen
                    except TypeError:  # an unhashable key: SafeLoader refuses it itself
                        continue
                    if repeated:
                        raise DuplicateKey(key, key_node.start_mark.line + 1)
                    seen.add(key)
                return super().construct_mapping(node, deep=deep)

        _LOADER = UniqueKeyLoader
    return _LOADER


def yaml_problem(exc: Exception) -> str:
    """``while parsing ... at line 1, column 15: expected ... at line 2, column 17``."""
    parts = []
    for text, mark in ((getattr(exc, "context", None), getattr(exc, "context_mark", None)),
                       (getattr(exc, "problem", None), getattr(exc, "problem_mark", None))):
        if text:
            parts.append(f"{text} at line {mark.line + 1}, column {mark.column + 1}" if mark
                         else text)
    return ": ".join(parts) or type(exc).__name__


def utf8_problem(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate: ``"\\udcba"`` in JSON, or
    a byte that was not UTF-8 kept by a ``surrogateescape`` reader), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return (f"{text[:20]!r}{'...' if len(text) > 20 else ''} holds a lone surrogate "
                f"U+{code:04X} at character {exc.start + 1}, which is not a character")
    return None


def check_shape(value: Any, where: Where, what: str, max_depth: int = MAX_DEPTH,
                max_nodes: int = MAX_NODES) -> None:
    """Refuse a document nested deeper than ``max_depth`` or holding more than ``max_nodes``
    values when walked as a tree (shared references, YAML aliases, count each time)."""
    stack: list = [(value, 1, None)]
    nodes = 0
    while stack:
        item, depth, key = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise _where(where, f"not accepted: the {what} holds more than {max_nodes} values "
                                "(with its aliases expanded)")
        if isinstance(item, str):
            problem = utf8_problem(item)
            if problem:
                named = f"key {key!r}: " if isinstance(key, str) and not utf8_problem(key) \
                    else ""
                raise _where(where, f"{named}not accepted: the text {problem} (accepted: text "
                                    "that can be written as UTF-8)")
            continue
        if isinstance(item, dict):
            children = [(k, None) for k in item] + [(v, k) for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            children = [(child, key) for child in item]
        else:
            continue
        if children and depth >= max_depth:
            raise _where(where, f"not accepted: {what} nested more than {max_depth} deep")
        stack.extend((child, depth + 1, name) for child, name in children)


def read_json_file(path: str | Path, where: str) -> Any:
    """A JSON file through every limit of :func:`read_file` and :func:`parse_json`
    (``where`` names it in messages, e.g. ``batch state lot/batch.json``)."""
    return parse_json(read_file(path, where), f"{where} {path}")


def csv_lines(path: str | Path, where: str) -> Iterator[tuple[int, dict]]:
    """The rows of a CSV file with a header, as ``(line number, row)``, read as a stream (a
    manifest of millions of rows is never held whole). A line that is not UTF-8 (a 0xFF
    byte), a NUL, a quote left open or a row with more or fewer cells than the header is one
    :class:`InputError` naming the file and the line."""
    import csv

    label = f"{where} {path}"
    problem = path_problem(path)
    if problem:
        raise InputError(f"{label}: cannot read the file ({problem})")
    number = 0

    def lines(stream: Any) -> Iterator[str]:
        nonlocal number
        for raw in stream:
            number += 1
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{label}: line {number} is not UTF-8 (byte 0x"
                                 f"{raw[exc.start]:02x} at column {exc.start + 1}); restore "
                                 "the file") from None

    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed by the with below; an error first)
    except OSError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    with stream:
        reader = csv.reader(lines(stream), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return
            for cells in reader:
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise InputError(f"{label}: line {reader.line_num} has {len(cells)} cells, "
                                     f"the header {len(header)}; restore the file")
                yield reader.line_num, dict(zip(header, cells))
        except csv.Error as exc:
            raise InputError(f"{label}: line {reader.line_num} is not valid CSV ({exc}); "
                             "restore the file") from None
