"""``provision`` on a ledger: a DAC is recorded before it is sent (write-ahead), a device's
outcome is reported after its final status.

Policy for a device that comes back (documented in the README, "Factory line"):

* its key is known, with the same serial number, and it was never reported ok (the board
  lost power or the link after the DAC was recorded, or reported a failure): it gets the
  DAC recorded for it again -- the same certificate, never a second one;
* its key is known and the device was reported ok, scrapped, or the key is recorded with
  another serial number (a cloned or replayed CSR): refused;
* its serial number is known with another key (two boards claiming one serial number):
  refused.
"""

from __future__ import annotations

import secrets
from typing import Callable, Optional

from .errors import LedgerConflict, LedgerError
from .ledger import Claim, Ledger, new_token, pubkey_sha256

REDRAWS = 10
#: States in which a known device gets its recorded DAC again.
AGAIN = ("claimed", "issued", "failed")


class NotIssued(Exception):
    """No DAC for this CSR: the policy refused it or the ledger could not record it. The
    message (one sentence) is sent to the board and written to the manifest."""


class StationLedger:
    def __init__(self, ledger: Ledger, station: str, pai_der: bytes) -> None:
        import hashlib

        self.ledger, self.station = ledger, station
        self.pai_sha256 = hashlib.sha256(pai_der).hexdigest()
        self.lot_id = ledger.lot(f"station:{station}", "station", station)

    def issue(self, sn: str, public_key, sign: Callable[[int], bytes]) -> tuple:
        """(DAC DER, serial) for the device, recorded (committed) before this returns;
        ``sign(serial)`` makes a DAC. Raises :class:`NotIssued`."""
        try:
            return self._issue(sn, public_key, sign)
        except (LedgerError, LedgerConflict) as exc:
            raise NotIssued(f"the ledger could not record the DAC, so none was sent ({exc})") \
                from None

    def _issue(self, sn: str, public_key, sign: Callable[[int], bytes]) -> tuple:
        """Optimistic: a new device is one INSERT; only a refused one is looked at (its DAC,
        signed but never recorded, is dropped unsent)."""
        key_hash = pubkey_sha256(public_key)
        for _ in range(REDRAWS):
            serial = secrets.randbits(127) | (1 << 126)
            dac = sign(serial)
            claim = Claim(token=new_token(), idx=None, sn=sn, dac_serial=f"{serial:x}",
                          pai_sha256=self.pai_sha256, pubkey_sha256=key_hash, dac=dac,
                          state="issued")
            if self.ledger.claim_new(self.lot_id, self.station, claim):
                return dac, serial
            taken = self.ledger.claim(self.lot_id, self.station, [claim])[0]
            if taken is None:
                return dac, serial
            if taken.fields != {"dac_serial"}:  # a known key or serial number
                again = self._policy(sn, key_hash)
                if again is not None:
                    return again
                raise NotIssued(f"refused: {', '.join(sorted(taken.fields))} already "
                                f"recorded for {taken.other}")
        raise NotIssued("refused: no fresh DAC serial in 10 draws")

    def _policy(self, sn: str, key_hash: str) -> Optional[tuple]:
        """The recorded (DAC, serial) to send again, None for a new device; or refused."""
        known = self.ledger.known(sn, key_hash)
        if not known:
            return None
        same_key = [k for k in known if k.pubkey_sha256 == key_hash]
        if same_key:
            record = same_key[0]
            if record.sn != sn:
                raise NotIssued(f"refused: this device key already has a DAC for serial number "
                                f"{record.sn!r} (a cloned or replayed CSR)")
            if record.state not in AGAIN or record.dac is None:
                raise NotIssued(f"refused: serial number {sn!r} with this key is already "
                                f"{record.state} (DAC serial {record.dac_serial}); no second DAC")
            return record.dac, int(record.dac_serial, 16)
        raise NotIssued(f"refused: serial number {sn!r} already has a DAC for another device "
                        f"key (DAC serial {known[0].dac_serial})")

    def report(self, outcome):
        """Record a device's outcome (ok / failed); an interrupted one stays unreported.
        Returns the outcome, with a note when the ledger could not take the report."""
        from ..provision.outcome import FAILED, OK

        if not outcome.dac_serial or outcome.status not in (OK, FAILED):
            return outcome
        try:
            self.ledger.report(outcome.dac_serial, outcome.status, self.station,
                               note=outcome.error or None)
        except (LedgerError, LedgerConflict) as exc:
            note = (f"the ledger did not take the report ({exc}); it lists the device as never "
                    "reported")
            return outcome._replace(error=f"{outcome.error}; {note}" if outcome.error else note)
        return outcome
