"""Making devices: identities allocated just in time, built in a process pool, each
device directory written under a temporary name and renamed; progress on stderr."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...core import series
from ...core.signer import Signer
from ...errors import FactoryDataError, Interrupted, OutputError
from ...ui import event
from .attestation import dac_common_name
from .device import DeviceTemplate
from .layout import DEVICES, SHARED_COLUMN, device_dir_name, image_path
from .manifest import Manifest
from .request import Plan
from .resume import MissingIndexes
from .sources import read_csv

CHUNK = 4  # devices per pool task: small enough for a smooth progress bar
PENDING = 192  # jobs taken but not yet recorded, at most (below the Window of 256)
IN_FLIGHT = 6  # chunks queued per worker: the pool's handler threads in this busy process
#                 hand them over late, so a worker must never run dry


class Progress:
    """A live line (count, rate, ETA) on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, ui, total: int, done: int, live: bool, noun: str = "devices",
                 quiet_start: bool = False) -> None:
        self.ui, self.total, self.start_done, self.done, self.live = ui, total, done, done, live
        self.noun = noun
        self.started = time.monotonic()
        # quiet_start: without a terminal, the first plain line only after 5 s (a short run
        # prints nothing but its result)
        self.last = self.started if quiet_start and not live else 0.0
        self.quiet = quiet_start and not live
        self.last_event = self.started

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if getattr(self.ui, "events", None) is not None and (
                self.done == self.total or now - self.last_event >= 1.0):
            self.last_event = now  # an event at most every second, and the last one
            event(self.ui, "progress", done=self.done, total=self.total, noun=self.noun)
        if now - self.last >= (0.2 if self.live else 5.0) or (
                self.done == self.total and not (self.quiet and self.last == self.started)):
            self.last = now
            self._show(now)

    def _show(self, now: float) -> None:
        made = self.done - self.start_done
        rate = made / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0
        eta = time.strftime("%H:%M:%S", time.gmtime(left))
        width = 30
        filled = int(width * self.done / self.total)
        text = (f"{self.done}/{self.total} {self.noun}  {rate:7.1f}/s  ETA {eta}")
        if self.live:
            bar = "#" * filled + "-" * (width - filled)
            self.ui.progress(f"\r[{bar}] {text}")
        else:
            self.ui.progress(text + "\n")  # stderr: stdout keeps only the result

    def finish(self) -> None:
        if self.live and self.done > self.start_done:
            self.ui.progress("\n")

    def finish_line(self) -> None:
        """End a live line before other output, so that it is not overwritten mid-line."""
        if self.live and self.done > self.start_done and self.last:
            self.ui.progress("\n")
            self.last = 0.0


_WORKER: dict = {}


def _init_worker(template: DeviceTemplate, pai_cert_der: bytes, pai_key: bytes | Signer,
                 common_name: str, not_before, deterministic: bool, devices_dir: str,
                 ignore_sigint: bool) -> None:
    """``pai_key``: the key file's DER, or a token signer (inherited by fork: it reconnects
    to its token in the child, as PKCS#11 requires after a fork)."""
    from ...core import certs

    if ignore_sigint:  # the parent handles Ctrl-C, SIGTERM and SIGHUP and stops the pool
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # Pool.terminate() ends workers
    cert = certs.load_certificate(pai_cert_der, source="PAI")
    key: Any
    if isinstance(pai_key, Signer):
        pai_key.after_fork()
        key = pai_key
    else:
        key = certs.load_private_key(pai_key, source="PAI key")
    if _WORKER.get("dirs") is not None:
        _WORKER["dirs"].close()
    _WORKER.update(template=template, dirs=DeviceDirs(Path(devices_dir)), issuer=certs.DacIssuer(
        issuer_cert=cert, issuer_key=key, common_name=common_name,
        vendor_id=template.common["vendor_id"], product_id=template.common["product_id"],
        not_before=not_before, deterministic=deterministic))


def _make_device(job: tuple) -> dict:
    """Build one device and write its directory atomically; return its manifest row."""
    from .device import build_device

    identity, shared = job
    built = build_device(_WORKER["template"], identity, _WORKER["issuer"])
    _WORKER["dirs"].write(identity.index, built.files)
    row = dict(built.row, image=image_path(identity.index))
    row[SHARED_COLUMN] = " ".join(map(str, shared))
    return row


def _make_devices(chunk: list) -> list:
    return [_make_device(job) for job in chunk]


