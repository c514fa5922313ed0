"""``attest IMAGE|LOT``: check devices the way a commissioner does (:mod:`..core.attest`).

Loads the PAA trust store and the CD-signer store (directories of DER or PEM certificates),
the image (nRF CBOR or STM32 TLV, detected from its bytes unless ``format`` is given) or every
image of a lot made by ``batch`` (its ``manifest.csv``; the lot's ``CD.der`` is the CD of an
nRF lot, whose images hold none), and reports one line per failed device and reason.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional

from ..errors import OPT, InputError, VerificationError
from ..typed import Request

#: The largest certificate file a store reads.
_MAX_CERT_FILE = 64 * 1024


class AttestRequest(Request):
    target: str = ""
    paa_store: str = ""
    cd_store: Optional[str] = None
    cd: Optional[str] = None  # a CD file (DER) for images that hold none (nRF)
    at: Optional[str] = None  # the commissioning time, YYYY-MM-DD[THH:MM:SS]; None: now
    format: Optional[str] = None  # None: detected
    board: Optional[str] = None
    offset: Optional[int] = None
    jobs: Optional[int] = None  # a lot: worker processes (None: one per CPU)
    ledger: Optional[str] = None  # report every result to this identity ledger
    station: Optional[str] = None  # this station's name in the ledger (None: the host name)


def parse_time(text: Optional[str]) -> _dt.datetime:
    """``--at``: ``YYYY-MM-DD`` (midnight UTC) or ``YYYY-MM-DDTHH:MM:SS`` (UTC); None: now."""
    if text is None:
        return _dt.datetime.now(_dt.timezone.utc)
    for pattern in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return _dt.datetime.strptime(text, pattern).replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            continue
    raise InputError(f"{OPT.at}: {text!r} is not a date (accepted: YYYY-MM-DD or "
                     "YYYY-MM-DDTHH:MM:SS, UTC)")


def load_store(directory: str, option) -> list[tuple[str, bytes]]:
    """(source, DER) of every certificate in ``directory`` (.der, .pem, .crt, .cer files);
    a file that is not a readable certificate is bad input."""
    from ..core import certview
    from ..errors import FactoryDataError

    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{option} {directory}: not a directory (give a directory of DER or "
                         "PEM certificates)")
    found = []
    for path in sorted(root.iterdir()):
        if path.suffix.lower() not in (".der", ".pem", ".crt", ".cer") or not path.is_file():
            continue
        data = path.read_bytes()[:_MAX_CERT_FILE + 1]
        if len(data) > _MAX_CERT_FILE:
            raise InputError(f"{option} {path}: larger than {_MAX_CERT_FILE} bytes; not a "
                             "certificate")
        try:
            view = certview.parse_certificate(data, source=f"{option} {path}", profile=False)
        except FactoryDataError as exc:
            raise InputError(str(exc)) from None
        found.append((str(path), view.der))
    if not found:
        raise InputError(f"{option} {directory}: no certificate (.der, .pem, .crt or .cer "
                         "file) in it")
    return found


def paa_store(directory: str):
    from ..core import attest, certview

    store = attest.TrustStore()
    for source, der in load_store(directory, OPT["paa-store"]):
        store.add(certview.parse_certificate(der, source=source, profile=False), source)
    return store


def cd_signers(directory: Optional[str]) -> Optional[dict]:
    from ..core import certview

    if directory is None:
        return None
    signers: dict = {}
    for source, der in load_store(directory, OPT["cd-store"]):
        view = certview.parse_certificate(der, source=source, profile=False)
        if view.subject_key_id is not None:
            signers.setdefault(view.subject_key_id, (source, der))
    return signers


def image_values(path: str, fmt_name: Optional[str], board: Optional[str],
                 offset: Optional[int]) -> dict:
    """The model values (``dac_cert``, ``pai_cert``, ``vendor_id``, ``product_id``, ``cd``) of
    an image file (.bin, .hex or .json)."""
    from ..formats import get_format, images

    if fmt_name is None:  # told from the content, as show and verify do
        fmt_name, _ = images.detect_format(path, offset)
    fmt = get_format(fmt_name, board)
    loaded = images.load(path, offset, fmt)
    return fmt.model_values(loaded.device_map)


def _device_line(name: str, problems: list[str]) -> list[str]:
    return [f"FAIL  {name}: {problem}" for problem in problems]


class _LedgerReport:
    """``--ledger``: every device's result recorded (``attest``, ``attested_at``,
    ``attest_station``; its state is left alone). A device the ledger does not know gets one
    line and makes the run exit 1."""

    def __init__(self, url: str, station: Optional[str]) -> None:
        from .ledger import open_ledger
        from .ledger.batch import default_station
        from .ledger.url import check_station, parse_ledger_url

        parse_ledger_url(url, "ledger")
        self.station = check_station(station) or default_station()
        self.ledger = open_ledger(url, create=False)
        self.unknown = 0

    def record(self, name: str, serial: Optional[str], problems: list[str], ui) -> None:
        from ..core.attest import ledger_result

        if serial is None or not self.ledger.attested(serial, ledger_result(problems),
                                                      self.station):
            self.unknown += 1
            what = f"DAC serial {serial}" if serial else "no readable DAC"
            ui.info(f"FAIL  {name}: not in the ledger {self.ledger.url} ({what}); its result "
                    "was not recorded")

    def close(self) -> None:
        self.ledger.close()


def attest_command(req: AttestRequest, ui) -> int:
    from ..files.inputs import read_file
    from .batch.verify import is_batch_dir

    at = parse_time(req.at)
    store = paa_store(req.paa_store)
    signers = cd_signers(req.cd_store)
    given_cd = read_file(req.cd, OPT.cd) if req.cd else None
    if req.station is not None and not req.ledger:
        raise InputError(f"{OPT.station} needs {OPT.ledger}")
    if not is_batch_dir(req.target) and Path(req.target).is_dir():
        raise InputError(f"{req.target}: a directory without a batch manifest.csv; give an "
                         "image file or a lot made by batch")
    report = _LedgerReport(req.ledger, req.station) if req.ledger else None
    try:
        if is_batch_dir(req.target):
            return _attest_lot(req, ui, store, signers, given_cd, at, report)
        return _attest_image(req, ui, store, signers, given_cd, at, report)
    finally:
        if report is not None:
            report.close()


def _unknown(report: Optional[_LedgerReport], target: str) -> None:
    if report is not None and report.unknown:
        raise VerificationError(f"{target}: {report.unknown} device(s) not in the ledger "
                                f"{report.ledger.url}")


def _attest_image(req: AttestRequest, ui, store, signers, given_cd, at,
                  report: Optional[_LedgerReport]) -> int:
    from ..core.attest import attest_device, dac_serial

    values = image_values(req.target, req.format, req.board, req.offset)
    if given_cd is None and values.get("cd") is None:
        ui.info(f"note  {req.target}: no Certification Declaration (the image holds none; "
                f"give {OPT.cd}); only the certificates were checked")
    elif signers is None:
        ui.info(f"note  {req.target}: the CD's signature was not checked (no {OPT['cd-store']})")
    problems = attest_device(values, paa_store=store, cd_signers=signers, at=at, cd=given_cd)
    for line in _device_line(req.target, problems):
        ui.info(line)
    if report is not None:
        report.record(req.target, dac_serial(values), problems, ui)
    if problems:
        raise VerificationError(f"{req.target}: attestation fails ({len(problems)} "
                                "reason(s))")
    _unknown(report, req.target)
    ui.info(f"{req.target}: attestation passes")
    return 0


_LOT: dict = {}  # what every worker of a lot needs (set by _init_lot)


def _init_lot(context: dict) -> None:
    """A worker's start: the context, and Ctrl-C left to the parent (which stops the pool)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _LOT.update(context)


