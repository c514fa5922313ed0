"""The validated plan of a batch: common values (options, --fields, -d BUILD, --defaults),
per-device options refused, the probe device built and measured. Nothing is written here."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Optional

from ...core import series
from ...errors import OPT, InputError, Subject
from .attestation import certification_declaration_files, pai_and_key
from .common import PER_DEVICE_OPTIONS, check_jobs, common_values, jsonable
from .device import DeviceTemplate
from .probe import probe_device, probe_json
from .request import BatchRequest, Plan
from .sources import read_csv


def make_plan(args: BatchRequest) -> Plan:
    from . import device

    _refuse_per_device_options(args)
    _check_seed(args.seed)
    args = _with_board_region(args)
    common, partition = common_values(args)
    assert args.output is not None  # required by every front end
    out_dir = Path(args.output)
    given_csv = read_csv(args.csv) if args.csv is not None else None
    count = _count(args, given_csv)
    _check_csv_against_options(args, given_csv)
    template_text = args.sn_template
    sn_template = series.SerialTemplate(template_text)
    sn_template.check_range(count)
    sequential, first = _discriminator_options(args, count)
    check_jobs(args.jobs)
    # every DAC is valid from the manufacturing date on (attestation profile)
    not_before = dt.datetime.fromisoformat(common["date"]).replace(tzinfo=dt.timezone.utc)
    profile_warnings: list = []
    pai_cert, pai_key, extra = pai_and_key(args, out_dir, common, not_before, profile_warnings)
    from ...core import certs
    from ...jobs.pipeline import discovery_of

    discovery = discovery_of(args.discovery)
    template = DeviceTemplate(common=common, pai_cert=certs.cert_der(pai_cert),
                              partition=partition, include_passcode=args.include_passcode,
                              qr=args.qr, discovery=discovery, format=args.format,
                              board=args.board)
    if args.gen_cd:
        extra += certification_declaration_files(args, out_dir, common)
    if args.format != "nrf-cbor":
        template = template._replace(cd=_stm32_cd(args, out_dir, extra))
        assert template.cd is not None
        _check_cd_covers(template.cd, common, template.pai_cert)
    profile_warnings += _production_rules(args, common, template.pai_cert, out_dir, extra,
                                          template.cd)
    params = {
        "common": jsonable(common), "partition": list(partition),
        "pai_sha256": hashlib.sha256(template.pai_cert).hexdigest(),
        "sn_template": template_text, "discriminators": args.discriminators,
        "first_discriminator": first if sequential else None,
        "allow_shared_discriminators": bool(args.allow_shared_discriminators),
        "include_passcode": bool(args.include_passcode), "qr": args.qr,
        "allow_nonconformant_certs": bool(args.allow_nonconformant_certs),
        **({"profile": args.profile} if args.profile != "development" else {}),
        "seed": series.seed_fingerprint(args.seed),
        "csv_sha256": hashlib.sha256(Path(args.csv).read_bytes()).hexdigest() if args.csv else None,
    }
    if discovery != device.onboarding.DISCOVERY_DEFAULT:  # batch.json of BLE series unchanged
        params["discovery"] = discovery
    if args.format != "nrf-cbor":  # nRF series keep their batch.json as before
        assert template.cd is not None  # every STM32 device stores a CD
        params.update(format=args.format, board=args.board,
                      cd_sha256=hashlib.sha256(template.cd).hexdigest())
    plan = Plan(out_dir=out_dir, count=count, template=template, pai_cert=pai_cert,
                pai_key=pai_key, params=params, seed=args.seed,
                sn_template=sn_template, sequential=sequential, first_discriminator=first,
                allow_shared=bool(args.allow_shared_discriminators), csv_path=args.csv,
                not_before=not_before, jobs=args.jobs or os.cpu_count() or 1,
                extra_files=extra, warnings=tuple(profile_warnings),
                ledger_url=_ledger_url(args), station=_station(args))
    probe_device(plan, given_csv, device)
    if args.schema:
        from ...jobs.pipeline import check_schema

        check_schema(probe_json(plan), args.schema)
    return plan


def _ledger_url(args: BatchRequest) -> Optional[str]:
    """The --ledger URL, checked (the connection is made when the run starts)."""
    if args.ledger is None:
        return None
    from ..ledger.url import parse_ledger_url

    parse_ledger_url(args.ledger)
    return args.ledger


def _station(args: BatchRequest) -> Optional[str]:
    from ..ledger.url import check_station

    return check_station(args.station)


def _with_board_region(args: BatchRequest) -> BatchRequest:
    """``--format stm32-tlv --board B``: the board's region unless --offset/--size are given
    (checked to lie inside it); ``--board`` without stm32-tlv is refused."""
    from ...formats import get_format
    from ...jobs.stm32 import region_of

    fmt = get_format(args.format, args.board)
    if fmt.name == "nrf-cbor":
        if args.certification_declaration:
            raise InputError(f"{OPT.certification_declaration} applies to {OPT.format} stm32-tlv")
        return args
    if args.defaults and not args.certification_declaration:
        args = args.replace(gen_cd=True)  # as generate --defaults does: the device reads a CD
    region = region_of(args, fmt.board)
    if region is None:
        return args
    return args.replace(offset=region[0], size=region[1])


def _stm32_cd(args: BatchRequest, out_dir: Path, extra: list) -> bytes:
    """The CD every STM32 device stores (tag 1): --certification_declaration or --gen_cd."""
    if args.certification_declaration and args.gen_cd:
        raise InputError(f"give {OPT.certification_declaration} (a CD file) or {OPT.gen_cd} (make "
                         "one), not both")
    if args.certification_declaration:
        from ...files.inputs import read_file

        return read_file(args.certification_declaration, OPT.certification_declaration)
    made = [data for name, data, _ in extra if name == "CD.der"]
    if made:
        return made[0]
    if args.gen_cd and (out_dir / "CD.der").is_file():  # a rerun of the series
        return (out_dir / "CD.der").read_bytes()
    raise InputError("the STM32 device reads the Certification Declaration from the factory "
                     f"data: give {OPT.certification_declaration} FILE (DER) or {OPT.gen_cd}")


def _production_rules(args: BatchRequest, common: dict, pai_der: bytes, out_dir: Path,
                      extra: list, cd: Optional[bytes]) -> list:
    """The production profile's rules on the series (core.attest.production_findings): test
    vendor ID, the PAI/PAA from connectedhomeip's test roots, a test CD signer, the enable
    key, --include_passcode; refusals raise, nothing is reported under development."""
    from ...core.attest import production_findings
    from ...jobs.pipeline import profile_policy

    if cd is None:
        made = [data for name, data, _ in extra if name == "CD.der"]
        cd = made[0] if made else None
    paa = None
    if args.paa_cert:
        from ...files.inputs import read_file

        paa = read_file(args.paa_cert, OPT.paa_cert)
    values = {"vendor_id": common["vendor_id"], "pai_cert": pai_der,
              "enable_key": common.get("enable_key")}
    names = {"vendor_id": str(OPT.vendor_id), "pai_cert": "the series' PAI",
             "enable_key": str(OPT.enable_key), "passcode": str(OPT.include_passcode),
             "paa": str(OPT.paa_cert), "cd": "the series' CD"}
    findings = production_findings(values, source="", paa=paa, cd=cd,
                                   passcode_stored=bool(args.include_passcode), names=names)
    return profile_policy(args).apply(findings)


def _check_cd_covers(cd: bytes, common: dict, pai_der: bytes) -> None:
    """The series' CD covers its vendor and product ID and its PAI (core.attest), under
    every profile: a device with another product's CD fails attestation."""
    from ...core import certview
    from ...core.attest import cd_device_problems
    from ...errors import Subject

    pai = certview.parse_certificate(pai_der, source="the PAI", profile=False)
    problems = cd_device_problems(cd, vendor_id=common["vendor_id"],
                                  product_id=common["product_id"], pai=pai, source="the CD")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError.at(Subject("certification_declaration"),
                            f"{problems[0]}{more}; a commissioner refuses a device whose CD "
                            "does not cover it")