def _shared_work(pool, workers: int, jobs: Iterator[tuple]) -> Iterator[dict]:
    """The rows of ``jobs`` in order, made by the pool's ``workers`` processes and by this
    one: while the pool has enough chunks in flight, this process makes the next device
    itself. One process fewer than cores keeps the summed memory of a batch down (every
    process holds Python, OpenSSL and the libraries) without leaving a core idle.

    At most PENDING jobs are taken and not yet yielded (fewer than the producer's Window),
    so the producer never waits for a row only this loop could yield."""
    import sys

    in_flight_limit = IN_FLIGHT * workers
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # the pool's handler threads get the GIL within 0.5 ms
    try:
        yield from _shared_loop(pool, jobs, in_flight_limit)
    finally:
        sys.setswitchinterval(switch)


def _shared_loop(pool, jobs: Iterator[tuple], in_flight_limit: int) -> Iterator[dict]:
    from collections import deque

    queue: deque = deque()  # (async result | None, rows made here) in job order
    in_flight = pending = 0
    chunk: list = []

    def head() -> Iterator[dict]:
        nonlocal in_flight, pending
        result, rows = queue.popleft()
        if result is not None:
            rows = result.get()
            in_flight -= 1
        pending -= len(rows)
        yield from rows

    for job in jobs:
        pending += 1
        if in_flight < in_flight_limit:
            chunk.append(job)
            if len(chunk) == CHUNK:
                queue.append((pool.apply_async(_make_devices, (chunk,)), None))
                in_flight, chunk = in_flight + 1, []
        else:
            queue.append((None, [_make_device(job)]))
        while queue and (queue[0][0] is None or queue[0][0].ready() or pending >= PENDING):
            yield from head()
    if chunk:
        queue.append((pool.apply_async(_make_devices, (chunk,)), None))
    while queue:
        yield from head()


