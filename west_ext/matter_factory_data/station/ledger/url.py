"""Ledger URLs: ``sqlite:///ABSOLUTE/PATH`` (as file URLs: three slashes, then the absolute
path) or a libpq URL ``postgresql://USER@/DB?host=/socket/dir&port=N``."""

from __future__ import annotations

from typing import NamedTuple, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from ...errors import InputError, Subject

ACCEPTED = ("accepted: sqlite:///ABSOLUTE/PATH.db or "
            "postgresql://USER@/DB?host=/SOCKET/DIR&port=N")

#: Our own query parameters of a SQLite URL (seconds to wait for a lock held by another
#: process, default 10).
SQLITE_PARAMETERS = ("timeout",)


class LedgerUrl(NamedTuple):
    kind: str  # "sqlite" | "postgresql"
    text: str  # as given, for messages (a password is hidden)
    path: Optional[str] = None  # sqlite: the database file
    timeout: float = 10.0  # sqlite: busy timeout in seconds
    conninfo: Optional[str] = None  # postgresql: the URL passed to libpq


def parse_ledger_url(text: str, subject: str = "ledger") -> LedgerUrl:
    """The parsed URL, or one line naming what is wrong."""
    where = Subject(subject)
    if not isinstance(text, str) or not text or not text.isprintable():
        raise InputError.at(where, f"{text!r} is not a ledger URL ({ACCEPTED})")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InputError.at(where, f"{_shown(text)} is not a URL ({exc}; {ACCEPTED})") \
            from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return _sqlite(text, parts, where)
    if scheme in ("postgresql", "postgres"):
        return _postgresql(text, parts, where)
    raise InputError.at(where, f"{_shown(text)}: unknown scheme {parts.scheme or '(none)'!r} "
                               f"({ACCEPTED})")


def _sqlite(text: str, parts, where) -> LedgerUrl:
    if parts.netloc:
        raise InputError.at(where, f"{_shown(text)}: a SQLite URL has no host (three slashes "
                                   f"then the absolute path: sqlite:///srv/line/ledger.db)")
    path = unquote(parts.path)
    if not path.startswith("/") or path.endswith("/") or "\0" in path:
        raise InputError.at(where, f"{_shown(text)}: the path must be absolute and name a "
                                   f"file (sqlite:///srv/line/ledger.db)")
    timeout = 10.0
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in SQLITE_PARAMETERS:
            raise InputError.at(where, f"{_shown(text)}: unknown parameter {key!r} (accepted: "
                                       f"{', '.join(SQLITE_PARAMETERS)})")
        try:
            timeout = float(value)
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 3600:
            raise InputError.at(where, f"{_shown(text)}: timeout={value!r} is not accepted "
                                       "(accepted: 0..3600 seconds)")
    return LedgerUrl("sqlite", text, path=path, timeout=timeout)


def _postgresql(text: str, parts, where) -> LedgerUrl:
    if not parts.path.strip("/"):
        raise InputError.at(where, f"{_shown(text)}: name the database "
                                   "(postgresql://USER@/DB?host=/SOCKET/DIR)")
    if parts.password is not None:
        raise InputError.at(where, "a PostgreSQL password in the URL is visible to every user "
                                   "of the machine (argv); use ~/.pgpass or PGPASSWORD")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise InputError.at(where, f"{_shown(text)}: {exc}") from None
    return LedgerUrl("postgresql", text, conninfo=text)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:197] + "...")


def check_station(name: str | None) -> str | None:
    """A station name as recorded in the ledger and shown in exports: 1..64 characters, no
    control character, not a spreadsheet formula."""
    if name is None:
        return None
    from ...core.validate import control_problem, formula_problem

    problem = (control_problem(name) or formula_problem(name)
               or (None if 1 <= len(name) <= 64 else "must be 1..64 characters"))
    if problem:
        raise InputError.at(Subject("station"), f"{_shown(name)}: {problem}")
    return name
