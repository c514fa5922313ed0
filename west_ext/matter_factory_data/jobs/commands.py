"""Command bodies shared by the console script and ``west factory-data``.

Each takes a typed request and a UI, returns an exit code, and raises
:class:`~matter_factory_data.errors.FactoryDataError` for the front end to report.
"""

from __future__ import annotations

from typing import Optional

from ..errors import OPT, InputError, Subject, VerificationError
from ..typed import Request
from .pipeline import GenerateRequest, discovery_of

#: (address, size) of the factory_data partition ``--defaults`` writes for.
DEFAULT_PARTITION = (0xF7000, 0x1000)

# The Kconfig defaults of the development identity (config/common/cmake/Kconfig),
# used by ``generate --defaults`` for every option the user did not give.
DEVELOPMENT_DEFAULTS = {
    "sn": "11223344556677889900",
    "vendor_id": 0xFFF1,
    "product_id": 0x8000,
    "vendor_name": "Nordic Semiconductor ASA",
    "product_name": "not-specified",
    "date": "2022-01-01",
    "hw_ver": 0,
    "hw_ver_str": "prerelease",
    "spake2_it": 1000,
    "spake2_salt": b"SPAKE2P Key Salt",
    "discriminator": 0xF00,
    "passcode": 20202021,
    "enable_key": "00112233445566778899AABBCCDDEEFF",
    "product_finish": "other",
    # the sample's (sample_app/pm_static.yml and its nRF52840 overlay) and nRF Connect SDK
    # 3.4's default Matter layout on the nRF52840: one 4 KiB page right below the settings
    # storage at 0xf8000 (Partition Manager's old 0xfb000 is inside that storage there)
    "offset": DEFAULT_PARTITION[0],
    "size": DEFAULT_PARTITION[1],
    "generate_onboarding": True,
}


#: --format stm32-tlv: the board gives the region; no tag holds the finish; ST's providers
#: do not read the enable key.
STM32_NOT_DEFAULTED = ("offset", "size", "product_finish", "enable_key")
STM32_DEFAULTS = {"vendor_name": "STMicroelectronics", "product_id": 0x8004,
                  "product_name": "STM32 Matter device"}


class GenerateCommand(GenerateRequest):
    """``generate``: the generator's inputs plus what the command itself prints."""

    verbose: bool = False
    print_codes: bool = False
    defaults: bool = False


def with_development_defaults(req: GenerateCommand) -> GenerateCommand:
    """``--defaults``: fill what was not given; make a development chain if no files were."""
    defaults = DEVELOPMENT_DEFAULTS
    if req.format == "stm32-tlv":
        defaults = {k: v for k, v in defaults.items() if k not in STM32_NOT_DEFAULTED}
        defaults.update(STM32_DEFAULTS, gen_cd=not req.certification_declaration)
    changes = {name: value for name, value in defaults.items()
               if getattr(req, name, None) is None or getattr(req, name, None) is False}
    if not (req.dac_cert or req.dac_key or req.pai_cert):
        changes["gen_certs"] = True
    return req.replace(**changes)


def generate_command(req: GenerateCommand, ui) -> int:
    from .pipeline import generate

    if req.defaults:
        req = with_development_defaults(req)
    if not req.output:
        raise InputError(f"missing required option -o/{OPT.output} (the output prefix, e.g. "
                         "out/factory_data)")
    generator_fields = GenerateRequest.parameters()
    if req.format != "nrf-cbor" or req.board is not None \
            or req.certification_declaration is not None or req.dac_key_in_secure_storage:
        from .stm32 import generate_stm32 as generate  # noqa: F811
    result = generate(GenerateRequest(**{k: v for k, v in vars(req).items()
                                         if k in generator_fields}))
    for warning in result.warnings:
        ui.warn(warning)
    result.outputs.commit()
    for label, value in result.summary:
        ui.info(f"{label + ':':22} {value}")
    if req.print_codes and result.setup_payload is not None:
        from ..core.onboarding import manual_code, qr_code

        ui.info(f"{'QR code:':22} {qr_code(result.setup_payload)}")
        ui.info(f"{'manual code:':22} {manual_code(result.setup_payload)}")
    for out in result.outputs.files:
        detail = f" ({len(out.data)} bytes{', mode 0600' if out.secret else ''})" \
            if req.verbose else ""
        ui.info(f"{'wrote:':22} {out.target}{detail}")
    return 0