class DeviceDirs:
    """Writes device directories into ``devices_dir``: each one under a temporary name,
    renamed into place once every file is written (a rename fails if a complete device is
    already there). Where the platform allows, every call is relative to an open descriptor
    of the directory (no path is built or resolved per file: the hot path of ``batch``)."""

    _AT = all(call in os.supports_dir_fd for call in (os.open, os.mkdir, os.rename))

    def __init__(self, devices_dir: Path) -> None:
        self.path = str(devices_dir)
        self.fd = -1
        self.pid = os.getpid()  # made in the process that writes (a worker: after the fork)

    def write(self, index: int, files: dict) -> None:
        final = device_dir_name(index)
        temp = f".tmp-{final}-{self.pid}"
        if not self._AT:
            self._write_by_path(final, temp, files)
            return
        if self.fd < 0:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.mkdir(temp, 0o700, dir_fd=self.fd)
        except FileExistsError:  # left by a killed process with this pid
            shutil.rmtree(os.path.join(self.path, temp))
            os.mkdir(temp, 0o700, dir_fd=self.fd)
        directory = os.open(temp, os.O_RDONLY | os.O_DIRECTORY, dir_fd=self.fd)
        try:
            _write_files(files, lambda name: os.open(name, _NEW_SECRET, 0o600, dir_fd=directory))
        finally:
            os.close(directory)
        os.rename(temp, final, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def _write_by_path(self, final: str, temp: str, files: dict) -> None:
        temp_path = os.path.join(self.path, temp)
        if os.path.exists(temp_path):
            shutil.rmtree(temp_path)
        os.mkdir(temp_path, 0o700)
        _write_files(files, lambda name: os.open(os.path.join(temp_path, name), _NEW_SECRET,
                                                 0o600))
        os.rename(temp_path, os.path.join(self.path, final))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


_NEW_SECRET = os.O_WRONLY | os.O_CREAT | os.O_EXCL  # with mode 0600: a new file, ours only


def _write_files(files: dict, open_new) -> None:
    """Write each ``name: data`` of ``files`` to the descriptor ``open_new(name)`` gives."""
    for name, data in files.items():
        fd = open_new(name)
        try:
            written = os.write(fd, data)
            while written < len(data):  # a short write (a full disk raises on the next call)
                written += os.write(fd, memoryview(data)[written:])
        finally:
            os.close(fd)


class Window:
    """Lets a producer run at most ``size`` items ahead of its consumer (so memory stays flat);
    after stop() the producer ends instead of waiting, so a pool can be shut down."""

    def __init__(self, size: int) -> None:
        self._free = threading.Semaphore(size)
        self._stopped = threading.Event()

    def enter(self) -> bool:
        while not self._stopped.is_set():
            if self._free.acquire(timeout=0.1):
                return True
        return False

    def leave(self) -> None:
        self._free.release()

    def stop(self) -> None:
        self._stopped.set()


def _jobs(plan: Plan, allocator, missing: MissingIndexes, columns: list,
          window: Window, ledger=None) -> Iterator[tuple]:
    """Identities made just in time, at most a window ahead of the writer; with a ledger,
    claimed from it (in blocks) before they are built."""
    given = read_csv(plan.csv_path) if plan.csv_path else None

    shares: dict = {}  # index -> the devices sharing its discriminator so far

    def allocated() -> Iterator:
        for index in missing:
            one = given[index - 1] if given else series.Given()
            identity = allocator.allocate(index, one)
            if SHARED_COLUMN in columns:
                shares[index] = allocator.discriminators.shared_with(identity.discriminator,
                                                                     index)
            yield identity, one

    identities = (ledger.claimed(allocated()) if ledger is not None
                  else (identity for identity, _ in allocated()))
    for identity in identities:
        if not window.enter():
            return
        yield identity, shares.pop(identity.index, [])


def make_missing(plan: Plan, manifest: Manifest, allocator, missing: MissingIndexes,
                  columns: list,
                  done: int, recovered: dict, ui, ledger=None) -> None:
    """Make the missing devices; the recovered rows are written in index order among them.
    With a ledger (:class:`~..ledger.batch.BatchLedger`), a row is written once the ledger
    has recorded its device."""
    import multiprocessing

    from ...core import certs
    from ...core.signer import private_key_of

    window = Window(max(256, plan.jobs * CHUNK * 8))
    key = plan.pai_key if private_key_of(plan.pai_key) is None else \
        certs.key_der(private_key_of(plan.pai_key))
    initargs = (plan.template, certs.cert_der(plan.pai_cert), key,
                dac_common_name(plan.template.common), plan.not_before, plan.seed is not None,
                str(plan.out_dir / DEVICES))
    progress = Progress(ui, plan.count, done, live=ui.is_terminal())
    jobs = _jobs(plan, allocator, missing, columns, window, ledger)
    with manifest.open_for_append() as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore")

        def write(row: dict) -> None:
            for index in sorted(i for i in recovered if i < row["index"]):
                writer.writerow(recovered.pop(index))  # keep the rows in index order
            writer.writerow(row)
            if getattr(ui, "events", None) is not None:  # claimed in the ledger, files made
                event(ui, "device_claimed", {"serial": row.get("sn"), "index": row["index"]},
                         dac_serial=row.get("dac_serial"), vendor_id=row.get("vendor_id"),
                         product_id=row.get("product_id"), image=row.get("image"),
                         image_sha256=row.get("image_sha256"))
            stream.flush()

        def record(row: dict) -> None:
            for ready in (ledger.built(row) if ledger is not None else (row,)):
                write(ready)
            window.leave()
            progress.advance()

        def flush_ledger(stopping: bool) -> None:
            """Record the built devices still waiting; when stopping on another error, a
            failure here leaves them to the next run (their directories are recovered)."""
            if ledger is None:
                return
            try:
                for ready in ledger.flush():
                    write(ready)
            except Exception:
                if not stopping:
                    raise

        try:
            single = plan.jobs == 1 or len(missing) == 1 or (
                sys.platform == "win32" and isinstance(key, Signer))  # no fork: one process
            if single:
                _init_worker(*initargs, ignore_sigint=False)
                for job in jobs:
                    record(_make_device(job))
            else:
                context = multiprocessing.get_context("fork" if sys.platform != "win32"
                                                      else "spawn")
                workers = min(plan.jobs, len(missing)) - 1  # this process makes devices too
                with context.Pool(workers, _init_worker, (*initargs, True)) as pool:
                    _init_worker(*initargs, ignore_sigint=False)  # after the fork: not shared
                    try:
                        for row in _shared_work(pool, workers, jobs):
                            record(row)
                    finally:
                        window.stop()  # before the pool is terminated: see Window
            flush_ledger(stopping=False)
            for index in sorted(recovered):
                writer.writerow(recovered.pop(index))
                stream.flush()
        except OSError as exc:
            flush_ledger(stopping=True)
            progress.finish()
            raise OutputError(f"cannot write a device: {exc.strerror or exc} "
                              f"({exc.filename or plan.out_dir}); finished devices are kept, "
                              "rerun the same command once the cause is fixed") from None
        except FactoryDataError:  # the ledger refused or failed: record what is built
            flush_ledger(stopping=True)
            progress.finish()
            raise
        except KeyboardInterrupt:
            flush_ledger(stopping=True)
            progress.finish()
            raise Interrupted(
                f"interrupted after {progress.done} of {plan.count} devices; every finished "
                "device is in the manifest: run the same command again to make the rest") \
                from None
        progress.finish()
