"""The two protocols a station speaks with a board, each a session returning an Outcome.

``st-demo`` (ST's STM_Provisioning firmware for WB5MM-DK, as shipped): one-way. The board
sends ``finish:NNN`` (``snprintf(msg, 16, "finish:%03u", error)``: 10 characters, a NUL and 5
uninitialised bytes, no newline) every 3 s at 115200 baud on a UART that also carries its
debug log. Codes: 0 provisioned, 1 no end marker / already provisioned, 2 buffer too small,
3 parameter error, 4 key storage (CKS) error.

``csr`` (ours; see docs/stm32.md, "Our production protocol"): station HELLO -> device CSR -> station
DAC, PAI -> device STATUS, in :mod:`.framing` frames.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Callable, Optional

from ...errors import FactoryDataError, OutputError
from .framing import BadFrame, Frame, FrameReader, encode_frame
from .issuer import CsrRefused, NotIssued
from .outcome import FAILED, INTERRUPTED, OK, Outcome
from .transport import PortGone

ST_CODES = {0: "provisioned", 1: "data not found (no end marker within 16 KiB, or the image "
                                  "already holds DAC/PAI/public key)",
            2: "buffer too small", 3: "parameter error", 4: "key storage (CKS) write error"}
_FINISH = re.compile(rb"finish:(\d{3})")


class Timeouts:
    """Seconds; each step of a session has its own deadline."""

    def __init__(self, answer: float = 10.0, csr: float = 30.0, status: float = 30.0,
                 finish: float = 15.0, hello_every: float = 1.0) -> None:
        self.answer, self.csr, self.status = answer, csr, status
        self.finish, self.hello_every = finish, hello_every


class Stopped(Exception):
    """The station is stopping (Ctrl-C)."""


def st_demo_session(transport, port: str, timeouts: Timeouts,
                    stop: threading.Event) -> Outcome:
    """Wait for the board's ``finish:NNN``; frames split across reads are joined."""
    buffer, received = b"", 0
    deadline = time.monotonic() + timeouts.finish
    while time.monotonic() < deadline:
        if stop.is_set():
            return Outcome(port, "st-demo", INTERRUPTED, error="interrupted")
        data = transport.read(min(deadline, time.monotonic() + 0.2))
        received += len(data)
        buffer = (buffer + data)[-4096:]
        match = _FINISH.search(buffer)
        if match:
            code = int(match.group(1))
            meaning = ST_CODES.get(code, "unknown status")
            if code == 0:
                return Outcome(port, "st-demo", OK, code=str(code))
            return Outcome(port, "st-demo", FAILED, code=str(code),
                           error=f"the board reports finish:{code:03d} ({meaning})")
    if received:
        return Outcome(port, "st-demo", FAILED, error=f"no finish:NNN frame within "
                       f"{timeouts.finish:g} s ({received} bytes of other data received: is "
                       "it the provisioning firmware, at 115200 baud?)")
    return Outcome(port, "st-demo", FAILED, error=f"nothing received within "
                   f"{timeouts.finish:g} s (is the board running the provisioning firmware?)")


# --- our production protocol -------------------------------------------------------------

PROTOCOL_VERSION = 1
DEVICE_STATUS = {0: "provisioned", 1: "key generation failed", 2: "storage write failed",
                 3: "the DAC does not match the device key", 4: "key storage failed",
                 5: "the device could not read a station frame", 6: "aborted"}


class FrameLink:
    """Our framing over a transport: send a frame, receive the next valid one."""

    def __init__(self, transport) -> None:
        self.transport, self.reader = transport, FrameReader()
        self.pending: list = []
        self.bad: list = []

    def send(self, kind: str, payload: bytes = b"") -> None:
        self.transport.write(encode_frame(kind, payload))

    def receive(self, deadline: float, stop: threading.Event) -> Optional[Frame]:
        while True:
            while self.pending:
                item = self.pending.pop(0)
                if isinstance(item, BadFrame):
                    self.bad.append(item.reason)
                    continue
                return item
            if stop.is_set():
                raise Stopped()
            if time.monotonic() >= deadline:
                return None
            self.pending += self.reader.feed(
                self.transport.read(min(deadline, time.monotonic() + 0.2)))

    def silence_reason(self, waited: float, what: str) -> str:
        if self.bad:
            return f"no valid {what} within {waited:g} s ({len(self.bad)} bad frame(s), the " \
                   f"last: {self.bad[-1]})"
        if self.reader.other_bytes:
            return f"no {what} within {waited:g} s ({self.reader.other_bytes} bytes of other " \
                   "data received)"
        return f"no {what} within {waited:g} s (nothing received)"


