#!/usr/bin/env python3
"""Benchmark: the identity ledger's cost per device, on SQLite and on PostgreSQL over a local
Unix socket, and `batch` with and without the ledger.

1. **Station** (``provision``'s path): per device one write-ahead record of its DAC (policy
   look-up + INSERT, one transaction) and one report (UPDATE, one transaction). The DACs are
   signed beforehand, so only the ledger is timed. Target: ≤ 1 ms per device on SQLite,
   ≤ 3 ms on PostgreSQL (median of the runs).
2. **Batch** (``batch``'s path): identities claimed in blocks of 64, built devices recorded in
   blocks of 64 (``BatchLedger``); per device.
3. **Four processes** claiming 10 000 identities at once (station path) from one SQLite file
   and from one PostgreSQL database: wall time, claims/s, and a count of duplicates and of
   missing records (both must be 0).
4. **batch with vs without the ledger**: the same plan made by the same code, once with
   ``make_missing(..., ledger=None)`` and once with the lot's own SQLite ledger, alternating;
   median devices/s and the ratio (target: within 10 %).

The PostgreSQL server is a private one (tests/pgserver.py: initdb + pg_ctl, Unix socket, fsync
off as in the tests; as root it runs as the postgres user). Without PostgreSQL the PostgreSQL
rows are skipped.

    python bench/bench_ledger.py                   # R=5, N=2000 per run, batch 300 devices
    python bench/bench_ledger.py --repeat 3 --devices 500 --batch-count 100   # quick
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # pgserver


def fake_dacs(count: int) -> list:
    """(sn, public key, DAC-sized bytes) per device; keys real, so their hashes are."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return [(f"B-{secrets.token_hex(6)}", ec.generate_private_key(ec.SECP256R1()).public_key(),
             secrets.token_bytes(480)) for _ in range(count)]


def station_run(url: str, devices: list, station: str = "bench") -> float:
    """Seconds for record + report of every device (one transaction each)."""
    from matter_factory_data.station.ledger import open_ledger
    from matter_factory_data.station.ledger.station import StationLedger

    with open_ledger(url) as ledger:
        recorder = StationLedger(ledger, station, b"bench PAI")
        started = time.perf_counter()
        for sn, key, dac in devices:
            _, serial = recorder.issue(sn, key, lambda serial, dac=dac: dac)
            ledger.report(f"{serial:x}", "ok", station)
        return time.perf_counter() - started


def batch_style_run(url: str, count: int, out: Path) -> float:
    """Seconds for claiming ``count`` identities in blocks and recording them built."""
    from matter_factory_data.core import series
    from matter_factory_data.station.ledger import open_ledger
    from matter_factory_data.station.ledger.batch import BatchLedger

    randomness = series.Randomness(None)
    allocator = series.IdentityAllocator(
        randomness=randomness, template=series.SerialTemplate(None),
        discriminators=series.DiscriminatorPool(sequential=False, start=0, allow_shared=True,
                                                randomness=randomness), expected=count)
    identities = [(allocator.allocate(i), series.Given()) for i in range(1, count + 1)]
    hashes = [secrets.token_hex(32) for _ in range(count)]
    with open_ledger(url) as ledger:
        claims = BatchLedger(ledger, out, "bench", "00" * 32, allocator, seeded=False)
        started = time.perf_counter()
        for identity in claims.claimed(identities):
            claims.built({"index": identity.index, "dac_pubkey_sha256": hashes[identity.index - 1],
                          "image_sha256": "00"})
        claims.flush()
        return time.perf_counter() - started


def _claimer(url: str, count: int, station: str, queue) -> None:
    devices = fake_dacs(count)
    queue.put(station_run(url, devices, station))


