"""``batch``: N devices, each with its own identity, resumable; see the package docstring."""

from __future__ import annotations

from ...core import series
from ...errors import Interrupted
from .layout import LEDGER, MANIFEST, columns_for
from .manifest import Manifest, write_rows
from .plan import make_plan
from .request import BatchRequest, Plan
from .resume import MissingIndexes, resume_series
from .series_dir import check_directory, lock_series, open_series, unlock_series
from .workers import make_missing


def run_batch(args: BatchRequest, ui) -> int:
    from ..signals import stop_on_signals

    plan = make_plan(args)
    for warning in plan.warnings:
        ui.warn(warning.render())
    check_directory(plan)  # before the lock file is made in it
    ledger = _open_ledger(plan.ledger_url) if plan.ledger_url else None  # before writing
    try:
        lock = lock_series(plan.out_dir)
        try:
            with stop_on_signals() as received:  # SIGTERM/SIGHUP stop the run like Ctrl-C
                try:
                    return _run_locked(plan, ui, ledger)
                except Interrupted as exc:
                    if received.name:
                        raise Interrupted(f"{received.describe()}: {exc}") from None
                    raise
        finally:
            unlock_series(plan.out_dir, lock)
    finally:
        if ledger is not None:
            ledger.close()


def _open_ledger(url: str):
    from ..ledger import open_ledger

    return open_ledger(url)


def _run_locked(plan: Plan, ui, ledger) -> int:
    try:
        return _run_series(plan, ui, ledger)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; every finished device is kept: run the same command "
                          "again to finish the series") from None


def _run_series(plan: Plan, ui, ledger) -> int:
    from ..ledger.batch import BatchLedger

    open_series(plan)
    own = ledger is None
    if own:  # the lot's own ledger, next to its manifest
        ledger = _open_ledger(f"sqlite://{(plan.out_dir / LEDGER).resolve()}")
    try:
        columns = columns_for(plan.params)
        manifest = Manifest(plan.out_dir / MANIFEST, columns)
        randomness = series.Randomness(plan.seed)
        pool = series.DiscriminatorPool(sequential=plan.sequential,
                                        start=plan.first_discriminator,
                                        allow_shared=plan.allow_shared, randomness=randomness)
        allocator = series.IdentityAllocator(randomness=randomness, template=plan.sn_template,
                                             discriminators=pool, expected=plan.count)
        done, recovered = resume_series(plan, manifest, allocator, columns, ui)
        claims = BatchLedger(ledger, plan.out_dir, plan.station, plan.params["pai_sha256"],
                             allocator, seeded=plan.seed is not None)
        claims.start(done, recovered)
        result = _make(plan, ui, manifest, columns, allocator, done, recovered, claims)
        claims.ledger.void_unbuilt(claims.lot_id)  # every device is built: the rest is stale
        return result
    finally:
        if own:
            ledger.close()


def _make(plan: Plan, ui, manifest, columns, allocator, done, recovered, claims) -> int:
    missing = MissingIndexes(done, plan.count)
    if not len(missing):
        write_rows(manifest, columns, [recovered[i] for i in sorted(recovered)])
        ui.info(f"{plan.out_dir}: all {_devices(plan.count)} made ({len(done)} in "
                f"{MANIFEST}); nothing to do" if plan.count != 1 else
                f"{plan.out_dir}: the 1 device is made ({len(done)} in {MANIFEST}); nothing "
                "to do")
        return 0
    if done:
        ui.info(f"resuming: {_devices(len(done))} already made, {len(missing)} to go")
    make_missing(plan, manifest, allocator, missing, columns, len(done), recovered, ui,
                 claims)
    ui.info(f"made {_devices(len(missing))} in {plan.out_dir} ({MANIFEST}: "
            f"{_plural(len(done) + len(missing), 'row')})")
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _devices(count: int) -> str:
    return _plural(count, "device")
