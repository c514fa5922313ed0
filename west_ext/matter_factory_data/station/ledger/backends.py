"""Ledger backends behind one small interface: run a function in one write transaction,
retrying what is safe to retry, and turn every database failure into one sentence.

SQLite (stdlib ``sqlite3``): WAL, ``synchronous=FULL`` (NORMAL may lose the last commits on
power loss in WAL mode), ``busy_timeout``, ``isolation_level=None`` and ``BEGIN IMMEDIATE``
(a deferred transaction that reads then writes skips the busy handler and fails with
"database is locked"). PostgreSQL (psycopg 3): one connection, READ COMMITTED, explicit
transactions; a lost connection (a server restart) is reopened and the transaction run
again within the retry window. Functions given to :meth:`Backend.run` must be safe to run
again after a commit whose answer was lost (the ledger makes them so with claim tokens).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Callable

from ...errors import InputError, Subject
from .errors import LedgerError
from .url import LedgerUrl

#: Seconds a PostgreSQL ledger may stay unreachable mid-run before the run stops.
RETRY_SECONDS = float(os.environ.get("MFD_LEDGER_RETRY_SECONDS", "30"))


class Transaction:
    """What a function run by :meth:`Backend.run` gets: ``execute`` with ``?`` placeholders."""

    def __init__(self, cursor, postgres: bool) -> None:
        self.cursor, self.postgres = cursor, postgres

    def execute(self, sql: str, params: tuple = ()) -> Any:
        if self.postgres:
            sql = sql.replace("?", "%s")
        self.cursor.execute(sql, params)
        return self.cursor

    def executemany(self, sql: str, rows: list) -> None:
        if self.postgres:
            sql = sql.replace("?", "%s")
        self.cursor.executemany(sql, rows)

    def one(self, sql: str, params: tuple = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple = ()) -> list:
        return self.execute(sql, params).fetchall()


class Backend:
    dialect = ""

    def __init__(self, url: LedgerUrl) -> None:
        self.url = url
        self._lock = threading.Lock()  # provision's workers share one connection

    def run(self, work: Callable[[Transaction], Any], *, init: bool = False,
            single: bool = False) -> Any:
        """``work`` in one transaction; ``single``: ``work`` runs one statement, which is its
        own transaction (no BEGIN/COMMIT round trips)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.url.text


class SqliteBackend(Backend):
    dialect = "sqlite"

    def __init__(self, url: LedgerUrl, create: bool = True) -> None:
        import sqlite3

        super().__init__(url)
        path = url.path
        assert path is not None
        parent = os.path.dirname(path) or "/"
        if not os.path.isdir(parent):
            raise InputError.at(Subject("ledger"), f"{url.text}: the directory {parent} does "
                                                   "not exist")
        if not os.path.exists(path):
            if not create:
                raise InputError.at(Subject("ledger"), f"{url.text}: no such ledger")
            try:  # an empty file is an empty database; 0600: it holds the passcodes
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as exc:
                raise LedgerError(f"ledger {url.text}: cannot create it ({exc.strerror})") \
                    from None
        elif not os.path.isfile(path):
            raise InputError.at(Subject("ledger"), f"{url.text}: not a file")
        try:
            self.conn = sqlite3.connect(path, timeout=url.timeout, isolation_level=None,
                                        check_same_thread=False)
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute(f"PRAGMA busy_timeout={int(url.timeout * 1000)}")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        if str(mode).lower() != "wal":
            raise LedgerError(f"ledger {url.text}: SQLite refused WAL mode (journal mode "
                              f"{mode}); keep the ledger on a local disk")

    def run(self, work: Callable[[Transaction], Any], *, init: bool = False,
            single: bool = False) -> Any:
        import sqlite3

        with self._lock:
            cursor = self.conn.cursor()
            if single:  # autocommit (isolation_level=None): the statement is a transaction
                try:
                    return work(Transaction(cursor, postgres=False))
                except sqlite3.IntegrityError:
                    raise
                except sqlite3.Error as exc:
                    raise self._error(exc) from None
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            try:
                result = work(Transaction(cursor, postgres=False))
                cursor.execute("COMMIT")
                return result
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.rollback()
                if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                    raise self._error(exc) from None
                raise

    def _error(self, exc) -> Exception:
        text = str(exc)
        low = text.lower()
        where = f"ledger {self.url.text}"
        if "locked" in low or "busy" in low:
            return LedgerError(f"{where}: locked by another process for more than "
                               f"{self.url.timeout:g} s; nothing was claimed by this step "
                               "(run again when it is free)")
        if "full" in low:
            return LedgerError(f"{where}: full ({text}); nothing was claimed by this step: "
                               "free space and run again")
        if "not a database" in low or "malformed" in low:
            return InputError.at(Subject("ledger"), f"{self.url.text}: not a ledger ({text})")
        if "readonly" in low or "read-only" in low:
            return LedgerError(f"{where}: read-only ({text}); the ledger must be writable")
        return LedgerError(f"{where}: {text}")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing never hides the real outcome
            self.conn.close()


