"""What one device's session ended with: one manifest row."""

from __future__ import annotations

from typing import NamedTuple

OK = "ok"
FAILED = "failed"
INTERRUPTED = "interrupted"
ISSUED = "issued"  # write-ahead row: the DAC is about to leave the station


class Outcome(NamedTuple):
    port: str
    protocol: str
    status: str  # OK, FAILED, INTERRUPTED (ISSUED: the write-ahead row)
    sn: str = ""  # the device's serial number, when known
    dac_serial: str = ""  # hex, when a DAC was issued
    code: str = ""  # the device's status code, when it sent one
    error: str = ""  # one sentence; never a secret

    @property
    def ok(self) -> bool:
        return self.status == OK
