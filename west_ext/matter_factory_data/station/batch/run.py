"""``batch``: factory data for N devices, each with its own identity, in parallel and resumable.

The output directory holds one series::

    DIR/batch.json          what the series was made with (a rerun must match it)
    DIR/PAI_cert.der        the PAI that signs every DAC (and PAI_key.der when made here)
    DIR/manifest.csv        one row per finished device; never a key
    DIR/devices/000001/     factory_data.{bin,hex,json,txt} and qr.png/qr.svg, all 0600

Order of work: validate every input and build a probe device (its size checked against the
partition) before anything is written; then write the series files; then read back what
an earlier, interrupted run finished (manifest rows, and device directories whose row was
not written yet) so no identity is handed out twice; then make the missing devices in a
process pool. A device directory is written under a temporary name and renamed when
complete, and its manifest row is appended after that, so a kill at any moment leaves
only complete devices, and rerunning the same command finishes the series.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Optional

from ...core import series
from .device import IMAGE_NAME, DeviceTemplate
from ...errors import CredentialError, FactoryDataError, InputError, Interrupted, OutputError
from ...jobs.pipeline import GenerateRequest

MANIFEST = "manifest.csv"
STATE = "batch.json"
DEVICES = "devices"
PAI_CERT = "PAI_cert.der"
PAI_KEY = "PAI_key.der"
STATE_FORMAT = 1
COLUMNS = ("index", "sn", "vendor_id", "product_id", "discriminator", "qr_payload",
           "manual_code", "dac_serial", "image", "image_sha256")
SHARED_COLUMN = "shares_discriminator_with"
#: Per-device values a --csv file may give (other columns are refused).
CSV_COLUMNS = ("sn", "passcode", "discriminator", "spake2_salt", "rd_uid")
#: generate options that are per device in a batch, and where such values come from.
PER_DEVICE_OPTIONS = {
    "sn": "--sn_template or a --csv column 'sn'",
    "passcode": "a --csv column 'passcode' (by default each device gets a random one)",
    "spake2_verifier": "nothing: each device's verifier is derived from its passcode",
    "spake2_salt": "a --csv column 'spake2_salt' (by default each device gets a random one)",
    "rd_uid": "a --csv column 'rd_uid' (by default each device gets a random one)",
    "dac_cert": "nothing: each device gets its own DAC, signed by --pai_cert/--pai_key",
    "dac_key": "nothing: each device gets its own DAC key",
}
#: Common values (the option names of generate) and their typed parsing.
COMMON_OPTIONS = ("vendor_id", "product_id", "vendor_name", "product_name", "date", "hw_ver",
                  "hw_ver_str", "spake2_it", "product_url", "product_label", "part_number",
                  "enable_key", "user", "product_finish", "product_color", "offset", "size")
REQUIRED_COMMON = ("vendor_id", "product_id", "vendor_name", "product_name", "date", "hw_ver",
                   "hw_ver_str", "spake2_it")
CHUNK = 4  # devices per pool task: small enough for a smooth progress bar


class BatchRequest(GenerateRequest):
    """``batch``: generate's field options (common to every device) plus the series options.
    Per-device options of generate (--sn, --passcode, --dac_cert, ...) are refused."""

    count: Optional[int] = None
    csv: Optional[str] = None
    fields: Optional[str] = None
    build_dir: Optional[str] = None
    pai_key: Optional[str] = None
    sn_template: Optional[str] = None
    discriminators: str = "random"
    allow_shared_discriminators: bool = False
    jobs: Optional[int] = None
    qr: str = "png"
    seed: Optional[str] = None
    verbose: bool = False
    defaults: bool = False


def device_dir_name(index: int) -> str:
    return f"{index:06d}"


# --------------------------------------------------------------------------- the plan

class Plan(NamedTuple):
    """Everything validated; nothing written yet."""

    out_dir: Path
    count: int
    template: DeviceTemplate
    pai_cert: Any  # cryptography Certificate
    pai_key: Any  # EC private key
    params: dict  # what batch.json records; a rerun must give the same
    seed: Optional[str]
    sn_template: series.SerialTemplate
    sequential: bool
    first_discriminator: int
    allow_shared: bool
    csv_path: Optional[str]
    not_before: Optional[dt.datetime]
    jobs: int
    extra_files: list  # (name, bytes, secret) written with the series files


def make_plan(args: BatchRequest) -> Plan:
    from . import device

    _refuse_per_device_options(args)
    common, partition = common_values(args)
    out_dir = Path(args.output)
    given_csv = _read_csv(args.csv) if args.csv else None
    count = _count(args, given_csv)
    _check_csv_against_options(args, given_csv)
    template_text = args.sn_template
    sn_template = series.SerialTemplate(template_text)
    sn_template.check_range(count)
    sequential, first = _discriminator_options(args, count)
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs: {args.jobs} must be at least 1")
    not_before = (dt.datetime.fromisoformat(common["date"]).replace(tzinfo=dt.timezone.utc)
                  if args.seed is not None else None)
    pai_cert, pai_key, extra = _attestation(args, out_dir, common, not_before)
    from ...core import certs

    template = DeviceTemplate(common=common, pai_cert=certs.cert_der(pai_cert),
                              partition=partition, include_passcode=args.include_passcode,
                              qr=args.qr)
    if args.gen_cd:
        extra += _certification_declaration(args, out_dir, common)
    params = {
        "common": _jsonable(common), "partition": list(partition),
        "pai_sha256": hashlib.sha256(template.pai_cert).hexdigest(),
        "sn_template": template_text, "discriminators": args.discriminators,
        "first_discriminator": first if sequential else None,
        "allow_shared_discriminators": bool(args.allow_shared_discriminators),
        "include_passcode": bool(args.include_passcode), "qr": args.qr,
        "seed": series.seed_fingerprint(args.seed),
        "csv_sha256": hashlib.sha256(Path(args.csv).read_bytes()).hexdigest() if args.csv else None,
    }
    plan = Plan(out_dir=out_dir, count=count, template=template, pai_cert=pai_cert,
                pai_key=pai_key, params=params, seed=args.seed,
                sn_template=sn_template, sequential=sequential, first_discriminator=first,
                allow_shared=bool(args.allow_shared_discriminators), csv_path=args.csv,
                not_before=not_before, jobs=args.jobs or os.cpu_count() or 1,
                extra_files=extra)
    _probe(plan, given_csv, device)
    if args.schema:
        from ...jobs.pipeline import check_schema

        check_schema(_probe_json(plan), args.schema)
    return plan


def _discriminator_options(args, count: int) -> tuple[bool, int]:
    """(sequential, first value); more devices than discriminators only when allowed."""
    sequential = args.discriminators == "sequential"
    first = args.discriminator if args.discriminator is not None else 0
    if args.discriminator is not None and not sequential:
        raise InputError("--discriminator is the first value of --discriminators sequential; "
                         "random discriminators need no start value")
    if not 0 <= first < series.DISCRIMINATOR_COUNT:
        raise InputError(f"--discriminator: {first} is out of range (accepted: 0..4095)")
    if count > series.DISCRIMINATOR_COUNT and not args.allow_shared_discriminators:
        raise InputError(f"--count {count}: more devices than the {series.DISCRIMINATOR_COUNT} "
                         "discriminators; pass --allow_shared_discriminators to let devices "
                         "share them (the manifest lists who shares)")
    return sequential, first


def _refuse_per_device_options(args) -> None:
    for option, instead in PER_DEVICE_OPTIONS.items():
        if getattr(args, option, None) is not None:
            raise InputError(f"--{option} is per device in a batch; use {instead}")
    for option in ("dac_key_password",):
        if getattr(args, option, None):
            raise InputError(f"--{option} is not used by batch (no DAC key is read)")


def common_values(args) -> tuple[dict, tuple[int, int]]:
    """The typed common values: options, over --fields JSON, over --defaults."""
    from ...jobs.commands import DEVELOPMENT_DEFAULTS
    from ...core import validate
    from ...core.model import COLOR_ALIASES, PRODUCT_COLORS, PRODUCT_FINISHES
    from ...jobs.pipeline import enum_value, sized_hex, user_data

    given = {name: getattr(args, name, None) for name in COMMON_OPTIONS}
    fields = _fields_file(args.fields) if getattr(args, "fields", None) else {}
    if getattr(args, "build_dir", None) is not None:
        fields = {**build_dir_values(args.build_dir), **fields}
    for name, value in fields.items():
        if given.get(name) is None:
            given[name] = value
    if args.defaults:
        for name in COMMON_OPTIONS:
            if given.get(name) is None and name in DEVELOPMENT_DEFAULTS:
                given[name] = DEVELOPMENT_DEFAULTS[name]
    missing = [f"--{n}" for n in REQUIRED_COMMON + ("offset", "size") if given.get(n) is None]
    if missing:
        raise InputError(f"missing required option(s): {', '.join(missing)} (or --defaults "
                         "for development values)")
    common = {name: given[name] for name in REQUIRED_COMMON}
    common["date"] = validate.normalize_date(str(given["date"]), "--date")
    for name in ("product_url", "product_label", "part_number"):
        if given[name] not in (None, ""):
            common[name] = given[name]
    for name, value in common.items():
        validate.require(name, value, f"--{name}")
    common["enable_key"] = sized_hex(given["enable_key"], "enable_key", "--enable_key")
    common["user"] = user_data(given["user"]) if isinstance(given["user"], (str, type(None))) \
        else user_data(json.dumps(given["user"]))
    common["product_finish"] = enum_value(given["product_finish"], PRODUCT_FINISHES, {},
                                          "--product_finish")
    common["primary_color"] = enum_value(given["product_color"], PRODUCT_COLORS, COLOR_ALIASES,
                                         "--product_color")
    offset, size = given["offset"], given["size"]
    if not 0 <= offset <= 0xFFFFFFFF:
        raise InputError(f"--offset: 0x{offset:x} is not a 32-bit flash address")
    if size <= 0:
        raise InputError(f"--size: {size} must be a positive number of bytes")
    return common, (offset, size)


def build_dir_values(given: str) -> dict:
    """The common values of a west build: its Kconfig symbols and its factory_data partition,
    from the build-step arguments its CMake recorded."""
    from ...zephyr import build_dir
    from ...zephyr.build_step import OPTION_TO_SYMBOL, Kconfig
    from ...zephyr.partition_sources import resolve_partition
    from ...zephyr.step_request import recorded

    app = build_dir.app_build_dir(build_dir.find_build_dir(given or None,
                                                           hint="give -d BUILD_DIR"))
    step = recorded(app)
    config = Kconfig(build_dir.read_kconfig(step.dotconfig, "--dotconfig"))
    values: dict = {}
    for option in ("vendor_id", "product_id", "hw_ver", "spake2_it"):
        values[option] = config.integer(OPTION_TO_SYMBOL[option])
    for option in ("vendor_name", "product_name", "date", "hw_ver_str", "enable_key",
                   "product_finish", "product_color"):
        values[option] = config.string(OPTION_TO_SYMBOL[option]) or None
    source, _ = resolve_partition(step)
    values["offset"], values["size"] = source.address, source.size
    return values


_INT_FIELDS = ("vendor_id", "product_id", "hw_ver", "spake2_it", "offset", "size")


def _fields_file(path: str) -> dict:
    """``--fields FILE``: a JSON object of common values keyed by option name."""
    from ...files.inputs import read_file

    try:
        obj = json.loads(read_file(path, "--fields"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"--fields {path}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InputError(f"--fields {path}: must be a JSON object keyed by option name")
    for key, value in obj.items():
        if key in PER_DEVICE_OPTIONS:
            raise InputError(f"--fields {path}: key {key!r} is per device; use "
                             f"{PER_DEVICE_OPTIONS[key]}")
        if key not in COMMON_OPTIONS:
            raise InputError(f"--fields {path}: unknown key {key!r} (accepted: "
                             f"{', '.join(COMMON_OPTIONS)})")
        if key in _INT_FIELDS and isinstance(value, str):
            try:
                obj[key] = int(value, 0)
            except ValueError:
                raise InputError(f"--fields {path}: key {key!r}: {value!r} is not an "
                                 "integer") from None
    return obj


def _check_csv_against_options(args, given_csv: Optional[list]) -> None:
    if not given_csv:
        return
    first = given_csv[0]
    if first.sn is not None and args.sn_template is not None:
        raise InputError(f"--csv {args.csv} gives the serial numbers; do not also give "
                         "--sn_template")
    if first.discriminator is not None:
        if args.discriminators == "sequential" or args.discriminator is not None:
            raise InputError(f"--csv {args.csv} gives the discriminators; do not also give "
                             "--discriminators sequential or --discriminator")
        repeats = series.duplicates((i, g.discriminator) for i, g in enumerate(given_csv, 2))
        if repeats and not args.allow_shared_discriminators:
            value, lines = next(iter(repeats.items()))
            raise InputError(f"--csv {args.csv}: lines {', '.join(map(str, lines[:5]))} give "
                             f"the same discriminator {value}; pass "
                             "--allow_shared_discriminators to allow it")


def _count(args, given_csv: Optional[list]) -> int:
    if given_csv is not None:
        if args.count is not None and args.count != len(given_csv):
            raise InputError(f"--count {args.count} differs from the {len(given_csv)} rows of "
                             f"--csv {args.csv}; give one of them")
        return len(given_csv)
    if args.count is None:
        raise InputError("missing --count N (the number of devices of the series)")
    if args.count < 1:
        raise InputError(f"--count: {args.count} must be at least 1")
    return args.count


def _jsonable(values: dict) -> dict:
    return {k: (v.hex() if isinstance(v, (bytes, bytearray)) else v) for k, v in values.items()}


# --------------------------------------------------------------------------- CSV input

def _read_csv(path: str) -> list:
    """Per-device values, one row per device, each validated like an option."""
    from ...core import validate
    from ...files.inputs import read_file

    try:
        text = read_file(path, "--csv").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"--csv {path}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    columns = reader.fieldnames or []
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(f"--csv {path}: column {repeated[0]!r} appears twice in the header; "
                         "keep one")
    if not columns or unknown:
        raise InputError(f"--csv {path}: unknown column(s) {', '.join(map(repr, unknown))} "
                         f"(accepted: {', '.join(CSV_COLUMNS)})" if unknown else
                         f"--csv {path}: no header row (accepted columns: "
                         f"{', '.join(CSV_COLUMNS)})")
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"--csv {path}: line {line}: expected {len(columns)} values")
        rows.append(_csv_given(row, f"--csv {path}: line {line}", validate))
    if not rows:
        raise InputError(f"--csv {path}: no device rows after the header")
    _check_csv_unique(rows, path)
    return rows


def _check_csv_unique(rows: list, path: str) -> None:
    """Two rows giving the same identity are refused before anything is made."""
    checks = (("sn", lambda g: g.sn), ("rd_uid", lambda g: g.rd_uid),
              ("passcode and discriminator", lambda g: (g.passcode, g.discriminator)
               if g.passcode is not None and g.discriminator is not None else None))
    for what, value_of in checks:
        repeats = series.duplicates((i, value_of(g)) for i, g in enumerate(rows, start=2)
                                    if value_of(g) is not None)
        for value, lines in repeats.items():
            raise InputError(f"--csv {path}: lines {', '.join(map(str, lines[:5]))} give the "
                             f"same {what}; every device needs its own")


def _csv_given(row: dict, where: str, validate) -> series.Given:
    values: dict = {}
    for column, text in row.items():
        text = text.strip()
        label = f"{where}: {column}"
        if text == "":
            raise InputError(f"{label}: empty (a column gives the value of every device; "
                             "leave the column out to have the values generated)")
        label = f"{where}: {column}"
        if column in ("passcode", "discriminator"):
            # Spreadsheets keep leading zeros (00012345): decimal, where int(x, 0) refuses.
            value: Any = int(text, 10) if text.isdigit() else validate.parse_int(text, label)
        elif column == "spake2_salt":
            value = validate.parse_base64(text, label)
        elif column == "rd_uid":
            value = validate.parse_hex(text, label)
        else:
            value = text
        validate.require(column, value, label)
        values[column] = value
    return series.Given(**values)


# --------------------------------------------------------------------------- attestation

def _attestation(args, out_dir: Path, common: dict, not_before):
    """The PAI and its key: given, reused from DIR, or made here from a PAA."""
    from ...core import certs
    from ...jobs.credentials import load_signer

    if bool(args.pai_cert) != bool(args.pai_key):
        raise InputError("--pai_cert and --pai_key go together: give both")
    if args.pai_cert:
        if args.paa_key:
            raise InputError("give --pai_cert/--pai_key (sign DACs with that PAI, checked "
                             "against --paa_cert when given) or --paa_cert/--paa_key (make a "
                             "PAI), not both")
        cert, key = load_signer(args.pai_cert, args.pai_key, "--pai_cert", "--pai_key")
        _check_pai(cert, common, f"--pai_cert {args.pai_cert}", args.paa_cert)
        return cert, key, [(PAI_CERT, certs.cert_der(cert), False)]
    kept_cert, kept_key = out_dir / PAI_CERT, out_dir / PAI_KEY
    if kept_cert.is_file() and kept_key.is_file():  # made by an earlier run of the series
        cert, key = load_signer(str(kept_cert), str(kept_key), "the series' PAI",
                                "the series' PAI key")
        return cert, key, []
    if bool(args.paa_cert) != bool(args.paa_key):
        raise InputError("--paa_cert and --paa_key go together (to make the PAI), or give "
                         "--pai_cert and --pai_key")
    if args.paa_cert:
        paa, paa_key = load_signer(args.paa_cert, args.paa_key, "--paa_cert", "--paa_key")
        extra = []
    elif args.defaults:
        paa, paa_key, extra = _development_paa(out_dir, args.seed)
    else:
        raise InputError("give --pai_cert and --pai_key (the PAI that signs the DACs), or "
                         "--paa_cert and --paa_key (to make the PAI), or --defaults for a "
                         "development chain")
    seed = args.seed
    key = certs.new_key(_seeded(seed, "pai key"))
    cert = certs.make_pai(
        key=key, issuer_cert=paa, issuer_key=paa_key,
        common_name=f"{common['vendor_name']} PAI 0x{common['vendor_id']:04X}"[:64],
        vendor_id=common["vendor_id"], serial=_seeded_serial(seed, "pai serial"),
        not_before=not_before, deterministic=seed is not None)
    return cert, key, extra + [(PAI_CERT, certs.cert_der(cert), False),
                                     (PAI_KEY, certs.key_der(key), True)]


def _development_paa(out_dir: Path, seed: Optional[str]):
    from ...core import certs
    from ...jobs.credentials import DEV_PAA_CERT, DEV_PAA_KEY, load_signer

    cert_path, key_path = out_dir / DEV_PAA_CERT, out_dir / DEV_PAA_KEY
    if cert_path.is_file() and key_path.is_file():
        cert, key = load_signer(str(cert_path), str(key_path), "development PAA",
                                "development PAA key")
        return cert, key, []
    key = certs.new_key(_seeded(seed, "paa key"))
    cert = certs.make_paa(key=key, common_name="Matter Development PAA (matter-factory-data)",
                          serial=_seeded_serial(seed, "paa serial"),
                          not_before=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
                          if seed is not None else None, deterministic=seed is not None)
    return cert, key, [(DEV_PAA_CERT, certs.cert_der(cert), False),
                       (DEV_PAA_KEY, certs.key_der(key), True)]


def _seeded(seed: Optional[str], purpose: str) -> Optional[bytes]:
    return None if seed is None else series.Randomness(seed).bytes(0, purpose, 32)


def _seeded_serial(seed: Optional[str], purpose: str) -> Optional[int]:
    if seed is None:
        return None
    return int.from_bytes(series.Randomness(seed).bytes(0, purpose, 19), "big") | (1 << 150)


def _check_pai(cert, common: dict, source: str, paa_path: Optional[str]) -> None:
    from ...core import certs

    vendor_id, product_id = certs.matter_ids(cert, source=source)
    if vendor_id is not None and vendor_id != common["vendor_id"]:
        raise CredentialError(f"{source}: the PAI is for vendor ID 0x{vendor_id:04X}, not "
                              f"--vendor_id 0x{common['vendor_id']:04X}")
    if product_id is not None and product_id != common["product_id"]:
        raise CredentialError(f"{source}: the PAI is for product ID 0x{product_id:04X}, not "
                              f"--product_id 0x{common['product_id']:04X}")
    if paa_path:
        from ...files.inputs import read_file

        paa = certs.load_certificate(read_file(paa_path, "--paa_cert"),
                                     source=f"--paa_cert {paa_path}")
        certs.check_issued_by(cert, paa, child_source=source,
                              issuer_source=f"--paa_cert {paa_path}")


def _certification_declaration(args, out_dir: Path, common: dict) -> list:
    from ...jobs.credentials import certification_declaration
    from ...files.outputs import OutputSet

    if (out_dir / "CD.der").is_file():
        return []
    collected = OutputSet()
    der = certification_declaration(
        out_dir=out_dir, outputs=collected, vendor_id=common["vendor_id"],
        product_id=common["product_id"], cd_type=args.cd_type,
        signer_cert=args.cert_declaration_cert, signer_key=args.cert_declaration_key)
    return [(f.path.name, f.data, f.secret) for f in collected.files] + [("CD.der", der, False)]


# --------------------------------------------------------------------------- the probe

def _probe_identity(plan: Plan, given_csv: Optional[list]) -> series.DeviceIdentity:
    """The largest device the series can make: longest serial, widest integers."""
    longest = max((g.sn for g in given_csv or () if g.sn), key=lambda s: len(s.encode()),
                  default=None)
    sn = longest or (plan.sn_template.format(plan.count) if not plan.sn_template.is_random
                     else "F" * 2 * series.RANDOM_SN_BYTES)
    salt_len = max((len(g.spake2_salt) for g in given_csv or () if g.spake2_salt),
                   default=series.SALT_LENGTH)
    rd_len = max((len(g.rd_uid) for g in given_csv or () if g.rd_uid),
                 default=series.RD_UID_LENGTH)
    return series.DeviceIdentity(index=plan.count, sn=sn, passcode=99999998,
                                 discriminator=4095, spake2_salt=b"\xff" * salt_len,
                                 rd_uid=b"\xff" * rd_len, dac_serial=(1 << 159) - 1,
                                 dac_key_seed=b"probe")


#: Room for the longest ECDSA signature: DER signatures are 70..72 bytes (P-256).
SIGNATURE_SLACK = 2


def _probe(plan: Plan, given_csv: Optional[list], device) -> None:
    """Build the largest device once: a bad value or a too-small partition fails here."""
    from ...core import certs
    from ...formats import nrf_cbor
    from ...errors import PartitionError

    issuer = certs.DacIssuer(issuer_cert=plan.pai_cert, issuer_key=plan.pai_key,
                             common_name=dac_common_name(plan.template.common),
                             vendor_id=plan.template.common["vendor_id"],
                             product_id=plan.template.common["product_id"],
                             not_before=plan.not_before)
    offset, size = plan.template.partition
    roomy = plan.template._replace(partition=(offset, 0xFFFFFFFF))
    built = device.build_device(roomy, _probe_identity(plan, given_csv), issuer)
    needed = len(built.files[IMAGE_NAME]) + SIGNATURE_SLACK
    if needed > size:
        raise PartitionError(
            f"a device of this batch needs up to {needed} bytes of factory data (CBOR + "
            f"terminating byte) but the partition at 0x{offset:x} is only {size} bytes "
            f"(--size 0x{size:x}); enlarge the factory_data partition or drop optional keys")
    device_map = nrf_cbor.decode_image(built.files[IMAGE_NAME])
    for problem in nrf_cbor.lint(device_map, partition_size=size):
        if problem.severity == nrf_cbor.ERROR:
            raise InputError(f"batch data: {problem}")


def _probe_json(plan: Plan) -> dict:
    from ...core import certs
    from . import device

    issuer = certs.DacIssuer(issuer_cert=plan.pai_cert, issuer_key=plan.pai_key,
                             common_name=dac_common_name(plan.template.common),
                             vendor_id=plan.template.common["vendor_id"],
                             product_id=plan.template.common["product_id"], not_before=None)
    built = device.build_device(plan.template, _probe_identity(plan, None), issuer)
    return json.loads(built.files["factory_data.json"])


def dac_common_name(common: dict) -> str:
    return f"{common['product_name']} DAC 0x{common['vendor_id']:04X}/0x{common['product_id']:04X}"[:64]


# --------------------------------------------------------------------------- the series on disk

def columns_for(plan_params: dict) -> list:
    cols = list(COLUMNS)
    if plan_params["include_passcode"]:
        cols.append("passcode")
    if plan_params["allow_shared_discriminators"]:
        cols.append(SHARED_COLUMN)
    return cols


def check_directory(plan: Plan) -> None:
    """Refuse, without writing, a directory that holds something other than this series."""
    state_path = plan.out_dir / STATE
    if state_path.is_file():
        _check_same_series(state_path, plan.params)
    else:
        _clear_unfinished_start(plan.out_dir, remove=False)


def open_series(plan: Plan) -> None:
    """Create the series files, or check that DIR holds this very series."""
    from ...files.outputs import OutputSet

    out = plan.out_dir
    state_path = out / STATE
    if state_path.is_file():
        _check_same_series(state_path, plan.params)
        _missing_series_files(plan)
        return
    _clear_unfinished_start(out)
    outputs = OutputSet(overwrite=True)  # only leftovers of an unfinished start can be there
    state = {"tool": "matter-factory-data batch", "format": STATE_FORMAT, "params": plan.params}
    for name, data, secret in plan.extra_files:
        outputs.add(out / name, data, secret=secret)
    header = ",".join(columns_for(plan.params)) + "\r\n"
    # 0600: the QR payload and manual code of each device encode its passcode.
    outputs.add(out / MANIFEST, header.encode("ascii"), secret=True)
    # batch.json last: its presence marks a complete series directory.
    outputs.add(state_path, (json.dumps(state, indent=2) + "\n").encode("ascii"))
    outputs.commit()
    (out / DEVICES).mkdir(mode=0o700, exist_ok=True)


#: The files a series starts with; batch.json is written last.
SERIES_FILES = frozenset({"PAA_cert.der", "PAA_key.der", PAI_CERT, PAI_KEY, "CD.der",
                          "CD_signing_cert.der", "CD_signing_key.der", MANIFEST, STATE})


def _clear_unfinished_start(out: Path, remove: bool = True) -> None:
    """Refuse a directory holding anything but what a killed start of a series leaves
    (series files, their staging files); remove the staging files."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"-o {out}: exists and is not a directory; give a new or empty one")
    entries = list(out.iterdir())
    foreign = [e.name for e in entries if not _is_start_leftover(e)]
    if foreign:
        raise OutputError(f"-o {out}: exists and is not a batch directory (no {STATE}; holds "
                          f"{foreign[0]!r}); give a new or empty directory")
    for entry in entries:
        if remove and entry.name.endswith(".tmp"):
            entry.unlink()


