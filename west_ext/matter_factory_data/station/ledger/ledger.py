"""The ledger's operations: claim, issue, report, and what the commands read.

Pure of any front end: it returns values and raises errors, never prints.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any, NamedTuple, Optional

from ...errors import InputError, Subject
from .backends import Backend, Transaction, open_backend
from .errors import LedgerConflict, LedgerError
from .schema import REPORTS, SCHEMA_VERSION, STATES, UNREPORTED, statements
from .url import parse_ledger_url

#: The columns a claim writes, in order.
CLAIM_COLUMNS = ("token", "lot_id", "idx", "sn", "discriminator", "passcode", "rd_uid",
                 "dac_serial", "pubkey_sha256", "pai_sha256", "dac", "state", "station",
                 "claimed_at", "issued_at")
#: Values whose repetition the ledger refuses, as named in messages.
UNIQUE_VALUES = {"sn": "serial number", "pair": "discriminator/passcode pair",
                 "rd_uid": "rd_uid", "dac_serial": "DAC serial",
                 "pubkey_sha256": "device public key"}
_INSERT = (f"INSERT INTO identities ({', '.join(CLAIM_COLUMNS)}) VALUES "
           f"({', '.join('?' for _ in CLAIM_COLUMNS)}) ON CONFLICT DO NOTHING")
_ROW = ("id, token, lot_id, idx, sn, discriminator, passcode, rd_uid, dac_serial, "
        "pubkey_sha256, state, dac")


class Claim(NamedTuple):
    """One identity to claim. ``rd_uid`` hex; ``dac_serial`` lower-case hex without leading
    zeros (as the manifests); ``pubkey_sha256`` hex of SHA-256 of the SubjectPublicKeyInfo."""

    token: str
    idx: Optional[int]
    sn: str
    dac_serial: str
    pai_sha256: str
    discriminator: Optional[int] = None
    passcode: Optional[int] = None
    rd_uid: Optional[str] = None
    pubkey_sha256: Optional[str] = None
    dac: Optional[bytes] = None
    state: str = "claimed"


class Taken(NamedTuple):
    """Why a claim was refused: the values (keys of UNIQUE_VALUES) another identity holds."""

    fields: frozenset
    other: str  # which identity holds them, for messages


class Known(NamedTuple):
    """An identity already in the ledger (the station's policy looks at it)."""

    sn: str
    dac_serial: str
    pubkey_sha256: Optional[str]
    state: str
    dac: Optional[bytes]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_token() -> str:
    return secrets.token_hex(16)


def pubkey_sha256(public_key) -> str:
    """SHA-256 (hex) of a public key's DER SubjectPublicKeyInfo."""
    from ...core.certs import public_key_sha256

    return public_key_sha256(public_key)


def open_ledger(text: str, create: bool = True, subject: str = "ledger") -> Ledger:
    """The ledger at a URL, its schema created or migrated; ``create=False`` refuses a
    SQLite file that does not exist (the read-only commands)."""
    url = parse_ledger_url(text, subject)
    backend = open_backend(url, create=create)
    try:
        ledger = Ledger(backend)
        ledger.prepare_schema()
    except BaseException:
        backend.close()
        raise
    return ledger


class Ledger:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url = backend.url.text

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ schema

    def prepare_schema(self) -> None:
        def work(tx: Transaction) -> None:
            version = self._version(tx)
            if version > SCHEMA_VERSION:
                raise InputError.at(Subject("ledger"), f"{self.url}: schema version {version} "
                                    f"is newer than this tool's {SCHEMA_VERSION}; use a newer "
                                    "matter-factory-data (the ledger was not changed)")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in statements(step, self.backend.dialect):
                    tx.execute(statement)
                if step == 1:
                    tx.execute("INSERT INTO schema_version (version) VALUES (?)", (1,))
                else:
                    tx.execute("UPDATE schema_version SET version = ?", (step,))

        self.backend.run(work, init=True)

    def _version(self, tx: Transaction) -> int:
        if self.backend.dialect == "sqlite":
            found = tx.one("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                           "name = 'schema_version'")
        else:
            found = tx.one("SELECT to_regclass('schema_version')")
            found = found if found and found[0] else None
        if not found:
            return 0
        row = tx.one("SELECT max(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    # ------------------------------------------------------------------ lots

    def lot(self, name: str, kind: str, station: str) -> int:
        """The id of a lot (a batch directory, a station), created on first use."""
        def work(tx: Transaction) -> int:
            tx.execute("INSERT INTO lots (name, kind, station, created_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING", (name, kind, station, now()))
            return int(tx.one("SELECT id FROM lots WHERE name = ?", (name,))[0])

        return self.backend.run(work)

    # ------------------------------------------------------------------ claims

    def claim(self, lot_id: int, station: str, claims: list,
              reuse_own: bool = False) -> list:
        """Claim every identity of ``claims`` in one transaction (committed when this
        returns). Returns, per claim, None (claimed: by this call, or by an earlier try whose
        commit answer was lost) or :class:`Taken`. With ``reuse_own``, the claim of the same
        lot and index that was never built (a rerun after a kill) is taken over."""
        stamp = now()

        def work(tx: Transaction) -> list:
            tx.executemany(_INSERT, [self._values(lot_id, station, c, stamp) for c in claims])
            marks = ", ".join("?" for _ in claims)
            present = {row[0] for row in tx.all(
                f"SELECT token FROM identities WHERE token IN ({marks})",
                tuple(c.token for c in claims))}
            return [None if c.token in present else
                    self._claim_one(tx, lot_id, station, c, stamp, reuse_own) for c in claims]

        if not claims:
            return []
        return self.backend.run(work)

    def claim_new(self, lot_id: int, station: str, claim: Claim) -> bool:
        """One claim in a single statement (the common case of a station: a new device);
        False when any value is taken (then :meth:`claim` says which)."""
        values = self._values(lot_id, station, claim, now())
        return self.backend.run(lambda tx: tx.execute(_INSERT, values).rowcount == 1,
                                single=True)

    @staticmethod
    def _values(lot_id: int, station: str, c: Claim, stamp: str) -> tuple:
        return (c.token, lot_id, c.idx, c.sn, c.discriminator, c.passcode, c.rd_uid,
                c.dac_serial, c.pubkey_sha256, c.pai_sha256, c.dac, c.state, station, stamp,
                stamp if c.state != "claimed" else None)

    def _claim_one(self, tx: Transaction, lot_id: int, station: str, c: Claim, stamp: str,
                   reuse_own: bool) -> Optional[Taken]:
        values = self._values(lot_id, station, c, stamp)
        if tx.execute(_INSERT, values).rowcount == 1:
            return None
        if tx.one("SELECT id FROM identities WHERE token = ?", (c.token,)):
            return None  # ours: an earlier try committed it
        others = tx.all(f"SELECT {_ROW} FROM identities WHERE sn = ? OR dac_serial = ? OR "
                        "rd_uid = ? OR pubkey_sha256 = ? OR (discriminator = ? AND passcode = ?)",
                        (c.sn, c.dac_serial, c.rd_uid, c.pubkey_sha256, c.discriminator,
                         c.passcode))
        if not others:  # the holder went away between the two statements: try once more
            if tx.execute(_INSERT, values).rowcount == 1:
                return None
            raise LedgerError(f"ledger {self.url}: a claim of serial number {c.sn} keeps "
                              "conflicting; run again")
        if reuse_own and len(others) == 1:
            other = others[0]
            if other[2] == lot_id and other[3] == c.idx and c.idx is not None \
                    and other[10] in ("claimed", "void") and other[9] is None:
                # the same device of the same lot, never built (a rerun after a kill): its
                # claim is taken over with the values drawn now
                tx.execute("UPDATE identities SET token = ?, sn = ?, discriminator = ?, "
                           "passcode = ?, rd_uid = ?, dac_serial = ?, state = 'claimed', "
                           "station = ?, claimed_at = ?, note = NULL WHERE id = ?",
                           (c.token, c.sn, c.discriminator, c.passcode, c.rd_uid, c.dac_serial,
                            station, stamp, other[0]))
                return None
            identical = (other[2] == lot_id and other[3] == c.idx and other[4] == c.sn
                         and other[5] == c.discriminator and other[6] == c.passcode
                         and other[7] == c.rd_uid and other[8] == c.dac_serial)
            if identical and c.idx is not None and other[10] in UNREPORTED:
                # a seeded rerun remaking a device it made before: the same identity, the
                # same key, the same DAC -- its recorded identity again, not a second one
                tx.execute("UPDATE identities SET token = ? WHERE id = ?", (c.token, other[0]))
                return None
        fields: set = set()
        for other in others:
            fields |= _same_fields(other, c)
        first = others[0]
        holder = f"serial number {first[4]} (DAC serial {first[8]}, {first[10]})"
        return Taken(frozenset(fields), holder)

    def import_claims(self, lot_id: int, station: str, claims: list, where: str) -> int:
        """Record devices made elsewhere, all or nothing: a device already recorded for the
        same lot and index with the same serial numbers is skipped; any other repetition
        refuses the whole import. Returns how many were recorded."""
        stamp = now()

        def work(tx: Transaction) -> int:
            count = 0
            for c in claims:
                taken = self._claim_one(tx, lot_id, station, c, stamp, reuse_own=False)
                if taken is None:
                    count += 1
                    continue
                same = tx.one("SELECT id FROM identities WHERE lot_id = ? AND idx = ? AND "
                              "sn = ? AND dac_serial = ?", (lot_id, c.idx, c.sn, c.dac_serial))
                if same:
                    continue
                names = ", ".join(UNIQUE_VALUES[f] for f in sorted(taken.fields))
                raise LedgerConflict(f"{where}: device {c.idx} (serial number {c.sn!r}): its "
                                     f"{names} is already claimed by {taken.other}; nothing "
                                     "was imported")
            return count

        return self.backend.run(work)

    def issued(self, entries: Iterable[tuple]) -> None:
        """Record built devices: (token, pubkey_sha256, image_sha256) each; one transaction.
        A device key already recorded for another identity is refused."""
        entries = list(entries)
        if not entries:
            return
        stamp = now()

        def work(tx: Transaction) -> None:  # a key recorded twice: the UNIQUE constraint
            tx.executemany("UPDATE identities SET state = 'issued', pubkey_sha256 = ?, "
                           "image_sha256 = ?, issued_at = ? WHERE token = ? AND state IN "
                           "('claimed', 'issued')",
                           [(key_hash, image_hash, stamp, token)
                            for token, key_hash, image_hash in entries])

        self._guarded(work)

    def void_unbuilt(self, lot_id: int, keep: Any = ()) -> int:
        """Mark the lot's claims that were never built (no device key recorded, index not
        in ``keep``, a container) as ``void``: no DAC of theirs left the station. Returns
        how many."""
        keep_set = keep

        def work(tx: Transaction) -> int:
            rows = tx.all("SELECT id, idx FROM identities WHERE lot_id = ? AND state = "
                          "'claimed' AND pubkey_sha256 IS NULL", (lot_id,))
            stale = [row[0] for row in rows if row[1] not in keep_set]
            for ident in stale:
                tx.execute("UPDATE identities SET state = 'void', note = ? WHERE id = ?",
                           ("claimed, never built: no DAC left the station", ident))
            return len(stale)

        return self.backend.run(work)

    def tokens_of(self, lot_id: int, indexes: Iterable[int]) -> dict:
        """{index: token} of the lot's claims of these indexes still waiting to be issued."""
        wanted = set(indexes)
        rows = self.backend.run(lambda tx: tx.all(
            "SELECT idx, token FROM identities WHERE lot_id = ? AND state = 'claimed'",
            (lot_id,)))
        return {row[0]: row[1] for row in rows if row[0] in wanted}

    # ------------------------------------------------------------------ station

    def known(self, sn: str, key_hash: str) -> list:
        """Identities holding this serial number or this device key."""
        rows = self.backend.run(lambda tx: tx.all(
            "SELECT sn, dac_serial, pubkey_sha256, state, dac FROM identities WHERE sn = ? OR "
            "pubkey_sha256 = ?", (sn, key_hash)))
        return [Known(r[0], r[1], r[2], r[3], bytes(r[4]) if r[4] is not None else None)
                for r in rows]

    def dac_serial_of(self, sn: str) -> Optional[str]:
        row = self.backend.run(lambda tx: tx.one(
            "SELECT dac_serial FROM identities WHERE sn = ?", (sn,)), single=True)
        return row[0] if row else None

    def report(self, dac_serial: str, state: str, station: str, *,
               image_sha256: Optional[str] = None, readback: Optional[str] = None,
               note: Optional[str] = None) -> None:
        """The outcome of a device (idempotent: a repeated report is the same update)."""
        if state not in REPORTS:
            raise InputError.at(Subject("state"), f"{state!r} is not accepted (accepted: "
                                                  f"{', '.join(REPORTS)})")

        def work(tx: Transaction) -> int:
            return tx.execute(
                "UPDATE identities SET state = ?, station = ?, reported_at = ?, "
                "image_sha256 = COALESCE(?, image_sha256), readback = COALESCE(?, readback), "
                "note = COALESCE(?, note) WHERE dac_serial = ? AND state <> 'void'",
                (state, station, now(), image_sha256, readback, note, dac_serial)).rowcount

        if self.backend.run(work, single=True) != 1:
            raise LedgerError(f"ledger {self.url}: no issued DAC with serial {dac_serial}")

    def attested(self, dac_serial: str, result: str, station: str) -> bool:
        """Record an ``attest`` result (``pass`` or ``fail: <reason>``) of a device, with the
        time and the station; its ``state`` is left as it is. False: no such DAC serial."""
        def work(tx: Transaction) -> int:
            return tx.execute(
                "UPDATE identities SET attest = ?, attested_at = ?, attest_station = ? "
                "WHERE dac_serial = ?", (result, now(), station, dac_serial)).rowcount

        return self.backend.run(work, single=True) == 1

    # ------------------------------------------------------------------ reading

    def stats(self) -> dict:
        def work(tx: Transaction) -> dict:
            counts = {state: 0 for state in STATES}
            for state, count in tx.all("SELECT state, count(*) FROM identities GROUP BY state"):
                counts[state] = int(count)
            unreported = tx.all(
                "SELECT i.sn, i.dac_serial, i.state, i.station, i.claimed_at, l.name FROM "
                "identities i JOIN lots l ON l.id = i.lot_id WHERE i.state IN "
                f"({', '.join('?' for _ in UNREPORTED)}) ORDER BY i.claimed_at, i.id",
                UNREPORTED)
            lots = int(tx.one("SELECT count(*) FROM lots")[0])
            return {"schema_version": SCHEMA_VERSION, "lots": lots, "states": counts,
                    "total": sum(counts.values()),
                    "unreported": [dict(zip(("sn", "dac_serial", "state", "station",
                                             "claimed_at", "lot"), r)) for r in unreported]}

        return self.backend.run(work)

    def export_rows(self) -> list:
        """One record per DAC serial the ledger holds (void claims included: their serials
        were never used, the state says so)."""
        rows = self.backend.run(lambda tx: tx.all(
            "SELECT i.dac_serial, i.sn, i.pubkey_sha256, i.pai_sha256, i.station, i.state, "
            "l.name, i.claimed_at, i.issued_at, i.reported_at, i.image_sha256, i.readback, "
            "i.attest, i.attested_at, i.attest_station "
            "FROM identities i JOIN lots l ON l.id = i.lot_id ORDER BY i.id"))
        return [dict(zip(EXPORT_COLUMNS, row)) for row in rows]

    # ------------------------------------------------------------------ helpers

    def _guarded(self, work) -> Any:
        """Run ``work``; a UNIQUE violation the checks did not foresee (a race) is a
        conflict, one line."""
        try:
            return self.backend.run(work)
        except Exception as exc:
            if _is_integrity_error(exc):
                raise LedgerConflict(f"ledger {self.url}: a value is already claimed "
                                     f"({str(exc).splitlines()[0]}); nothing of this step "
                                     "was recorded") from None
            raise


EXPORT_COLUMNS = ("dac_serial", "sn", "pubkey_sha256", "pai_sha256", "station", "state", "lot",
                  "claimed_at", "issued_at", "reported_at", "image_sha256", "readback", "attest",
                  "attested_at", "attest_station")


def _same_fields(row: tuple, c: Claim) -> set:
    fields = set()
    if row[4] == c.sn:
        fields.add("sn")
    if row[8] == c.dac_serial:
        fields.add("dac_serial")
    if c.rd_uid is not None and row[7] == c.rd_uid:
        fields.add("rd_uid")
    if c.pubkey_sha256 is not None and row[9] == c.pubkey_sha256:
        fields.add("pubkey_sha256")
    if c.passcode is not None and row[5] == c.discriminator and row[6] == c.passcode:
        fields.add("pair")
    return fields


def _is_integrity_error(exc: Exception) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.IntegrityError)