class PartitionRequest(Request):
    input: str = ""
    output: str = ""
    offset: Optional[int] = None
    size: Optional[int] = None
    verbose: bool = False
    raw: bool = False
    strict: bool = False
    overwrite: bool = False
    profile: str = "development"  # core.profile, for the certificates the JSON holds
    allow_nonconformant_certs: bool = False
    format: str = "nrf-cbor"
    board: Optional[str] = None
    dac_key_in_secure_storage: bool = False


def partition_command(args: PartitionRequest, ui) -> int:
    from ..formats.nrf_cbor import ERROR
    from .pipeline import partition, profile_policy

    policy = profile_policy(args)
    if args.format != "nrf-cbor" or args.board is not None or args.dac_key_in_secure_storage:
        return _partition_stm32(args, ui, policy)
    if args.offset is None or args.size is None:
        raise InputError(f"{OPT.offset} and {OPT.size} are required (the partition's address and "
                         "size)")
    result = partition(input_path=args.input, output=args.output, offset=args.offset,
                       size=args.size, overwrite=args.overwrite, policy=policy)
    errors = [p for p in result.problems if p.severity == ERROR]
    if args.strict and errors:
        more = f" (and {len(errors) - 1} more problem(s); see `show`)" if len(errors) > 1 else ""
        raise InputError(f"{OPT.input} {args.input}: {errors[0]}{more}")
    for warning in result.warnings:
        ui.warn(warning.render())
    for problem in result.problems:
        ui.warn(f"{args.input}: {problem}")
    written = result.outputs.commit()
    if not args.raw:
        ui.info(f"Generated {', '.join(str(p) for p in written)}: {len(result.image)} bytes "
                f"at 0x{args.offset:x} (partition size 0x{args.size:x})")
        ui.info(f"To flash only the factory data: nrfjprog --program {args.output}.hex "
                "--sectorerase --verify")
    return 0


def _partition_stm32(args: PartitionRequest, ui, policy) -> int:
    from ..formats import get_format
    from .stm32 import partition_stm32

    get_format(args.format, args.board,  # --format/--board checked first
               key_in_secure_storage=args.dac_key_in_secure_storage)
    result = partition_stm32(input_path=args.input, output=args.output, offset=args.offset,
                             size=args.size, board=args.board, strict=args.strict,
                             overwrite=args.overwrite, policy=policy,
                             key_in_secure_storage=args.dac_key_in_secure_storage)
    for warning in result.warnings:
        ui.warn(warning.render())
    for problem in result.problems:
        ui.warn(f"{args.input}: {problem}")
    written = result.outputs.commit()
    if not args.raw:
        ui.info(f"Generated {', '.join(str(p) for p in written)}: {len(result.image)} bytes")
    return 0




def _used_length(device_map: dict) -> int:
    from ..formats.nrf_cbor import encode_image

    return len(encode_image(device_map))


class VerifyRequest(Request):
    file: str = ""
    offset: Optional[int] = None
    dac_cert: Optional[str] = None
    pai_cert: Optional[str] = None
    paa_cert: Optional[str] = None
    passcode: Optional[int] = None
    qr: Optional[str] = None
    manual: Optional[str] = None
    codes: Optional[str] = None
    allow_nonconformant_certs: bool = False
    profile: str = "development"
    format: Optional[str] = None  # None: detected from the content (said on stderr)
    board: Optional[str] = None  # implies stm32-tlv
    dac_key_in_secure_storage: bool = False


