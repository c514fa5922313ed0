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
from pathlib import Path
from typing import Any

from ..errors import InputError, Message, Where

#: Larger inputs are refused: a merged firmware .hex of a 4 MiB flash is ~12 MiB.
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: Deepest nesting of JSON / YAML values accepted (the device reads user data 4 deep).
MAX_DEPTH = 64
#: Most values (with aliases expanded) in one JSON / YAML document.
MAX_NODES = 200_000

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
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _where(where, f"not valid JSON (not UTF-8: byte 0x{raw[exc.start]:02x} at "
                                f"position {exc.start})") from None

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def pairs(items: list) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result:
                raise ValueError(f"key {key!r} appears twice in an object")
            result[key] = value
        return result

    try:
        value = json.loads(raw, parse_constant=constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise _where(where, f"not valid JSON ({exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno})") from None
    except RecursionError:
        raise _where(where, f"not accepted: JSON nested more than {MAX_DEPTH} deep") from None
    except ValueError as exc:  # the hooks above; int() digit limit
        detail = str(exc)
        if "digits" in detail:
            detail = "a number has more than 4300 digits"
        raise _where(where, f"not valid JSON ({detail})") from None
    check_shape(value, where, "JSON")
    return value


def parse_yaml(raw: bytes | str, where: Where) -> Any:
    """A YAML document (safe loader), nesting and size (aliases expanded) limited."""
    import yaml

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise _where(where, f"not valid YAML ({yaml_problem(exc)}); fix the syntax") from None
    except RecursionError:
        raise _where(where, f"not accepted: YAML nested more than {MAX_DEPTH} deep") from None
    except (ValueError, OverflowError) as exc:  # e.g. a number of more than 4300 digits
        detail = "a number has more than 4300 digits" if "digits" in str(exc) else str(exc)
        raise _where(where, f"not valid YAML ({detail})") from None
    check_shape(value, where, "YAML")
    return value


def yaml_problem(exc: Exception) -> str:
    """``while parsing ... at line 1, column 15: expected ... at line 2, column 17``."""
    parts = []
    for text, mark in ((getattr(exc, "context", None), getattr(exc, "context_mark", None)),
                       (getattr(exc, "problem", None), getattr(exc, "problem_mark", None))):
        if text:
            parts.append(f"{text} at line {mark.line + 1}, column {mark.column + 1}" if mark
                         else text)
    return ": ".join(parts) or type(exc).__name__


def check_shape(value: Any, where: Where, what: str, max_depth: int = MAX_DEPTH,
                max_nodes: int = MAX_NODES) -> None:
    """Refuse a document nested deeper than ``max_depth`` or holding more than ``max_nodes``
    values when walked as a tree (shared references, YAML aliases, count each time)."""
    stack = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise _where(where, f"not accepted: the {what} holds more than {max_nodes} values "
                                "(with its aliases expanded)")
        if isinstance(item, dict):
            children = list(item.keys()) + list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        if children and depth >= max_depth:
            raise _where(where, f"not accepted: {what} nested more than {max_depth} deep")
        stack.extend((child, depth + 1) for child in children)
