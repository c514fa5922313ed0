"""The ledger's errors: one sentence each, as every error of the tool."""

from __future__ import annotations

from ...errors import FactoryDataError


class LedgerError(FactoryDataError):
    """The ledger cannot be used right now (locked, full, unreachable, gone mid-run): nothing
    was claimed or recorded by the failed step; the caller stops issuing."""


class LedgerConflict(FactoryDataError):
    """A value is already claimed in the ledger (by another device or another lot)."""