def verify_command(args: VerifyRequest, ui) -> int:
    from ..core.profile import policy
    from ..files.inputs import read_file
    from ..formats import get_format, images
    from .show import check_offset_and_size
    from .verification import Expectations, verify

    profile = policy(args.profile, allow_nonconformant_certs=args.allow_nonconformant_certs)
    check_offset_and_size(args.offset, None)
    if args.passcode is not None:
        from ..core.validate import require

        require("passcode", args.passcode, Subject("passcode"))
    name, note = args.format, None
    if name is None and (args.board is not None or args.dac_key_in_secure_storage):
        name = "stm32-tlv"
    if name is None:
        name, why = images.detect_format(args.file, args.offset)
        note = f"{args.file}: read as {name}, since {why}"
    fmt = get_format(name, args.board, key_in_secure_storage=args.dac_key_in_secure_storage)
    loaded = images.load(args.file, args.offset, fmt)
    _refuse_unreadable(loaded, fmt)
    if note:
        ui.note(note)
    expect = Expectations(
        policy=profile,
        dac_cert=read_file(args.dac_cert, OPT.dac_cert) if args.dac_cert else None,
        pai_cert=read_file(args.pai_cert, OPT.pai_cert) if args.pai_cert else None,
        paa_cert=read_file(args.paa_cert, OPT.paa_cert) if args.paa_cert else None,
        passcode=args.passcode, codes=_codes_to_check(args))
    checks = verify(loaded.device_map, expect, fmt=fmt, reading=loaded.reading)
    for check in checks:
        label = "skip" if check.skipped else "warn" if check.warning else \
            "ok  " if check.ok else "FAIL"
        ui.info(f"{label}  {check.message}")
    failed = [c for c in checks if not c.ok]
    skipped = [c for c in checks if c.skipped]
    ran = len(checks) - len(skipped)
    not_checked = f"; {len(skipped)} not checked (the 'skip' lines)" if skipped else ""
    warned = sum(c.warning for c in checks)
    not_checked += f"; {warned} accepted with a warning (the 'warn' lines)" if warned else ""
    if failed:
        raise VerificationError(f"{args.file}: {len(failed)} of {ran} checks failed"
                                f"{not_checked}")
    ui.info(f"{args.file}: all {ran} checks passed{not_checked}")
    return 0


def _refuse_unreadable(loaded, fmt) -> None:
    """Input that is not readable factory data is bad input (exit 2), as in ``show``."""
    from ..formats import images, nrf_cbor

    if fmt.name == "nrf-cbor" and loaded.reading is not None:
        if not loaded.reading.is_map:
            return images.refuse_unreadable(loaded, None, [])
        problems = nrf_cbor.lint_image(loaded.reading)
    else:
        problems = fmt.lint(loaded.device_map)
    images.refuse_unreadable(loaded, None if fmt.name == "nrf-cbor" else fmt, problems)


def _codes_to_check(args: VerifyRequest) -> list[tuple[str, str]]:
    """Codes from --qr/--manual, and from the onboarding .txt (given, or next to the file)."""
    from ..files.inputs import read_file

    codes = []
    if args.qr:
        codes.append((str(OPT.qr), args.qr))
    if args.manual:
        codes.append((str(OPT.manual), args.manual))
    codes_file = args.codes
    from pathlib import Path

    sibling = Path(args.file).with_suffix(".txt")
    if codes_file is None and sibling.is_file():
        codes_file = str(sibling)
    if codes_file:
        text = read_file(codes_file, OPT.codes).decode("utf-8", "replace")
        codes += _parse_codes_text(text, codes_file)
    return codes


def _parse_codes_text(text: str, source: str) -> list[tuple[str, str]]:
    """The reference ``.txt``: ``Manualcode : <digits>`` and ``QRCode : MT:...`` lines."""
    codes = []
    for line in text.splitlines():
        label, _, value = line.partition(":")
        if label.strip().lower() in ("manualcode", "qrcode") and value.strip():
            codes.append((f"{source} {label.strip()}", value.strip()))
    if not codes:
        raise InputError(f"{OPT.codes} {source}: no 'Manualcode :' or 'QRCode :' line found")
    return codes


_FLOWS = {"standard": 0, "user-intent": 1, "custom": 2, "0": 0, "1": 1, "2": 2}


class CodesRequest(Request):
    vendor_id: int = 0
    product_id: int = 0
    discriminator: int = 0
    passcode: int = 0
    discovery: str = "ble"
    flow: str = "standard"
    png: Optional[str] = None
    overwrite: bool = False


def codes_command(args: CodesRequest, ui) -> int:
    from ..core import onboarding, validate

    for name in ("vendor_id", "product_id", "discriminator", "passcode"):
        validate.require(name, getattr(args, name), Subject(name))  # generate's checks and words
    payload = onboarding.SetupPayload(
        vendor_id=args.vendor_id, product_id=args.product_id, discriminator=args.discriminator,
        passcode=args.passcode, flow=_FLOWS[args.flow], capabilities=discovery_of(args.discovery))
    onboarding.validate_payload(payload)
    qr = onboarding.qr_code(payload)
    if args.png:
        from ..core.qrimage import qr_png
        from ..files.outputs import OutputSet

        outputs = OutputSet(overwrite=args.overwrite)
        outputs.add(args.png, qr_png(qr), secret=True, what="QR code image")
        outputs.commit()
    ui.info(f"QR code:     {qr}")
    ui.info(f"Manual code: {onboarding.manual_code(payload)}")
    return 0
