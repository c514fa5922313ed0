"""Several boards at once: one worker thread per port, every outcome one manifest row.

The manifest is a CSV file; each row is written complete with a single ``write`` on a file
opened for appending, under a lock, and flushed to disk before the next, so a crash or
Ctrl-C never leaves half a row (a torn last line from a power cut is cut on the next start).
A worker catches everything its board can do to it (garbage, silence, a vanished port): one
board never stops or corrupts the others.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Callable, Optional

from ...errors import OPT, InputError, Interrupted, Message, OutputError
from ...files.outputs import cut_torn_line
from ...ui import event
from .outcome import FAILED, INTERRUPTED, ISSUED, Outcome
from .transport import PortGone

COLUMNS = ("time", "port", "protocol", "sn", "dac_serial", "status", "code", "error")


class StationManifest:
    """The station's manifest: rows appended atomically; earlier DAC serials readable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._prepare()

    def _prepare(self) -> None:
        header = (",".join(COLUMNS) + "\n").encode("ascii")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self._cut_torn_line(header)
            return
        except OSError as exc:
            raise OutputError(f"{OPT.manifest} {self.path}: cannot create it "
                              f"({exc.strerror})") from None
        with os.fdopen(fd, "wb") as stream:
            stream.write(header)

    def _cut_torn_line(self, header: bytes) -> None:
        try:
            with open(self.path, "rb") as stream:
                start = stream.read(len(header))
        except OSError as exc:
            raise OutputError(f"{OPT.manifest} {self.path}: cannot read it ({exc.strerror})") \
                from None
        if start != header:
            raise InputError(f"{OPT.manifest} {self.path}: line 1: not a station manifest (the "
                             f"header is not {header.decode().strip()}); give the station's "
                             "manifest or a new file")
        cut_torn_line(self.path)

    def rows(self) -> list:
        return [row for _, row in self.numbered()]

    def numbered(self) -> list:
        """``(line, row)``; a damaged manifest (not UTF-8, a cell too many or too few) is one
        InputError naming the file and the line."""
        from ...files.inputs import csv_lines

        return list(csv_lines(self.path, "station manifest"))

    def dac_serials(self) -> Iterable[int]:
        """The DAC serial numbers issued before (never issued again); a cell that is not a
        hexadecimal serial number is one InputError naming the line."""
        import re

        serials = []
        for line, row in self.numbered():
            cell = row.get("dac_serial", "")
            if not cell:
                continue
            if not re.fullmatch(r"[0-9a-fA-F]{1,40}", cell):
                raise InputError(f"station manifest {self.path}: line {line}: cell "
                                 f"'dac_serial' {cell[:44]!r} is not a hexadecimal serial "
                                 "number (1..40 hex digits); restore the manifest")
            serials.append(int(cell, 16))
        return serials

    def append(self, outcome: Outcome) -> None:
        """One row, complete and on disk (fsync) when this returns; device-supplied text is
        stored on one line and formula-safe. OutputError when the row cannot be written."""
        from ...core.validate import safe_cell

        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow([safe_cell(str(cell)) for cell in (
            time.strftime("%Y-%m-%dT%H:%M:%S%z"), outcome.port, outcome.protocol, outcome.sn,
            outcome.dac_serial, outcome.status, outcome.code, outcome.error)])
        data = text.getvalue().encode("utf-8")
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    size = os.fstat(fd).st_size
                    try:
                        if os.write(fd, data) != len(data):
                            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                        os.fsync(fd)
                    except OSError:
                        _truncate(fd, size)  # no torn row left behind
                        raise
                finally:
                    os.close(fd)
            except OSError as exc:
                raise OutputError(Message.at(OPT.manifest, f"{self.path}: cannot append "
                                             f"a row ({exc.strerror or exc})")) from None

    def record_issued(self, port: str, protocol: str, sn: str, dac_serial: str) -> None:
        """Write-ahead: the ``issued`` row of a DAC, on disk before the DAC leaves the
        station (its outcome row follows)."""
        self.append(Outcome(port, protocol, ISSUED, sn, dac_serial))


