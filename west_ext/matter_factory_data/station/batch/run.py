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

    label_options = _label_options(args)  # checked before anything is made
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
                    code = _run_locked(plan, ui, ledger)
                except Interrupted as exc:
                    if received.name:
                        raise Interrupted(f"{received.describe()}: {exc}") from None
                    raise
                if label_options is not None:
                    _write_labels(plan, label_options, ui)
                return code
        finally:
            unlock_series(plan.out_dir, lock)
    finally:
        if ledger is not None:
            ledger.close()


def _label_options(args: BatchRequest):
    """The validated label options, or None when no label is asked for."""
    from ...errors import OPT, InputError

    if args.label_size_mm is None and args.label_dpi is None:
        return None
    if args.label_size_mm is None or args.label_dpi is None:
        given, missing = ((OPT.label_size_mm, OPT.label_dpi) if args.label_dpi is None
                          else (OPT.label_dpi, OPT.label_size_mm))
        raise InputError(f"{given} needs {missing} too (labels are sized in millimetres for "
                         "a printer resolution)")
    from ..labels import LabelOptions

    return LabelOptions(args.label_size_mm, args.label_dpi, args.label_format,
                        size_subject=OPT.label_size_mm, dpi_subject=OPT.label_dpi,
                        format_subject=OPT.label_format)


def _write_labels(plan: Plan, options, ui) -> None:
    """The labels of the whole lot in DIR/labels, replacing those of an earlier run (they are
    the batch's own files, made again from the manifest)."""
    from ..labels import LABELS_DIR, write_labels

    count = write_labels(plan.out_dir, plan.out_dir / LABELS_DIR, options, overwrite=True)
    ui.info(f"{plan.out_dir / LABELS_DIR}: labels of {_devices(count)} "
            f"({', '.join(options.formats)} and labels.csv); {options.describe()}")


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
