"""``batch`` on a ledger: identities claimed in blocks before they are built (write-ahead),
built devices recorded (device key, image) before their manifest rows are written.

The seam is small on purpose: :meth:`BatchLedger.claimed` wraps the stream of freshly
allocated identities, :meth:`BatchLedger.built` takes a finished device's manifest row and
gives back the rows whose ledger record is committed (write them), :meth:`BatchLedger.flush`
the rest. Per device that is one INSERT and one UPDATE inside a block's transaction.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Optional

from .errors import LedgerConflict
from .ledger import UNIQUE_VALUES, Claim, Ledger, new_token

BLOCK = 64  # identities claimed per transaction; devices recorded per transaction
REDRAWS = 10


def default_station() -> str:
    return socket.gethostname() or "station"


def lot_name(out_dir: Path) -> str:
    """A batch lot: the host and the absolute path of its directory."""
    return f"batch:{default_station()}:{out_dir.resolve()}"


class BatchLedger:
    def __init__(self, ledger: Ledger, out_dir: Path, station: Optional[str], pai_sha256: str,
                 allocator, seeded: bool, block: int = BLOCK) -> None:
        self.ledger, self.allocator, self.seeded = ledger, allocator, seeded
        self.station = station or default_station()
        self.pai_sha256, self.block = pai_sha256, block
        self.lot_id = ledger.lot(lot_name(out_dir), "batch", self.station)
        self.tokens: dict = {}  # index -> token of a claim not yet recorded as issued
        self.pending: list = []  # rows built, not yet recorded

    # ---------------------------------------------------------------- start of a run

    def start(self, done, recovered: dict) -> int:
        """Record the devices a kill left without a manifest row, and void this lot's claims
        that were never built (this run claims those devices again). Returns how many were
        voided."""
        if recovered:
            self._record_recovered(list(recovered.values()))
        return self.ledger.void_unbuilt(self.lot_id, done)

    def _record_recovered(self, rows: list) -> None:
        indexes = [int(r["index"]) for r in rows]
        tokens = self.ledger.tokens_of(self.lot_id, indexes)
        entries = [(tokens[int(r["index"])], r["dac_pubkey_sha256"], r["image_sha256"])
                   for r in rows if int(r["index"]) in tokens]
        self.ledger.issued(entries)

    # ---------------------------------------------------------------- claims

    def claimed(self, pairs: Iterable[tuple]) -> Iterator:
        """The identities of ``pairs`` ((identity, given) each), claimed in blocks."""
        block: list = []
        for pair in pairs:
            block.append(pair)
            if len(block) >= self.block:
                yield from self._claim_block(block)
                block = []
        if block:
            yield from self._claim_block(block)

    def _claim_block(self, block: list) -> list:
        identities = [identity for identity, _ in block]
        givens = [given for _, given in block]
        todo = list(range(len(block)))
        for _ in range(REDRAWS):
            claims = {i: self._claim_of(identities[i]) for i in todo}
            results = self.ledger.claim(self.lot_id, self.station, list(claims.values()),
                                        reuse_own=True)
            again = []
            for i, taken in zip(todo, results):
                if taken is None:
                    self.tokens[identities[i].index] = claims[i].token
                    continue
                fresh, fixed = self.allocator.redraw(identities[i], taken.fields, givens[i])
                if fixed:
                    names = ", ".join(UNIQUE_VALUES.get(f, f) for f in fixed)
                    shown = _value(identities[i], fixed[0])
                    raise LedgerConflict(
                        f"device {identities[i].index}: its {names} ({shown}) "
                        f"is already claimed in ledger {self.ledger.url} by {taken.other}; "
                        "give values no other lot uses (e.g. a lot prefix in the serial number "
                        "template); devices made so far are kept")
                identities[i] = fresh
                again.append(i)
            if not again:
                return identities
            todo = again
        raise LedgerConflict(f"ledger {self.ledger.url}: the identities drawn for device "
                             f"{identities[todo[0]].index} keep colliding with claimed ones "
                             "(two lots made with the same seed?); nothing more was claimed")

    def _claim_of(self, identity) -> Claim:
        return Claim(token=new_token(), idx=identity.index, sn=identity.sn,
                     dac_serial=f"{identity.dac_serial:x}", pai_sha256=self.pai_sha256,
                     discriminator=identity.discriminator, passcode=identity.passcode,
                     rd_uid=bytes(identity.rd_uid).hex() if identity.rd_uid is not None
                     else None)

    # ---------------------------------------------------------------- built devices

    def built(self, row: dict) -> list:
        """Take a finished device's row; returns the rows now recorded in the ledger."""
        self.pending.append(row)
        if len(self.pending) >= self.block:
            return self.flush()
        return []

    def flush(self) -> list:
        rows, self.pending = self.pending, []
        self.ledger.issued([(self.tokens.pop(int(r["index"])), r["dac_pubkey_sha256"],
                             r["image_sha256"]) for r in rows])
        return rows

    def close(self) -> None:
        self.ledger.close()


def _value(identity, name: str) -> str:
    if name == "sn":
        return identity.sn
    if name == "rd_uid":
        return bytes(identity.rd_uid).hex()
    if name == "pair":
        return f"discriminator {identity.discriminator} with its passcode"
    return str(getattr(identity, name, ""))