def four_processes(url: str, total: int) -> tuple:
    """(wall s, identities recorded, duplicate DAC serials, missing) for 4 processes."""
    from matter_factory_data.station.ledger import open_ledger

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    started = time.perf_counter()
    processes = [context.Process(target=_claimer, args=(url, total // 4, f"st{i}", queue))
                 for i in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    wall = time.perf_counter() - started
    with open_ledger(url) as ledger:
        rows = ledger.export_rows()
    serials = [r["dac_serial"] for r in rows]
    keys = [r["pubkey_sha256"] for r in rows]
    duplicates = (len(serials) - len(set(serials))) + (len(keys) - len(set(keys)))
    return wall, len(rows), duplicates, total - sum(1 for r in rows if r["state"] == "ok")


def batch_once(out: Path, count: int, with_ledger: bool) -> float:
    """devices/s of one batch run (2 workers), the ledger being the lot's own SQLite file."""
    from matter_factory_data.core import series
    from matter_factory_data.station.batch import layout
    from matter_factory_data.station.batch.manifest import Manifest
    from matter_factory_data.station.batch.plan import make_plan
    from matter_factory_data.station.batch.request import BatchRequest
    from matter_factory_data.station.batch.resume import MissingIndexes, resume_series
    from matter_factory_data.station.batch.series_dir import open_series
    from matter_factory_data.station.batch.workers import make_missing
    from matter_factory_data.station.ledger import open_ledger
    from matter_factory_data.station.ledger.batch import BatchLedger
    from matter_factory_data.ui import UI

    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    ui = UI(out=sink, err=sink)
    plan = make_plan(BatchRequest(output=str(out), count=count, defaults=True, qr="none",
                                  spake2_it=1000, jobs=2, seed=None))
    started = time.perf_counter()
    open_series(plan)
    columns = layout.columns_for(plan.params)
    manifest = Manifest(out / layout.MANIFEST, columns)
    randomness = series.Randomness(None)
    pool = series.DiscriminatorPool(sequential=False, start=0, allow_shared=False,
                                    randomness=randomness)
    allocator = series.IdentityAllocator(randomness=randomness, template=plan.sn_template,
                                         discriminators=pool, expected=count)
    done, recovered = resume_series(plan, manifest, allocator, columns, ui)
    ledger = claims = None
    if with_ledger:
        ledger = open_ledger(f"sqlite://{(out / layout.LEDGER).resolve()}")
        claims = BatchLedger(ledger, out, None, plan.params["pai_sha256"], allocator,
                             seeded=False)
        claims.start(done, recovered)
    make_missing(plan, manifest, allocator, MissingIndexes(done, count), columns, 0, recovered,
                 ui, claims)
    if ledger is not None:
        ledger.close()
    elapsed = time.perf_counter() - started
    sink.close()
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--devices", type=int, default=2000, help="devices per timed run")
    parser.add_argument("--total", type=int, default=10000, help="identities, 4 processes")
    parser.add_argument("--batch-count", type=int, default=300)
    parser.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = parser.parse_args()

    import pgserver

    bindir = pgserver.binaries()
    server = pgserver.PostgresServer(bindir).start() if bindir else None
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-", dir=args.workdir))  # tmpfs
    disk = Path(tempfile.mkdtemp(prefix="bench-ledger-disk-"))  # SQLite on a real disk
    results: dict = {}
    try:
        backends = {"sqlite (disk)": lambda name: f"sqlite://{disk / name}.db",
                    "sqlite (tmpfs)": lambda name: f"sqlite://{work / name}.db"}
        if server is not None:
            backends["postgresql"] = lambda name: server.create_database(name)
        for backend, make_url in backends.items():
            station, batch = [], []
            for run in range(args.repeat):
                devices = fake_dacs(args.devices)
                station.append(station_run(make_url(f"s{run}"), devices) / args.devices)
                batch.append(batch_style_run(make_url(f"b{run}"), args.devices,
                                             work / f"lot-b{run}") / args.devices)
            results[backend] = {"station_ms": statistics.median(station) * 1000,
                                "station_best_ms": min(station) * 1000,
                                "batch_ms": statistics.median(batch) * 1000,
                                "batch_best_ms": min(batch) * 1000}
            wall, rows, duplicates, missing = four_processes(make_url("four"), args.total)
            results[backend].update(four_wall=wall, four_rows=rows, four_dup=duplicates,
                                    four_missing=missing)
        rates: dict = {False: [], True: []}
        for run in range(args.repeat):
            for with_ledger in (False, True):
                out = work / f"batch-{run}-{int(with_ledger)}"
                rates[with_ledger].append(batch_once(out, args.batch_count, with_ledger))
                shutil.rmtree(out)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)

    targets = {"sqlite (disk)": 1.0, "sqlite (tmpfs)": 1.0, "postgresql": 3.0}
    print(f"ledger cost per device, median of {args.repeat} runs of {args.devices} devices "
          "(best in brackets)")
    print("| backend | station: record + report | target | batch: claim + record (blocks of "
          f"64) | 4 processes x {args.total // 4}: wall, claims/s, duplicates, missing |")
    print("| --- | --- | --- | --- | --- |")
    failed = False
    for backend, r in results.items():
        met = r["station_ms"] <= targets[backend]
        failed |= not met or r["four_dup"] != 0 or r["four_missing"] != 0
        print(f"| {backend} | {r['station_ms']:.3f} ms ({r['station_best_ms']:.3f}) | "
              f"≤ {targets[backend]:g} ms {'met' if met else 'MISSED'} | "
              f"{r['batch_ms']:.3f} ms ({r['batch_best_ms']:.3f}) | {r['four_wall']:.1f} s, "
              f"{r['four_rows'] / r['four_wall']:.0f}/s, {r['four_dup']}, {r['four_missing']} |")
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    ratio = with_ / without
    within = ratio >= 0.9
    failed |= not within
    print(f"\nbatch of {args.batch_count} devices, --jobs 2, 1000 iterations, no QR, "
          f"alternating, median of {args.repeat}:")
    print(f"without ledger {without:.1f} devices/s, with the lot's ledger {with_:.1f} devices/s, "
          f"ratio {ratio:.3f} ({'within 10 %' if within else 'MISSED: more than 10 % slower'})")
    print(f"  runs without: {', '.join(f'{r:.1f}' for r in rates[False])}")
    print(f"  runs with:    {', '.join(f'{r:.1f}' for r in rates[True])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