class PostgresBackend(Backend):
    dialect = "postgresql"

    def __init__(self, url: LedgerUrl) -> None:
        super().__init__(url)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise LedgerError("a PostgreSQL ledger needs psycopg 3 (pip install "
                              "'psycopg[binary]')") from None
        import logging

        # psycopg logs what it ignores while dropping a broken connection ("error ignored
        # terminating <Pipeline [BAD]>"); our own one line says what happened
        logging.getLogger("psycopg").addHandler(logging.NullHandler())
        self.conn: Any = None
        self._connect(first=True)

    def _connect(self, first: bool = False) -> None:
        import psycopg

        try:
            self.conn = psycopg.connect(self.url.conninfo or "", autocommit=True,
                                        connect_timeout=10)
        except psycopg.ProgrammingError as exc:  # a URL libpq refuses
            raise InputError.at(Subject("ledger"), f"{self.url.text}: "
                                                   f"{_first_line(exc)}") from None
        except psycopg.Error as exc:
            if first:
                raise LedgerError(f"ledger {self.url.text}: cannot connect "
                                  f"({_first_line(exc)})") from None
            raise

    def run(self, work: Callable[[Transaction], Any], *, init: bool = False,
            single: bool = False) -> Any:
        import psycopg
        from psycopg import errors as pg

        deadline = time.monotonic() + RETRY_SECONDS
        pause = 0.05
        with self._lock:
            while True:
                try:
                    if self.conn is None or self.conn.closed:
                        self._connect()
                    assert self.conn is not None
                    if single:  # autocommit connection: the statement is a transaction
                        with self.conn.cursor() as cursor:
                            return work(Transaction(cursor, postgres=True))
                    with self.conn.transaction(), self.conn.cursor() as cursor:
                        if init:  # one schema creator at a time
                            cursor.execute("SELECT pg_advisory_xact_lock(1500015)")
                        return work(Transaction(cursor, postgres=True))
                except (pg.SerializationFailure, pg.DeadlockDetected):
                    pass  # the transaction was rolled back: safe to run again
                except pg.DiskFull as exc:
                    raise LedgerError(f"ledger {self.url.text}: full ({_first_line(exc)}); "
                                      "nothing was claimed by this step") from None
                except pg.IntegrityError:
                    raise
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    self._drop()
                    if time.monotonic() > deadline:
                        raise LedgerError(
                            f"ledger {self.url.text}: unreachable for {RETRY_SECONDS:g} s "
                            f"({_first_line(exc)}); every claim made so far is recorded: "
                            "run again when the server is back") from None
                except psycopg.Error as exc:
                    raise LedgerError(f"ledger {self.url.text}: {_first_line(exc)}") from None
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None

    def close(self) -> None:
        self._drop()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_backend(url: LedgerUrl, create: bool = True) -> Backend:
    if url.kind == "sqlite":
        return SqliteBackend(url, create=create)
    return PostgresBackend(url)