def _check_row(row: dict) -> tuple[str, list[str], Optional[str]]:
    """(device name, problems, DAC serial) of one manifest row (the serial from the image's
    DAC, else the manifest's)."""
    from ..core.attest import attest_device, dac_serial
    from ..errors import FactoryDataError

    name = f"device {row.get('index', '?')}"
    listed = (row.get("dac_serial") or "").lower().lstrip("0") or None
    try:
        values = image_values(str(_LOT["root"] / row["image"]), _LOT["format"], _LOT["board"],
                              None)
    except FactoryDataError as exc:
        return name, [str(exc)], listed
    except KeyError:
        return name, ["its manifest row has no image"], listed
    return name, attest_device(values, paa_store=_LOT["store"], cd_signers=_LOT["signers"],
                               at=_LOT["at"], cd=_LOT["cd"]), dac_serial(values) or listed


def _attest_lot(req: AttestRequest, ui, store, signers, given_cd, at,
                report: Optional[_LedgerReport]) -> int:
    import multiprocessing
    import os

    from ..errors import Interrupted
    from .batch.common import check_jobs
    from .batch.layout import MANIFEST
    from .batch.verify import _rows, _state

    check_jobs(req.jobs)
    root = Path(req.target)
    params = _state(root)["params"]
    if given_cd is None and (root / "CD.der").is_file():
        given_cd = (root / "CD.der").read_bytes()
    context = {"root": root, "format": req.format or params.get("format", "nrf-cbor"),
               "board": req.board or params.get("board"), "store": store, "signers": signers,
               "cd": given_cd, "at": at}
    rows = list(_rows(root))
    if not rows:
        raise InputError(f"{req.target}: {MANIFEST} lists no device")
    jobs = min(req.jobs or os.cpu_count() or 1, len(rows))
    if jobs == 1:
        _LOT.update(context)  # in this process: Ctrl-C stays Ctrl-C
        results = [_check_row(row) for row in rows]
    else:
        try:
            with multiprocessing.get_context("fork").Pool(jobs, _init_lot, (context,)) as pool:
                results = pool.map(_check_row, rows, chunksize=max(1, len(rows) // (jobs * 8)))
        except KeyboardInterrupt:
            raise Interrupted("attestation interrupted") from None
    failed = 0
    for name, problems, serial in results:
        if problems:
            failed += 1
            for line in _device_line(name, problems):
                ui.info(line)
        if report is not None:
            report.record(name, serial, problems, ui)
    if failed:
        raise VerificationError(f"{req.target}: {failed} of {len(rows)} devices fail "
                                "attestation")
    _unknown(report, req.target)
    ui.info(f"{req.target}: all {len(rows)} devices pass attestation")
    return 0