def _check_seed(seed: Optional[str]) -> None:
    """The seed is hashed as UTF-8: text that cannot be (a byte that was not UTF-8 in argv)
    is refused."""
    from ...core.validate import control_problem
    from ...files.inputs import utf8_problem

    if seed is not None and utf8_problem(seed):
        raise InputError.at(Subject("seed"), f"{control_problem(seed)} (accepted: text that "
                                             "can be written as UTF-8)")


def _discriminator_options(args, count: int) -> tuple[bool, int]:
    """(sequential, first value); more devices than discriminators only when allowed."""
    sequential = args.discriminators == "sequential"
    first = args.discriminator if args.discriminator is not None else 0
    if args.discriminator is not None and not sequential:
        raise InputError(f"{OPT.discriminator} is the first value of {OPT.discriminators} "
                         "sequential; random discriminators need no start value")
    if not 0 <= first < series.DISCRIMINATOR_COUNT:
        raise InputError(f"{OPT.discriminator}: {first} is out of range (accepted: 0..4095)")
    if count > series.DISCRIMINATOR_COUNT and not args.allow_shared_discriminators:
        raise InputError(f"{OPT.count} {count}: more devices than the {series.DISCRIMINATOR_COUNT} "
                         f"discriminators; pass {OPT.allow_shared_discriminators} to let devices "
                         "share them (the manifest lists who shares)")
    return sequential, first