def _truncate(fd: int, size: int) -> None:
    with contextlib.suppress(OSError):  # the next start cuts a torn last line anyway
        os.ftruncate(fd, size)


def run_station(ports: list, session: Callable, manifest: StationManifest, ui, *,
                open_port: Callable, protocol: str,
                stop: Optional[threading.Event] = None,
                why: Callable[[], str] = lambda: "interrupted") -> list:
    """Run ``session(transport, port, stop)`` on every port at once; returns the outcomes
    (in port order). Ctrl-C stops every worker; each records its outcome first."""
    stop = stop or threading.Event()
    outcomes: dict = {}

    finished: list = []  # appended by each worker when its row is written

    def work(port: str) -> None:
        try:
            outcome = _session_outcome(port, session, open_port, protocol, stop)
            try:
                manifest.append(outcome)
            except OutputError as exc:  # the issued row (if any) is on disk already
                outcome = outcome._replace(status=FAILED, error=(
                    f"{outcome.error or outcome.status}; and the outcome row could not be "
                    f"written: {exc}"))
            outcomes[port] = outcome
            _report(ui, outcome)
        finally:
            finished.append(port)

    threads = [threading.Thread(target=work, args=(port,), name=f"provision {port}",
                                daemon=True) for port in ports]
    try:
        for thread in threads:
            thread.start()
        _wait(finished, len(threads))
    except KeyboardInterrupt:
        stop.set()
        started = sum(1 for t in threads if t.ident is not None)
        while True:  # a second Ctrl-C must not abandon the rows being written
            try:
                _wait(finished, started)
                break
            except KeyboardInterrupt:
                continue
        raise Interrupted(f"{why()}; {len(outcomes)} outcome(s) are in {manifest.path}, "
                          "unfinished boards are recorded as interrupted") from None
    return [outcomes[port] for port in ports]


def _wait(finished: list, count: int) -> None:
    """Sleep until ``count`` workers are done (not Thread.join: a join interrupted by Ctrl-C
    can mark a running thread as finished on some Python versions)."""
    while len(finished) < count:
        time.sleep(0.05)


def _session_outcome(port: str, session: Callable, open_port: Callable, protocol: str,
                     stop: threading.Event) -> Outcome:
    transport = None
    try:
        transport = open_port(port)
        return session(transport, port, stop)
    except PortGone as exc:
        return Outcome(port, protocol, FAILED, error=str(exc))
    except Exception as exc:  # a bug or an unexpected board: still one row, others go on
        return Outcome(port, protocol, FAILED, error=f"internal error: {type(exc).__name__}: "
                                                     f"{exc}")
    finally:
        if transport is not None:
            transport.close()


def _report(ui, outcome: Outcome) -> None:
    """One line per board; what the device supplied (its serial number, text inside an
    error) is shown escaped: no escape sequence or forged line reaches the terminal."""
    from ...core.validate import escaped

    details = " ".join(f"{k}={escaped(v)}" for k, v in (("sn", outcome.sn),
                                                         ("dac_serial", outcome.dac_serial),
                                                         ("code", outcome.code)) if v)
    device = {"serial": outcome.sn or None, "port": outcome.port}
    if outcome.ok:
        ui.info(f"{escaped(outcome.port)}: ok {details}".rstrip())
        event(ui, "device_programmed", device, protocol=outcome.protocol,
                 dac_serial=outcome.dac_serial or None, status_code=outcome.code or None)
    elif outcome.status == INTERRUPTED:
        ui.error(f"{escaped(outcome.port)}: interrupted {details}".rstrip())
        event(ui, "error", device, code="INTERRUPTED", retryable=True,
                 message=f"{outcome.port}: interrupted")
    else:
        ui.error(f"{escaped(outcome.port)}: {escaped(outcome.error)}")
        event(ui, "error", device, code="DEVICE_FAILED", retryable=True,
                 message=f"{outcome.port}: {outcome.error}")
