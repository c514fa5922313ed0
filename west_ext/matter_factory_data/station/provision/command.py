"""``provision``: the station command body."""

from __future__ import annotations

from typing import Callable, Optional

from ...errors import OPT, InputError, Subject
from ...typed import Request
from ...ui import event

PROTOCOLS = ("st-demo", "csr")
#: Fastest UART rate accepted (USB-UART bridges top out around 12 Mbit/s).
MAX_BAUD = 12_000_000


class ProvisionRequest(Request):
    port: Optional[list] = None
    protocol: str = "csr"
    manifest: Optional[str] = None
    pai_cert: Optional[str] = None
    pai_key: Optional[str] = None
    vendor_id: Optional[int] = None
    product_id: Optional[int] = None
    dac_common_name: str = "Matter DAC"
    timeout: Optional[float] = None
    baud: int = 115200
    ledger: Optional[str] = None  # URL; None: sqlite:///<MANIFEST without .csv>.ledger.db
    station: Optional[str] = None  # this station's name in the ledger; default: host name
    profile: str = "development"  # core.profile: the PAI's attestation-profile rules
    allow_nonconformant_certs: bool = False  # the development profile's explicit spelling


def provision_command(args: ProvisionRequest, ui) -> int:
    from ..signals import stop_on_signals
    from .protocol import CsrSession, Timeouts, st_demo_session
    from .station import StationManifest, run_station
    from .transport import SerialTransport

    ports = _ports(args)
    if args.protocol not in PROTOCOLS:
        raise InputError(f"{OPT.protocol}: {args.protocol!r} is not accepted (accepted: "
                         f"{', '.join(PROTOCOLS)})")
    if not args.manifest:
        raise InputError(f"{OPT.manifest} FILE is required: every board's outcome is appended "
                         "to it")
    _check_common_name(args.dac_common_name)
    if not 1 <= args.baud <= MAX_BAUD:
        raise InputError.at(Subject("baud"), f"{args.baud} is not accepted (accepted: "
                                             f"1..{MAX_BAUD} bits per second)")
    if args.timeout is not None and not 0 < args.timeout <= 3600:
        raise InputError(f"{OPT.timeout}: {args.timeout:g} is not accepted (accepted: 0 < seconds "
                         "<= 3600)")
    timeouts = Timeouts() if args.timeout is None else Timeouts(
        answer=args.timeout, csr=args.timeout, status=args.timeout, finish=args.timeout)
    from ...jobs.pipeline import profile_policy

    policy = profile_policy(args)
    if args.protocol == "csr":
        issuer_args = _issuer_arguments(args, policy, ui)
    else:
        given = [o for o in ("pai_cert", "pai_key", "vendor_id", "product_id", "ledger")
                 if getattr(args, o) is not None]
        if given:
            raise InputError(f"{OPT[given[0]]} is for {OPT.protocol} csr; ST's demo firmware "
                             "provisions its compiled-in credentials")
    ledger_url = _ledger_url(args) if args.protocol == "csr" else None
    station_name = _station(args)
    # An existing manifest is checked before the ledger is opened (a damaged one changes
    # nothing, not even a new ledger file); a new one is made only once the ledger works.
    from pathlib import Path

    manifest = StationManifest(args.manifest) if Path(args.manifest).exists() else None
    used = list(manifest.dac_serials()) if manifest is not None and ledger_url else []
    ledger = None
    if ledger_url is not None:
        from ..ledger import open_ledger

        ledger = open_ledger(ledger_url)
    try:
        manifest = manifest or StationManifest(args.manifest)
    except BaseException:
        if ledger is not None:
            ledger.close()
        raise
    if args.protocol == "csr":
        from ..ledger.station import StationLedger
        from .issuer import CsrIssuer

        assert ledger is not None  # opened above for csr
        recorder = StationLedger(ledger, station_name, _pai_der(issuer_args["pai_cert"]))
        issuer = CsrIssuer(**issuer_args, used_serials=used, ledger=recorder)
        # the DAC is recorded in the ledger (CsrIssuer.issue) and as an "issued" manifest row
        # (record) before it leaves the station
        def issued(port: str, protocol: str, sn: str, dac_serial: str) -> None:
            manifest.record_issued(port, protocol, sn, dac_serial)
            event(ui, "device_claimed", {"serial": sn, "port": port}, dac_serial=dac_serial,
                     protocol=protocol)

        csr_session = CsrSession(issuer, timeouts, record=issued)

        def reported(transport, port, stop):  # then its outcome reported to the ledger
            outcome = recorder.report(csr_session(transport, port, stop))
            if outcome.dac_serial:
                event(ui, "device_reported", {"serial": outcome.sn, "port": outcome.port},
                         state=outcome.status, dac_serial=outcome.dac_serial)
            return outcome

        session: Callable = reported
    else:
        def st_demo(transport, port, stop):
            return st_demo_session(transport, port, timeouts, stop)

        session = st_demo
    try:
        with stop_on_signals() as received:
            outcomes = run_station(ports, session, manifest, ui, protocol=args.protocol,
                                   open_port=lambda port: SerialTransport(port, args.baud),
                                   why=received.describe)
    finally:
        if ledger is not None:
            ledger.close()
    failed = [o for o in outcomes if not o.ok]
    ui.info(f"{len(outcomes) - len(failed)} of {len(outcomes)} board(s) provisioned; "
            f"outcomes appended to {args.manifest}")
    return 1 if failed else 0


