"""Command bodies shared by the console script and ``west factory-data``.

Each takes the parsed arguments and a UI, returns an exit code, and raises
:class:`~matter_factory_data.errors.FactoryDataError` for the front end to report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, VerificationError

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
    "offset": 0xFB000,
    "size": 0x1000,
    "generate_onboarding": True,
}


def apply_development_defaults(args: argparse.Namespace) -> None:
    """``--defaults``: fill what was not given; make a development chain if no files were."""
    for name, value in DEVELOPMENT_DEFAULTS.items():
        current = getattr(args, name, None)
        if current is None or current is False:
            setattr(args, name, value)
    if not (args.dac_cert or args.dac_key or args.pai_cert):
        args.gen_certs = True


def generate_command(args: argparse.Namespace, ui) -> int:
    from .pipeline import GenerateRequest, generate

    if args.build_dir is not None:
        return generate_in_build(args, ui)
    if args.defaults:
        apply_development_defaults(args)
    if not args.output:
        raise InputError("missing required option -o/--output (the output prefix, e.g. "
                         "out/factory_data)")
    result = generate(GenerateRequest.from_namespace(args))
    for warning in result.warnings:
        ui.warn(warning)
    result.outputs.commit()
    for label, value in result.summary:
        ui.info(f"{label + ':':22} {value}")
    if args.print_codes and result.setup_payload is not None:
        from ..core.onboarding import manual_code, qr_code

        ui.info(f"{'QR code:':22} {qr_code(result.setup_payload)}")
        ui.info(f"{'manual code:':22} {manual_code(result.setup_payload)}")
    for out in result.outputs.files:
        detail = f" ({len(out.data)} bytes{', mode 0600' if out.secret else ''})" \
            if args.verbose else ""
        ui.info(f"{'wrote:':22} {out.path}{detail}")
    return 0


# --- generate -d: the build's own step, re-run by hand ---------------------------------

#: Options ``generate -d`` accepts besides -d itself (the build's values come from its .config).
BUILD_DIR_GENERATE_OPTIONS = ("build_dir", "verbose")


def generate_in_build(args: argparse.Namespace, ui) -> int:
    """``generate -d``: run build-step with the arguments CMake recorded, so the outputs are
    the very files the build writes (factory_data.*, merged.hex)."""
    from ..zephyr import build_dir
    from ..zephyr.build_step import build_step

    _refuse_generate_options(args)
    build = build_dir.find_build_dir(args.build_dir or None, hint="give -d BUILD_DIR")
    app = build_dir.app_build_dir(build)
    step_args = recorded_build_step(app)
    if args.verbose:
        import shlex

        ui.info("build-step " + shlex.join(build_dir.step_arguments(app)))
    return build_step(step_args, ui)


def _refuse_generate_options(args: argparse.Namespace) -> None:
    from ..cli.app import Parser, add_generate_arguments

    parser = Parser(prog="generate")
    add_generate_arguments(parser)
    for action in parser._actions:
        if action.dest in BUILD_DIR_GENERATE_OPTIONS or not action.option_strings \
                or action.default == argparse.SUPPRESS:  # --help
            continue
        if getattr(args, action.dest, action.default) != action.default:
            option = max(action.option_strings, key=len)
            raise InputError(f"generate: {option} cannot be combined with -d/--build-dir: the "
                             "build's values come from its zephyr/.config (change them in "
                             "prj.conf or with `menuconfig -d`); accepted with -d: -v")


def recorded_build_step(app_dir) -> argparse.Namespace:
    """The build-step arguments of an app build (``zephyr/factory_data_step.json``), parsed by
    the build-step sub-parser of cli.py; always a writing run (never --check-only)."""
    from ..zephyr import build_dir
    from ..cli.app import Parser, add_build_step_arguments

    source = Path(app_dir) / build_dir.STEP_FILE

    class RecordedParser(Parser):
        def error(self, message: str):  # type: ignore[override]
            raise InputError(f"{source}: the recorded build-step arguments are not accepted "
                             f"({message}); reconfigure the build (west build --cmake-only)")

    parser = RecordedParser(prog="build-step", add_help=False)
    add_build_step_arguments(parser)
    args = parser.parse_args(build_dir.step_arguments(app_dir))
    args.check_only = False
    return args


def partition_command(args: argparse.Namespace, ui) -> int:
    from ..formats.nrf_cbor import ERROR
    from .pipeline import partition

    result = partition(input_path=args.input, output=args.output, offset=args.offset,
                       size=args.size, overwrite=args.overwrite)
    errors = [p for p in result.problems if p.severity == ERROR]
    if args.strict and errors:
        more = f" (and {len(errors) - 1} more problem(s); see `show`)" if len(errors) > 1 else ""
        raise InputError(f"--input {args.input}: {errors[0]}{more}")
    for problem in result.problems:
        ui.warn(f"{args.input}: {problem}")
    written = result.outputs.commit()
    if not args.raw:
        ui.info(f"Generated {', '.join(str(p) for p in written)}: {len(result.image)} bytes "
                f"at 0x{args.offset:x} (partition size 0x{args.size:x})")
        ui.info(f"To flash only the factory data: nrfjprog --program {args.output}.hex "
                "--sectorerase --verify")
    return 0


def show_command(args: argparse.Namespace, ui) -> int:
    import json

    from ..formats import images
    from ..formats import nrf_cbor

    if args.build_dir is not None:
        from ..zephyr import build_dir

        build = build_dir.find_build_dir(args.build_dir or None, hint="give -d BUILD_DIR or FILE")
        args.file = str(build_dir.factory_data_hex(build_dir.app_build_dir(build),
                                                   hint="give FILE"))
    loaded = images.load(args.file, args.offset)
    data = nrf_cbor.device_map_to_json(loaded.device_map)
    ui.info(json.dumps(data, indent=2) if args.pretty else nrf_cbor.json_text(data))
    problems = nrf_cbor.lint(loaded.device_map, partition_size=args.size)
    if args.size is not None and loaded.image is not None:
        used = _used_length(loaded.device_map)
        if used > args.size:
            problems.append(nrf_cbor.Problem(nrf_cbor.ERROR, "", f"the data needs {used} bytes, "
                                             f"more than the partition's {args.size}"))
    for problem in problems:
        ui.warn(f"{args.file}: {problem}")
    errors = [p for p in problems if p.severity == nrf_cbor.ERROR]
    return 1 if args.strict and errors else 0


def _used_length(device_map: dict) -> int:
    from ..formats.nrf_cbor import encode_image

    return len(encode_image(device_map))


def verify_command(args: argparse.Namespace, ui) -> int:
    from ..formats import images
    from ..files.inputs import read_file
    from .verification import Expectations, verify

    loaded = images.load(args.file, args.offset)
    expect = Expectations(
        dac_cert=read_file(args.dac_cert, "--dac_cert") if args.dac_cert else None,
        pai_cert=read_file(args.pai_cert, "--pai_cert") if args.pai_cert else None,
        paa_cert=read_file(args.paa_cert, "--paa_cert") if args.paa_cert else None,
        passcode=args.passcode, codes=_codes_to_check(args))
    checks = verify(loaded.device_map, expect)
    for check in checks:
        ui.info(f"{'ok  ' if check.ok else 'FAIL'}  {check.message}")
    failed = [c for c in checks if not c.ok]
    if failed:
        raise VerificationError(f"{args.file}: {len(failed)} of {len(checks)} checks failed")
    ui.info(f"{args.file}: all {len(checks)} checks passed")
    return 0


def _codes_to_check(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Codes from --qr/--manual, and from the onboarding .txt (given, or next to the file)."""
    from ..files.inputs import read_file

    codes = []
    if args.qr:
        codes.append(("--qr", args.qr))
    if args.manual:
        codes.append(("--manual", args.manual))
    codes_file = args.codes
    sibling = Path(args.file).with_suffix(".txt")
    if codes_file is None and sibling.is_file():
        codes_file = str(sibling)
    if codes_file:
        text = read_file(codes_file, "--codes").decode("utf-8", "replace")
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
        raise InputError(f"--codes {source}: no 'Manualcode :' or 'QRCode :' line found")
    return codes


_DISCOVERY_BITS = {"softap": 1, "ble": 2, "onnetwork": 4, "wifipaf": 8, "nfc": 16, "thread": 32}
_FLOWS = {"standard": 0, "user-intent": 1, "custom": 2, "0": 0, "1": 1, "2": 2}


def parse_discovery(text: str) -> int:
    """``ble,onnetwork`` or a number, as the 8-bit discovery capabilities bitmask."""
    try:
        return int(text, 0)
    except ValueError:
        pass
    mask = 0
    for name in text.lower().replace("+", ",").split(","):
        name = name.strip().replace("-", "").replace("_", "")
        if name not in _DISCOVERY_BITS:
            raise InputError(f"--discovery: {name!r} is not accepted (accepted: "
                             f"{', '.join(_DISCOVERY_BITS)} or a number)")
        mask |= _DISCOVERY_BITS[name]
    return mask


def codes_command(args: argparse.Namespace, ui) -> int:
    from ..core import onboarding

    payload = onboarding.SetupPayload(
        vendor_id=args.vendor_id, product_id=args.product_id, discriminator=args.discriminator,
        passcode=args.passcode, flow=_FLOWS[args.flow], capabilities=parse_discovery(args.discovery))
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