class CsrSession:
    """One device: HELLO until it answers, its CSR checked, DAC and PAI sent, its status."""

    def __init__(self, issuer, timeouts: Timeouts,
                 link_factory: Callable = FrameLink,
                 record: Optional[Callable[[str, str, str, str], None]] = None) -> None:
        """``record(port, protocol, sn, dac_serial)`` is called before a DAC is sent; when
        it fails the DAC is not sent and the board gets an ERROR frame."""
        self.issuer, self.timeouts, self.link_factory = issuer, timeouts, link_factory
        self.record = record

    def __call__(self, transport, port: str, stop: threading.Event) -> Outcome:
        state = {"sn": "", "dac_serial": ""}
        try:
            return self._run(self.link_factory(transport), port, stop, state)
        except Stopped:
            return Outcome(port, "csr", INTERRUPTED, state["sn"], state["dac_serial"],
                           error="interrupted")
        except PortGone as exc:
            return self._fail(port, state, str(exc))

    def _fail(self, port: str, state: dict, error: str, code: str = "") -> Outcome:
        return Outcome(port, "csr", FAILED, state["sn"], state["dac_serial"], code, error)

    def _run(self, link, port: str, stop: threading.Event, state: dict) -> Outcome:
        frame = self._first_answer(link, stop)
        if frame is None:
            return self._fail(port, state, link.silence_reason(self.timeouts.answer, "answer"))
        if frame.kind != "CSR":
            frame = link.receive(time.monotonic() + self.timeouts.csr, stop) \
                if frame.kind == "HELLO" else frame
            if frame is None:
                return self._fail(port, state, link.silence_reason(self.timeouts.csr, "CSR"))
        if frame.kind == "STATUS":
            return self._device_status(port, state, frame, "before sending its CSR")
        if frame.kind != "CSR":
            return self._fail(port, state, f"expected a CSR frame, got {frame.kind}")
        try:
            checked = self.issuer.check(frame.payload)
            state["sn"] = checked.sn
            issued = self.issuer.issue(checked)
        except CsrRefused as exc:
            link.send("ERROR", f"CSR refused: {exc}".encode())
            return self._fail(port, state, f"CSR refused: {exc}")
        except NotIssued as exc:  # the ledger refused it or could not record it
            link.send("ERROR", f"not issued: {exc}".encode())
            return self._fail(port, state, f"not issued: {exc}")
        except FactoryDataError as exc:  # the signer failed (a token removed, ...)
            link.send("ERROR", b"station error: the DAC cannot be issued")
            return self._fail(port, state, f"the DAC could not be issued ({exc})")
        state["dac_serial"] = f"{issued.serial:x}"
        if self.record is not None:  # write-ahead: on disk before the DAC leaves
            try:
                self.record(port, "csr", state["sn"], state["dac_serial"])
            except (OutputError, OSError) as exc:
                link.send("ERROR", b"station error: the DAC cannot be recorded; not sent")
                return self._fail(port, state, f"the DAC was not sent: it cannot be recorded "
                                               f"({exc})")
        link.send("DAC", issued.dac)
        link.send("PAI", self.issuer.pai_der)
        return self._final_status(link, port, stop, state)

    def _first_answer(self, link, stop: threading.Event) -> Optional[Frame]:
        """HELLO every ``hello_every`` seconds until the device sends a frame."""
        end = time.monotonic() + self.timeouts.answer
        while time.monotonic() < end:
            link.send("HELLO", bytes([PROTOCOL_VERSION]))
            frame = link.receive(min(end, time.monotonic() + self.timeouts.hello_every), stop)
            if frame is not None:
                return frame
        return None

    def _final_status(self, link, port: str, stop: threading.Event, state: dict) -> Outcome:
        deadline = time.monotonic() + self.timeouts.status
        while True:
            frame = link.receive(deadline, stop)
            if frame is None:
                return self._fail(port, state, link.silence_reason(self.timeouts.status,
                                                                   "final STATUS"))
            if frame.kind == "STATUS":
                return self._device_status(port, state, frame, "")
            if frame.kind not in ("CSR", "HELLO"):  # a repeated CSR/HELLO is ignored
                return self._fail(port, state, f"expected STATUS, got {frame.kind}")

    def _device_status(self, port: str, state: dict, frame: Frame, when: str) -> Outcome:
        if len(frame.payload) != 1:
            return self._fail(port, state, f"STATUS frame of {len(frame.payload)} bytes "
                                           "(expected 1)")
        code = frame.payload[0]
        if code == 0 and not when:
            return Outcome(port, "csr", OK, state["sn"], state["dac_serial"], "0")
        meaning = DEVICE_STATUS.get(code, "unknown status")
        return self._fail(port, state, f"the device reports status {code} ({meaning})"
                          + (f" {when}" if when else ""), str(code))