def _is_start_leftover(entry: Path) -> bool:
    name = entry.name
    if name == LOCK:
        return True
    if name == DEVICES:
        return entry.is_dir() and not any(entry.iterdir())
    if name.startswith(".") and name.endswith(".tmp"):  # outputs.py staging: .NAME.RANDOM.tmp
        name = name[1:].rsplit(".", 2)[0]
    return name in SERIES_FILES and entry.is_file()


def _check_same_series(state_path: Path, params: dict) -> None:
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        recorded = state["params"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputError(f"{state_path}: unreadable batch state ({exc}); give another -o "
                          "directory") from None
    difference = _first_difference(recorded, params)
    if difference is not None:
        key, there, now = difference
        raise OutputError(f"-o {state_path.parent}: holds a different batch (its {key} "
                          f"differs: {_short(there)} there, {_short(now)} now); use another "
                          "directory or the same options")


def _first_difference(recorded: Any, current: Any, path: str = "") -> Optional[tuple]:
    """(key, recorded value, current value) of the first difference, nested keys joined by '.'."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for key in sorted(set(recorded) | set(current)):
            found = _first_difference(recorded.get(key), current.get(key),
                                      f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    if recorded != current:
        return path.split(".")[-1] if path.startswith("common.") else path, recorded, current
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _missing_series_files(plan: Plan) -> None:
    for name in (MANIFEST, PAI_CERT):
        if not (plan.out_dir / name).is_file():
            raise OutputError(f"{plan.out_dir / name}: missing from the batch directory; "
                              "restore it (it records the finished devices)")
    (plan.out_dir / DEVICES).mkdir(mode=0o700, exist_ok=True)


# --------------------------------------------------------------------------- resuming

class Manifest:
    """The rows of manifest.csv: read back on resume, appended one complete row at a time."""

    def __init__(self, path: Path, columns: list) -> None:
        self.path, self.columns = path, columns

    def read(self) -> Iterator[dict]:
        """Rows as dicts; a torn last line (a kill mid-write) is cut off the file."""
        with open(self.path, "rb") as stream:
            raw = stream.read()
        keep = raw.rfind(b"\n") + 1
        if keep < len(raw):
            with open(self.path, "r+b") as stream:
                stream.truncate(keep)
            raw = raw[:keep]
        lines = raw.decode("utf-8").splitlines()
        if not lines or lines[0].split(",") != self.columns:
            raise OutputError(f"{self.path}: the header is not {','.join(self.columns)}; "
                              "restore the manifest of this batch")
        for number, row in enumerate(csv.DictReader(lines), start=2):
            if None in row or any(v is None for v in row.values()):
                raise OutputError(f"{self.path}: line {number} is malformed; restore the "
                                  "manifest of this batch")
            yield row

    def open_for_append(self):
        return open(self.path, "a", encoding="utf-8", newline="")


def _recorded_identity(row: dict, image: bytes, where: str) -> tuple:
    """(index, sn, passcode, discriminator, rd_uid, dac_serial) of a finished device."""
    from ...formats import nrf_cbor
    from ...core import onboarding

    try:
        index = int(row["index"])
        payload = onboarding.parse_qr_code(row["qr_payload"])
        dac_serial = int(row["dac_serial"], 16)
    except (ValueError, FactoryDataError) as exc:
        raise OutputError(f"{where}: unreadable row ({exc}); restore the manifest") from None
    data = nrf_cbor.decode_image(image, where)
    rd_uid = data.get("rd_uid")
    return index, row["sn"], payload.passcode, payload.discriminator, rd_uid, dac_serial


def recover_row(out_dir: Path, index: int, columns: list, pool) -> dict:
    """The manifest row of a complete device directory whose row was never written."""
    from ...core import certview, onboarding
    from ...formats import nrf_cbor

    directory = out_dir / DEVICES / device_dir_name(index)
    where = f"{directory}"
    try:
        image = (directory / IMAGE_NAME).read_bytes()
        text = (directory / "factory_data.txt").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"{where}: incomplete device ({exc}); it has no manifest row, so "
                          "remove the directory and run again") from None
    data = nrf_cbor.decode_image(image, where)
    qr = manual = ""
    for line in text.splitlines():
        label, _, value = line.partition(":")
        if label.strip() == "QRCode":
            qr = value.strip()
        elif label.strip() == "Manualcode":
            manual = value.strip()
    payload = onboarding.parse_qr_code(qr)
    dac = certview.parse_certificate(bytes(data["dac_cert"]), source=f"{where} DAC")
    row = {"index": index, "sn": bytes(data["sn"]).decode("utf-8"),
           "vendor_id": f"0x{data['vendor_id']:04X}", "product_id": f"0x{data['product_id']:04X}",
           "discriminator": data["discriminator"], "qr_payload": qr, "manual_code": manual,
           "dac_serial": f"{dac.serial_number:x}", "image": image_path(index),
           "image_sha256": hashlib.sha256(image).hexdigest(), "passcode": payload.passcode}
    if SHARED_COLUMN in columns:
        row[SHARED_COLUMN] = " ".join(map(str, pool.shared_with(data["discriminator"], index)))
    return row


def image_path(index: int) -> str:
    return f"{DEVICES}/{device_dir_name(index)}/{IMAGE_NAME}"


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
            self.ui.info(text)

    def finish(self) -> None:
        if self.live and self.done > self.start_done:
            self.ui.progress("\n")


# --------------------------------------------------------------------------- the workers

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


# --------------------------------------------------------------------------- running

LOCK = ".lock"


def lock_series(out: Path):
    """Hold an exclusive lock on DIR/.lock for the run: a second run on the same series
    would hand out the same device indexes. Released when the process ends, even on kill -9."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    try:
        out.mkdir(parents=True, exist_ok=True)
        stream = open(out / LOCK, "a+")
    except OSError as exc:
        raise OutputError(f"-o {out}: cannot create it ({exc.strerror or exc})") from None
    try:
        fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        raise OutputError(f"-o {out}: another batch run is working on this directory; wait "
                          "for it to finish (or stop it) and run again") from None
    return stream


def run_batch(args: BatchRequest, ui) -> int:
    plan = make_plan(args)
    check_directory(plan)  # before the lock file is made in it
    lock = lock_series(plan.out_dir)
    try:
        return _run_locked(plan, ui)
    finally:
        if lock is not None:
            lock.close()


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
    done, recovered = _resume(plan, manifest, allocator, columns, ui)
    missing = MissingIndexes(done, plan.count)
    if not len(missing):
        _write_rows(manifest, columns, [recovered[i] for i in sorted(recovered)])
        ui.info(f"{plan.out_dir}: all {plan.count} devices are made "
                f"({len(done)} in {MANIFEST}); nothing to do")
        return 0
    if done:
        ui.info(f"resuming: {len(done)} devices already made, {len(missing)} to go")
    _make_missing(plan, manifest, allocator, missing, columns, len(done), recovered, ui)
    ui.info(f"made {len(missing)} devices in {plan.out_dir} ({MANIFEST}: "
            f"{len(done) + len(missing)} rows)")
    return 0


class IndexSet:
    """Device indexes as a bitmap: one bit per device instead of ~60 bytes in a set."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, index: int) -> None:
        if index < 0:
            raise ValueError(index)
        if index >> 3 >= len(self._bits):
            self._bits.extend(bytes((index >> 3) + 1 - len(self._bits)))
        if not self._bits[index >> 3] & (1 << (index & 7)):
            self._bits[index >> 3] |= 1 << (index & 7)
            self._count += 1

    def __contains__(self, index: int) -> bool:
        return 0 <= index >> 3 < len(self._bits) and bool(self._bits[index >> 3] & (1 << (index & 7)))

    def __len__(self) -> int:
        return self._count


class MissingIndexes:
    """The indexes 1..count not yet made, produced lazily."""

    def __init__(self, done: IndexSet, count: int) -> None:
        self.done, self.count = done, count
        self._length = sum(1 for _ in self)

    def __iter__(self) -> Iterator[int]:
        return (i for i in range(1, self.count + 1) if i not in self.done)

    def __len__(self) -> int:
        return self._length


def _resume(plan: Plan, manifest: Manifest, allocator, columns: list,
            ui) -> tuple[IndexSet, dict]:
    """Take note of every finished device; return them and the rows a kill left unwritten."""
    devices_dir = plan.out_dir / DEVICES
    done = IndexSet()
    recovered: dict = {}
    for row in manifest.read():
        index = int(row["index"]) if row["index"].isdigit() else -1
        image = _read_image(plan.out_dir, row)
        identity = _recorded_identity(row, image, f"{manifest.path} device {row['index']}")
        if index in done:
            raise OutputError(f"{manifest.path}: device {index} is listed twice; restore the "
                              "manifest of this batch")
        allocator.record(*identity)
        done.add(index)
    for entry in sorted(os.listdir(devices_dir)):
        if entry.startswith(".tmp-"):
            shutil.rmtree(devices_dir / entry, ignore_errors=True)  # a device cut short
        elif entry.isdigit() and int(entry) not in done:
            row = recover_row(plan.out_dir, int(entry), columns, allocator.discriminators)
            _refuse_copies(row, manifest, recovered, allocator, devices_dir / entry)
            image = (devices_dir / entry / IMAGE_NAME).read_bytes()
            allocator.record(*_recorded_identity(row, image, f"{devices_dir / entry}"))
            recovered[int(entry)] = row
            done.add(int(entry))
    if recovered:
        ui.info(f"recovered {len(recovered)} complete device(s) whose manifest row was not "
                "written")
    return done, recovered


def _refuse_copies(row: dict, manifest: Manifest, recovered: dict, allocator,
                   directory: Path) -> None:
    """A device directory without a row must not repeat a finished device's identity (a copy
    put there by hand). The allocator's filters answer "maybe" cheaply; a maybe is settled
    against the manifest itself."""
    if row["sn"] not in allocator.serials and \
            int(row["dac_serial"], 16) not in allocator.dac_serials:
        return
    for other in (*manifest.read(), *recovered.values()):
        if other["sn"] == row["sn"] or other["dac_serial"] == row["dac_serial"]:
            raise OutputError(f"{directory}: has the serial number or DAC of device "
                              f"{other['index']}, so it is a copy, not a device of this run; "
                              "remove it and run again")


def _write_rows(manifest: Manifest, columns: list, rows: list) -> None:
    with manifest.open_for_append() as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore")
        for row in rows:
            writer.writerow(row)


def _read_image(out_dir: Path, row: dict) -> bytes:
    path = out_dir / row["image"]
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OutputError(f"{path}: the image of device {row['index']} is missing "
                          f"({exc.strerror}); restore it: its identity is already issued") \
            from None


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
          window: Window) -> Iterator[tuple]:
    """Identities made just in time, at most a window ahead of the writer."""
    given = _read_csv(plan.csv_path) if plan.csv_path else None
    for index in missing:
        if not window.enter():
            return
        identity = allocator.allocate(index, given[index - 1] if given else series.Given())
        shared = (allocator.discriminators.shared_with(identity.discriminator, index)
                  if SHARED_COLUMN in columns else [])
        yield identity, shared


def _make_missing(plan: Plan, manifest: Manifest, allocator, missing: MissingIndexes,
                  columns: list,
                  done: int, recovered: dict, ui) -> None:
    """Make the missing devices; the recovered rows are written in index order among them."""
    import multiprocessing

    from ...core import certs

    window = Window(max(64, plan.jobs * CHUNK * 8))
    initargs = (plan.template, certs.cert_der(plan.pai_cert), certs.key_der(plan.pai_key),
                dac_common_name(plan.template.common), plan.not_before, plan.seed is not None,
                str(plan.out_dir / DEVICES))
    progress = Progress(ui, plan.count, done, live=ui.is_terminal())
    jobs = _jobs(plan, allocator, missing, columns, window)
    with manifest.open_for_append() as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore")

        def record(row: dict) -> None:
            for index in sorted(i for i in recovered if i < row["index"]):
                writer.writerow(recovered.pop(index))  # keep the rows in index order
            writer.writerow(row)
            stream.flush()
            window.leave()
            progress.advance()

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
            for index in sorted(recovered):
                writer.writerow(recovered.pop(index))
                stream.flush()
        except OSError as exc:
            progress.finish()
            raise OutputError(f"cannot write a device: {exc.strerror or exc} "
                              f"({exc.filename or plan.out_dir}); finished devices are kept, "
                              "rerun the same command once the cause is fixed") from None
        except KeyboardInterrupt:
            progress.finish()
            raise Interrupted(
                f"interrupted after {progress.done} of {plan.count} devices; every finished "
                "device is in the manifest: run the same command again to make the rest") \
                from None
        progress.finish()