def _refuse_per_device_options(args) -> None:
    for option, instead in PER_DEVICE_OPTIONS.items():
        if getattr(args, option, None) is not None:
            raise InputError(f"{OPT[option]} is per device in a batch; use {instead}")
    for option in ("dac_key_password",):
        if getattr(args, option, None):
            raise InputError(f"{OPT[option]} is not used by batch (no DAC key is read)")


def _check_csv_against_options(args, given_csv: Optional[list]) -> None:
    if not given_csv:
        return
    first = given_csv[0]
    if first.sn is not None and args.sn_template is not None:
        raise InputError(f"{OPT.csv} {args.csv} gives the serial numbers; do not also give "
                         f"{OPT.sn_template}")
    if first.discriminator is not None:
        if args.discriminators == "sequential" or args.discriminator is not None:
            raise InputError(f"{OPT.csv} {args.csv} gives the discriminators; do not also give "
                             f"{OPT.discriminators} sequential or {OPT.discriminator}")
        repeats = series.duplicates((i, g.discriminator) for i, g in enumerate(given_csv, 2))
        if repeats and not args.allow_shared_discriminators:
            value, lines = next(iter(repeats.items()))
            raise InputError(f"{OPT.csv} {args.csv}: lines {', '.join(map(str, lines[:5]))} give "
                             f"the same discriminator {value}; pass "
                             f"{OPT.allow_shared_discriminators} to allow it")


#: Most devices in one series: the series' memory (a few Bloom filters of 64 bits per
#: device, ~320 MB at this count) and the manifest stay bounded; more: split the lot.
MAX_COUNT = 10_000_000


def _count(args, given_csv: Optional[list]) -> int:
    if given_csv is not None and len(given_csv) > MAX_COUNT:
        raise InputError.at(Subject("csv"), f"{args.csv}: {len(given_csv)} rows, more than the "
                                            f"{MAX_COUNT} devices one series may hold; split it "
                                            "into several series")
    if given_csv is not None:
        if args.count is not None and args.count != len(given_csv):
            raise InputError(f"{OPT.count} {args.count} differs from the {len(given_csv)} rows of "
                             f"{OPT.csv} {args.csv}; give one of them")
        return len(given_csv)
    if args.count is None:
        raise InputError(f"missing {OPT.count} N (the number of devices of the series)")
    if args.count < 1:
        raise InputError(f"{OPT.count}: {args.count} must be at least 1")
    if args.count > MAX_COUNT:
        raise InputError.at(Subject("count"), f"{args.count} is more than the {MAX_COUNT} "
                                              "devices one series may hold (accepted: 1.."
                                              f"{MAX_COUNT}; up to {series.DISCRIMINATOR_COUNT}"
                                              " without sharing discriminators); split the lot "
                                              "into several series")
    return args.count