def _ledger_url(args: ProvisionRequest) -> str:
    """--ledger (checked), or the station's own ledger next to its manifest."""
    from pathlib import Path

    from ..ledger.url import parse_ledger_url

    if args.ledger is not None:
        parse_ledger_url(args.ledger)
        return args.ledger
    path = Path(str(args.manifest)).resolve()
    return f"sqlite://{path.with_name(path.stem + '.ledger.db')}"


def _station(args: ProvisionRequest) -> str:
    from ..ledger.batch import default_station
    from ..ledger.url import check_station

    return check_station(args.station) or default_station()


def _pai_der(cert) -> bytes:
    from ...core import certs

    return certs.cert_der(cert)


def _check_common_name(name: str) -> None:
    """The DACs' common name under the rules of every text value, 1..64 UTF-8 bytes."""
    from ...core.certs import subject_text_problem

    problem = subject_text_problem(name)
    if problem:
        raise InputError.at(Subject("dac_common_name"), f"common name {problem}")
    if not 1 <= len(name.encode("utf-8")) <= 64:
        raise InputError.at(Subject("dac_common_name"), f"{name[:70]!r} is "
                                                        f"{len(name.encode('utf-8'))} bytes "
                                                        "(accepted: 1..64 bytes of UTF-8)")


def _ports(args: ProvisionRequest) -> list:
    ports = list(args.port or [])
    if not ports:
        raise InputError(f"give {OPT.port} PORT for each board (repeatable; e.g. /dev/ttyACM0, "
                         f"COM5; `stm32-program {OPT.list}` shows each probe's port)")
    from ...core.validate import control_problem

    for port in ports:
        problem = "is empty" if port == "" else control_problem(port)
        if problem:
            problem = problem.replace(" (accepted: printable text)", "")
            raise InputError.at(Subject("port"), f"{port[:40]!r} {problem} (accepted: a serial "
                                                 "port name such as /dev/ttyACM0 or COM5)")
    repeated = sorted({p for p in ports if ports.count(p) > 1})
    if repeated:
        raise InputError(f"{OPT.port} {repeated[0]} is given twice")
    return ports


def _issuer_arguments(args: ProvisionRequest, policy, ui) -> dict:
    """The PAI and its key (checked to belong together), and the product the DACs are for.
    The PAI is checked against the attestation profile under ``policy`` (core.profile)."""
    from ...core import certs
    from ...jobs.credentials import load_signer

    missing = [o for o in ("pai_cert", "pai_key", "vendor_id", "product_id")
               if getattr(args, o) is None]
    if missing:
        raise InputError.naming(f"{OPT.protocol} csr needs " + ", ".join(
            f"{{{i}}}" for i in range(len(missing))) + " (the DACs are issued from the PAI for "
            "this vendor and product)", *missing)
    for name in ("vendor_id", "product_id"):
        value = getattr(args, name)
        if not 1 <= value <= 0xFFFF:
            raise InputError(f"{OPT[name]}: {value} is out of range (accepted: 1..0xFFFF)")
    assert args.pai_cert is not None and args.pai_key is not None  # checked above (missing)
    pai, key = load_signer(args.pai_cert, args.pai_key, str(OPT.pai_cert), str(OPT.pai_key))
    pai_vid, pai_pid = certs.matter_ids(pai, source=str(OPT.pai_cert))
    if pai_vid != args.vendor_id or (pai_pid is not None and pai_pid != args.product_id):
        raise InputError(f"{OPT.pai_cert} {args.pai_cert} is for VID {pai_vid:04X}"
                         + (f"/PID {pai_pid:04X}" if pai_pid is not None else "")
                         + f", not {args.vendor_id:04X}/{args.product_id:04X}")
    for warning in _pai_profile(pai, f"{OPT.pai_cert} {args.pai_cert}", policy):
        ui.warn(warning.render())
    return {"pai_cert": pai, "pai_key": key, "vendor_id": args.vendor_id,
            "product_id": args.product_id, "common_name": args.dac_common_name}


def _pai_profile(pai, source: str, policy) -> list:
    """The PAI's attestation-profile rules under ``policy``, and its validity for the DACs
    the station issues (from now, no well-defined expiry): refusals raise, the rest are
    returned as warnings. A PAI that is expired or not yet valid is refused in every profile
    (its DACs fail attestation); one that ends before its DACs is refused by production."""
    import datetime as dt

    from ...core import attestation_profile, certs, certview

    view = certview.parse_certificate(certs.cert_der(pai), source=source, profile=False)
    violations = attestation_profile.format_violations(view, "pai", source)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    end = certs.NO_WELL_DEFINED_EXPIRY.strftime("%Y%m%d%H%M%S")
    violations += attestation_profile.issuer_validity_violations(view, source, start=now,
                                                                 end=end)
    from ...core.attest import production_findings

    violations += production_findings({"pai_cert": view.der}, source=source,  # type: ignore[arg-type]
                                      names={"pai_cert": source})
    return attestation_profile.enforce(violations, policy)
