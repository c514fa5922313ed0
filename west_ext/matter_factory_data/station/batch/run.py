"""``batch``: N devices, each with its own identity, resumable; see the package docstring."""

from __future__ import annotations

from ...core import series
from ...errors import Interrupted
from .layout import MANIFEST, columns_for
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
    lock = lock_series(plan.out_dir)
    try:
        with stop_on_signals() as received:  # SIGTERM/SIGHUP stop the run like Ctrl-C
            try:
                return _run_locked(plan, ui)
            except Interrupted as exc:
                if received.name:
                    raise Interrupted(f"{received.describe()}: {exc}") from None
                raise
    finally:
        unlock_series(plan.out_dir, lock)


def _run_locked(plan: Plan, ui) -> int:
    try:
        return _run_series(plan, ui)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; every finished device is kept: run the same command "
                          "again to finish the series") from None


def _run_series(plan: Plan, ui) -> int:
    open_series(plan)
    columns = columns_for(plan.params)
    manifest = Manifest(plan.out_dir / MANIFEST, columns)
    randomness = series.Randomness(plan.seed)
    pool = series.DiscriminatorPool(sequential=plan.sequential, start=plan.first_discriminator,
                                    allow_shared=plan.allow_shared, randomness=randomness)
    allocator = series.IdentityAllocator(randomness=randomness, template=plan.sn_template,
                                         discriminators=pool, expected=plan.count)
    done, recovered = resume_series(plan, manifest, allocator, columns, ui)
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
    make_missing(plan, manifest, allocator, missing, columns, len(done), recovered, ui)
    ui.info(f"made {_devices(len(missing))} in {plan.out_dir} ({MANIFEST}: "
            f"{_plural(len(done) + len(missing), 'row')})")
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _devices(count: int) -> str:
    return _plural(count, "device")
