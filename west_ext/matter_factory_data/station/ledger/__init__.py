"""The identity ledger: the one source of uniqueness of a factory line.

Every serial number, discriminator/passcode pair, rotating device ID unique ID, DAC serial
and device public key (SHA-256 of its SubjectPublicKeyInfo) handed out by ``batch`` or
``provision`` is claimed here first; the database's UNIQUE constraints, not Python, refuse a
second claim. Write-ahead: a claim is committed before anything leaves the station, then
the device is reported (ok / failed / scrapped).

Backends, chosen by URL (:func:`open_ledger`): SQLite (stdlib ``sqlite3``, one file per lot
by default: ``sqlite:///abs/path.db``) and PostgreSQL (psycopg 3) shared by several
stations (``postgresql://USER@/DB?host=/socket/dir&port=N``).
"""

from __future__ import annotations

from .errors import LedgerConflict, LedgerError
from .ledger import Ledger, open_ledger

__all__ = ["Ledger", "LedgerConflict", "LedgerError", "open_ledger"]
