"""Events for line software: one JSON object per line (NDJSON), flushed per line.

The one place that writes them. Command bodies report through their UI
(``ui.event("device_programmed", device=..., probe=...)``), which forwards to an
:class:`Events` sink when ``--json`` asked for one and does nothing otherwise; the error
boundary (``cli/boundary.py``) emits the ``error`` event with a stable code mapped from the
exception class (:func:`error_code`), the front end ``run_started`` and ``run_finished``.

Every line: ``{"schema": "factory-line/1", "ts": "...Z", "seq": n, "run": "<uuid4>",
"station": "...", "event": "...", "device": {...} | null, "data": {...}}``, described by
the JSON Schema ``data/events.schema.json`` and in docs/events.md. Secrets never leave:
a data or device key naming a passcode, verifier, salt, key or an onboarding code is refused
here (a bug in the caller, not a line on stdout).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import threading
import uuid
from typing import Any, Optional

SCHEMA = "factory-line/1"

#: The event names of factory-line/1 (the JSON Schema lists the same).
EVENTS = ("run_started", "device_claimed", "device_programmed", "device_readback",
          "device_verified", "device_reported", "progress", "error", "run_finished")

#: Keys that never appear in an event, at any depth: secrets and onboarding codes.
SECRET_KEYS = frozenset({
    "passcode", "spake2_passcode", "verifier", "spake2_verifier", "spake2p_verifier",
    "salt", "spake2_salt", "spake2p_salt", "dac_key", "key", "private_key", "pai_key",
    "qr", "qr_payload", "qrcode", "manual", "manual_code", "manualcode", "enable_key",
    "pin", "token_pin",
})

#: Stable error codes: the exception class -> code (the first class in the MRO that is
#: listed wins) and whether repeating the same step may succeed.
RETRYABLE = {
    "INPUT_INVALID": False, "OUTPUT_EXISTS": False, "OUTPUT_FAILED": True,
    "PROGRAM_MISSING": False, "PROGRAMMER_FAILED": True, "VERIFY_FAILED": False,
    "READBACK_MISMATCH": True, "LEDGER_CONFLICT": False, "LEDGER_UNAVAILABLE": True,
    "HSM_PIN_INCORRECT": False, "HSM_UNAVAILABLE": True, "PARTITION_INVALID": False,
    "INTERRUPTED": True, "IO_ERROR": True, "INTERNAL": False, "CHECK_FAILED": False,
    "DEVICE_FAILED": True, "IDENTITY_REPEATED": False, "SETUP_INCOMPLETE": False,
}

_BY_CLASS_NAME = {
    # class names, so that this layer needs no import of the station's or signer's classes
    "ReadbackMismatch": "READBACK_MISMATCH",
    "LedgerConflict": "LEDGER_CONFLICT", "LedgerError": "LEDGER_UNAVAILABLE",
    "PinIncorrect": "HSM_PIN_INCORRECT", "TokenPinError": "HSM_PIN_INCORRECT",
    "TokenError": "HSM_UNAVAILABLE", "SignerError": "HSM_UNAVAILABLE",
    "OutputRefused": "OUTPUT_EXISTS", "OutputError": "OUTPUT_FAILED",
    "MissingProgram": "PROGRAM_MISSING", "CommandFailed": "PROGRAMMER_FAILED",
    "VerificationError": "VERIFY_FAILED", "PartitionError": "PARTITION_INVALID",
    "Interrupted": "INTERRUPTED", "InputError": "INPUT_INVALID",
    "KeyboardInterrupt": "INTERRUPTED", "BrokenPipeError": "IO_ERROR",
    "ImportError": "SETUP_INCOMPLETE",
}


def error_code(exc: BaseException) -> str:
    """The stable code of an exception: its own ``event_code`` attribute when it has one,
    else the nearest listed class in its MRO, else CHECK_FAILED for another FactoryDataError,
    IO_ERROR for an OSError and INTERNAL for anything else (a bug)."""
    own = getattr(exc, "event_code", None)
    if isinstance(own, str) and own in RETRYABLE:
        return own
    for cls in type(exc).__mro__:
        if cls.__name__ in _BY_CLASS_NAME:
            return _BY_CLASS_NAME[cls.__name__]
        if cls.__name__ == "FactoryDataError":
            return "CHECK_FAILED"
    if isinstance(exc, OSError):
        return "IO_ERROR"
    return "INTERNAL"


def _secret_path(value: Any, path: str = "") -> Optional[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS:
                return f"{path}{key}"
            found = _secret_path(item, f"{path}{key}.")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for number, item in enumerate(value):
            found = _secret_path(item, f"{path}{number}.")
            if found:
                return found
    return None


def _now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Events:
    """An NDJSON sink: ``emit`` writes one flushed line to ``stream``; thread-safe (the
    provisioning station reports from one thread per board)."""

    def __init__(self, stream, station: Optional[str] = None, command: str = "") -> None:
        self.stream = stream
        self.run = str(uuid.uuid4())
        self.station = station or os.environ.get("MFD_STATION") or socket.gethostname()
        self.command = command
        self.seq = 0
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def emit(self, event: str, device: Optional[dict] = None, **data: Any) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        secret = _secret_path({"device": device or {}, "data": data})
        if secret:
            raise ValueError(f"event {event!r} would carry a secret: {secret}")
        with self._lock:
            self.seq += 1
            self.counts[event] = self.counts.get(event, 0) + 1
            if data.get("ok") is False:  # a device that failed its check
                self.counts[f"{event}_failed"] = self.counts.get(f"{event}_failed", 0) + 1
            line = json.dumps({"schema": SCHEMA, "ts": _now(), "seq": self.seq,
                               "run": self.run, "station": self.station, "event": event,
                               "device": device, "data": data},
                              ensure_ascii=True, separators=(",", ":"), default=str)
            self.stream.write(line + "\n")
            self.stream.flush()

    def error(self, exc: BaseException, message: str, device: Optional[dict] = None) -> None:
        code = error_code(exc)
        self.emit("error", device, code=code, retryable=RETRYABLE[code], message=message)

    def finished(self, exit_code: int) -> None:
        counts = {name: self.counts.get(name, 0) for name in (
            "device_claimed", "device_programmed", "device_readback", "device_readback_failed",
            "device_verified", "device_verified_failed", "device_reported", "error")}
        self.emit("run_finished", command=self.command, exit_code=exit_code,
                  ok=exit_code == 0, counts=counts)


def schema_path() -> str:
    """The JSON Schema of the events, shipped as package data."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                        "events.schema.json")
