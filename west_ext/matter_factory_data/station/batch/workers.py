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

from ...core import series
from ...errors import FactoryDataError, Interrupted, OutputError
from .attestation import dac_common_name
from .device import DeviceTemplate
from .layout import DEVICES, SHARED_COLUMN, device_dir_name, image_path
from .manifest import Manifest
from .request import Plan
from .resume import MissingIndexes
from .sources import read_csv

CHUNK = 4  # devices per pool task: small enough for a smooth progress bar


class Progress:
    """A live line (count, rate, ETA) on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, ui, total: int, done: int, live: bool) -> None:
        self.ui, self.total, self.start_done, self.done, self.live = ui, total, done, done, live
        self.started = time.monotonic()
        self.last = 0.0

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= (0.2 if self.live else 5.0) or self.done == self.total:
            self.last = now
            self._show(now)

    def _show(self, now: float) -> None:
        made = self.done - self.start_done
        rate = made / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0
        eta = time.strftime("%H:%M:%S", time.gmtime(left))
        width = 30
        filled = int(width * self.done / self.total)
        text = (f"{self.done}/{self.total} devices  {rate:7.1f}/s  ETA {eta}")
        if self.live:
            bar = "#" * filled + "-" * (width - filled)
            self.ui.progress(f"\r[{bar}] {text}")
        else:
            self.ui.progress(text + "\n")  # stderr: stdout keeps only the result

    def finish(self) -> None:
        if self.live and self.done > self.start_done:
            self.ui.progress("\n")


_WORKER: dict = {}


def _init_worker(template: DeviceTemplate, pai_cert_der: bytes, pai_key_der: bytes,
                 common_name: str, not_before, deterministic: bool, devices_dir: str,
                 ignore_sigint: bool) -> None:
    from ...core import certs

    if ignore_sigint:  # the parent handles Ctrl-C and stops the pool
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    cert = certs.load_certificate(pai_cert_der, source="PAI")
    key = certs.load_private_key(pai_key_der, source="PAI key")
    _WORKER.update(template=template, devices_dir=devices_dir, issuer=certs.DacIssuer(
        issuer_cert=cert, issuer_key=key, common_name=common_name,
        vendor_id=template.common["vendor_id"], product_id=template.common["product_id"],
        not_before=not_before, deterministic=deterministic))


def _make_device(job: tuple) -> dict:
    """Build one device and write its directory atomically; return its manifest row."""
    from .device import build_device

    identity, shared = job
    built = build_device(_WORKER["template"], identity, _WORKER["issuer"])
    write_device_dir(Path(_WORKER["devices_dir"]), identity.index, built.files)
    row = dict(built.row, image=image_path(identity.index))
    row[SHARED_COLUMN] = " ".join(map(str, shared))
    return row


def write_device_dir(devices_dir: Path, index: int, files: dict) -> None:
    final = devices_dir / device_dir_name(index)
    temp = devices_dir / f".tmp-{device_dir_name(index)}-{os.getpid()}"
    if temp.exists():
        shutil.rmtree(temp)
    os.mkdir(temp, 0o700)
    for name, data in files.items():
        fd = os.open(temp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    os.rename(temp, final)  # fails if a complete device is already there


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

    window = Window(max(64, plan.jobs * CHUNK * 8))
    initargs = (plan.template, certs.cert_der(plan.pai_cert), certs.key_der(plan.pai_key),
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
            if plan.jobs == 1 or len(missing) == 1:
                _init_worker(*initargs, ignore_sigint=False)
                for job in jobs:
                    record(_make_device(job))
            else:
                context = multiprocessing.get_context("fork" if sys.platform != "win32"
                                                      else "spawn")
                workers = min(plan.jobs, len(missing))
                with context.Pool(workers, _init_worker, (*initargs, True)) as pool:
                    try:
                        for row in pool.imap(_make_device, jobs, chunksize=CHUNK):
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
