"""Argument definitions shared by every front end, and the console script ``matter-factory-data``.

This is the one place where errors become messages and exit codes:
0 success, 1 failure (outputs exist, I/O, partition too small, verification failed),
2 invalid input or usage. Heavy modules are imported only by the command that needs them.
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Callable, NoReturn, Optional, Sequence

PROG = "matter-factory-data"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2, and one option style:
    ``--vendor_id`` and ``--vendor-id`` (any mix of ``_`` and ``-``) name the same option,
    prefixes resolve as argparse resolves them, and a mistyped option gets a suggestion."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        if args is None:
            args = sys.argv[1:]
        if not any(isinstance(a, argparse._SubParsersAction) for a in self._actions):
            args = self.resolve_long_options(list(args))
        return super().parse_known_args(args, namespace)

    def resolve_long_options(self, args: list) -> list:
        """Each ``--name[=value]`` spelled as this parser's own option string: ``_`` and
        ``-`` are the same separator; an exact name wins, else a prefix of exactly one option
        (argparse's abbreviation); several: ambiguous; none: the closest is suggested."""
        by_key: dict = {}
        for string, action in self._option_string_actions.items():
            if string.startswith("--"):
                by_key.setdefault(_option_key(string), (string, action))
        resolved = []
        for position, arg in enumerate(args):
            if arg == "--":
                return resolved + args[position:]
            if not arg.startswith("--") or arg in self._option_string_actions:
                resolved.append(arg)
                continue
            name, sep, value = arg.partition("=")
            key = _option_key(name)
            if key in by_key:
                resolved.append(by_key[key][0] + sep + value)
                continue
            matches: dict = {}
            for option_key, (string, action) in by_key.items():
                if option_key.startswith(key) and len(key) >= getattr(action, "min_prefix", 0):
                    matches.setdefault(id(action), string)
            if len(matches) == 1:
                resolved.append(next(iter(matches.values())) + sep + value)
            elif len(matches) > 1:
                self.error(f"ambiguous option: {name} could match "
                           f"{', '.join(matches.values())}")
            else:
                import difflib

                close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.6)
                if close:
                    self.error(f"unrecognized option {name} (did you mean "
                               f"{by_key[close[0]][0]}?)")
                resolved.append(arg)
        return resolved


def abbreviable_from(action: argparse.Action, length: int) -> argparse.Action:
    """Let ``action`` be abbreviated only to ``length`` characters or more, so an option added
    after the reference's does not make a reference prefix ambiguous (``--disc`` stays
    ``--discriminator``; ``--disco`` is ``--discovery``)."""
    action.min_prefix = length  # type: ignore[attr-defined]
    return action


def _option_key(option: str) -> str:
    """``--vendor-id`` and ``--vendor_id`` -> ``vendor_id``."""
    return option[2:].replace("-", "_")


from ..ui import UI  # noqa: E402  (re-exported for the front ends)


# --- value parsers (same spelling and parsing as the reference scripts) --------

def any_int(text: str) -> int:
    """``int(x, 0)``: 0x.., 0o.., 0b.., decimal and 1_000; ``010``, spaces, non-ASCII digits
    and numbers of more than 80 characters are refused (core.validate.int_problem)."""
    from ..core.validate import int_problem

    problem = int_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return int(text, 0)


def decimal_int(text: str) -> int:
    from ..core.validate import shown

    if len(text) > 10 or not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a decimal integer")
    return int(text)


def base64_bytes(text: str) -> bytes:
    """Strict base64 (the reference silently drops characters outside the alphabet)."""
    from ..core.validate import base64_problem

    problem = base64_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return base64.b64decode(text, validate=True)


# --- namespace -> typed request (the only place a Namespace is read) -------------

#: Namespace entries that are argparse plumbing, not parameters of a command.
_PLUMBING = frozenset({"run", "command", "help"})


def request_from(cls, args: argparse.Namespace, ignore: Sequence[str] = ()):
    """The command body's typed request from the parsed options. Every option the parser
    defines must be a parameter of the request (or named in ``ignore``), so no option is
    silently dropped."""
    values = {k: v for k, v in vars(args).items() if k not in _PLUMBING and k not in ignore}
    unknown = set(values) - cls.parameters()
    if unknown:
        raise TypeError(f"{cls.__name__} has no parameter(s) {', '.join(sorted(unknown))}")
    return cls(**values)


def command_namespace(args: argparse.Namespace) -> argparse.Namespace:
    """Only the chosen command's own options (west adds its global ones, such as
    ``zephyr_base``, to the same namespace)."""
    _, add_arguments, _ = COMMANDS[args.command]
    parser = Parser(prog=args.command)
    add_arguments(parser)
    keep = {action.dest for action in parser._actions} | _PLUMBING
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if k in keep})


def refuse_options_besides(args: argparse.Namespace, add_arguments: Callable,
                           allowed: Sequence[str], why: str) -> None:
    """Refuse an option given (different from its default) other than ``allowed``; ``why``
    is the message, with ``{option}`` for the option's longest spelling."""
    from ..errors import InputError

    parser = Parser(prog="check")
    add_arguments(parser)
    for action in parser._actions:
        if action.dest in allowed or not action.option_strings \
                or action.default == argparse.SUPPRESS:  # --help
            continue
        if getattr(args, action.dest, action.default) != action.default:
            raise InputError(why.format(option=max(action.option_strings, key=len)))


# --- build directories ---------------------------------------------------------

#: ``-d`` given without a value: find the build directory as ``west build`` does.
FIND_BUILD_DIR = ""


def add_build_dir_argument(parser, help_text: str) -> None:
    """``-d/--build-dir [DIR]``: a bare ``-d`` means build/, else the current directory."""
    parser.add_argument("-d", "--build-dir", metavar="DIR", nargs="?", const=FIND_BUILD_DIR,
                        help=help_text + " (a bare -d: build/, or the current directory when "
                             "it is a build directory, as west build finds it)")


# --- image format (nRF CBOR or STM32 TLV) -------------------------------------

FORMAT_CHOICES = ("nrf-cbor", "stm32-tlv")
BOARD_CHOICES = ("wb5mm-dk", "wba65")


def add_format_arguments(parser, cd: bool = False) -> None:
    """``--format`` and ``--board`` (and ``--cd`` for the commands that make images)."""
    group = parser.add_argument_group("Image format")
    group.add_argument("--format", choices=FORMAT_CHOICES, default="nrf-cbor",
                       help="on-flash format: nrf-cbor (nRF Connect SDK, the default) or "
                            "stm32-tlv (ST X-CUBE-MATTER, genFactoryData's image)")
    group.add_argument("--board", type=str.lower, choices=BOARD_CHOICES,
                       help="stm32-tlv: the board whose reader rules and flash region apply "
                            "(wb5mm-dk: external flash 0x901C0000, 64 KiB; wba65: internal "
                            "flash 0x081EC000, 61440 bytes)")
    if cd:
        group.add_argument("--certification_declaration", metavar="FILE",
                           help="stm32-tlv: the Certification Declaration (DER) stored in tag 1 "
                                "(or --gen_cd to make one)")


# --- generate ----------------------------------------------------------------

FINISH_CHOICES = ("other", "matte", "satin", "polished", "rugged", "fabric")
COLOR_CHOICES = ("black", "navy", "green", "teal", "maroon", "purple", "olive", "gray", "blue",
                 "lime", "aqua", "red", "fuchsia", "yellow", "white", "nickel", "chrome", "brass",
                 "copper", "silver", "gold", "cooper")


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The reference generator's options, same spelling, plus a few of ours (see README)."""
    add_build_dir_argument(parser, "re-run the factory data step of this west build with the "
                                   "arguments its CMake recorded (no other option but -v)")
    parser.add_argument("-s", "--schema", metavar="FILE",
                        help="also validate the JSON against this JSON schema (draft 2020-12)")
    parser.add_argument("-o", "--output", metavar="PREFIX",
                        help="output prefix: writes PREFIX.json (a trailing .json is stripped), "
                             "PREFIX.hex/.bin with --offset/--size, PREFIX.txt/.png with "
                             "--generate_onboarding")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more details")
    parser.add_argument("--include_passcode", action="store_true",
                        help="store the passcode in the factory data (development only)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_field_arguments(parser)
    parser.add_argument("--print_codes", action="store_true",
                        help="also print the QR payload and manual code (they reveal the "
                             "passcode)")
    add_format_arguments(parser, cd=True)


def add_field_arguments(parser: argparse.ArgumentParser) -> None:
    """The factory data field options, shared by generate and batch (same spelling)."""
    mandatory = parser.add_argument_group("Mandatory keys")
    mandatory.add_argument("--sn", help="serial number, 1..32 bytes")
    mandatory.add_argument("--vendor_id", type=any_int, help="vendor ID, 0..0xFFF4")
    mandatory.add_argument("--product_id", type=any_int, help="product ID, 1..0xFFFF")
    mandatory.add_argument("--vendor_name", help="vendor name, 1..32 bytes")
    mandatory.add_argument("--product_name", help="product name, 1..32 bytes")
    mandatory.add_argument("--date", help="manufacturing date, YYYY-MM-DD (or YYYYMMDD)")
    mandatory.add_argument("--hw_ver", type=any_int, help="hardware version, 0..65535")
    mandatory.add_argument("--hw_ver_str", help="hardware version string, 1..64 bytes")
    mandatory.add_argument("--sw_ver_str",
                           help="software version string, 1..64 bytes (optional; stored after "
                                "hw_ver_str; an empty value leaves it out)")
    mandatory.add_argument("--spake2_it", type=any_int, help="SPAKE2+ iterations, 1000..100000")
    mandatory.add_argument("--spake2_salt", type=base64_bytes,
                           help="SPAKE2+ salt, base64 of 16..32 bytes")
    mandatory.add_argument("--discriminator", type=any_int, help="discriminator, 0..4095")
    optional = parser.add_argument_group("Optional keys")
    optional.add_argument("--product_url", help="product URL, up to 256 bytes")
    optional.add_argument("--product_label", help="product label, up to 64 bytes")
    optional.add_argument("--part_number", help="part number, up to 32 bytes")
    optional.add_argument("--chip_cert_path", metavar="PATH",
                          help="accepted for compatibility; not needed")
    optional.add_argument("--gen_certs", action="store_true",
                          help="make a PAI and a DAC for VID/PID, signed by --paa_cert/--paa_key "
                               "or by a development PAA kept in the output directory")
    optional.add_argument("--dac_cert", metavar="FILE", help="DAC certificate (DER or PEM)")
    optional.add_argument("--pai_cert", metavar="FILE", help="PAI certificate (DER or PEM)")
    optional.add_argument("--dac_key", metavar="FILE",
                          help="DAC private key (SEC1 or PKCS#8, DER or PEM)")
    optional.add_argument("--dac_key_password", metavar="PASSWORD",
                          help="password of an encrypted --dac_key")
    optional.add_argument("--generate_rd_uid", action="store_true",
                          help="generate a random 16-byte rotating device ID unique ID")
    optional.add_argument("--rd_uid", metavar="HEX",
                          help="rotating device ID unique ID, 16..32 bytes in hex")
    optional.add_argument("--passcode", type=any_int,
                          help="setup passcode, 1..99999998 (derives the verifier)")
    optional.add_argument("--spake2_verifier", type=base64_bytes,
                          help="SPAKE2+ verifier, base64 of 97 bytes")
    optional.add_argument("--enable_key", metavar="HEX",
                          help="test event trigger enable key, 16 bytes in hex")
    optional.add_argument("--user", metavar="JSON", help="user data, a JSON object")
    optional.add_argument("--gen_cd", action="store_true",
                          help="write a signed Certification Declaration, CD.der")
    optional.add_argument("--cd_type", type=decimal_int, default=1,
                          help="certification type of the CD: 0 development, 1 provisional "
                               "(default), 2 official")
    optional.add_argument("--paa_cert", metavar="FILE",
                          help="PAA certificate: signs the PAI with --gen_certs; otherwise the "
                               "PAI is checked against it")
    optional.add_argument("--paa_key", metavar="FILE|URI",
                          help="PAA private key (a file or a pkcs11: URI), for --gen_certs")
    optional.add_argument("--generate_onboarding", action="store_true",
                          help="write PREFIX.txt (manual and QR codes) and PREFIX.png (QR image)")
    optional.add_argument("--product_finish", metavar="FINISH", choices=FINISH_CHOICES,
                          help=f"one of {', '.join(FINISH_CHOICES)}")
    optional.add_argument("--product_color", metavar="COLOR", choices=COLOR_CHOICES,
                          help="a Matter color name: " + ", ".join(COLOR_CHOICES[:-1]))
    optional.add_argument("--offset", type=any_int,
                          help="partition address: with --size also write PREFIX.hex/.bin")
    optional.add_argument("--size", type=any_int, help="partition size in bytes")
    ours = parser.add_argument_group("Options of matter-factory-data (not in the reference)")
    ours.add_argument("--cert_declaration_cert", metavar="FILE",
                      help="CD signing certificate (default: a development signer kept in the "
                           "output directory)")
    ours.add_argument("--cert_declaration_key", metavar="FILE|URI",
                      help="CD signing private key (a file or a pkcs11: URI)")
    ours.add_argument("--allow_nonconformant_certs",
                      dest="allow_nonconformant_certs", action="store_true",
                      help="accept certificates that break the Matter attestation profile "
                           "(chip-cert validate-att-cert rules), with a warning naming the rule "
                           "(the reference never checked it; for compatibility only)")
    abbreviable_from(ours.add_argument(
        "--discovery", metavar="LIST",
        help="discovery capabilities in the QR code: comma-separated softap, ble, onnetwork, "
             "wifipaf, nfc, thread, or a number 0..63 (default: ble, as the reference)"),
        len("disco"))
    ours.add_argument("--defaults", action="store_true",
                      help="fill every option not given from the development defaults "
                           "(the Kconfig defaults; makes a development certificate chain)")


def run_generate(args: argparse.Namespace, ui: UI) -> int:
    if args.build_dir is not None:
        from ..zephyr.commands import GenerateInBuildRequest, generate_in_build

        refuse_options_besides(args, add_generate_arguments, allowed=("build_dir", "verbose"),
                               why="generate: {option} cannot be combined with -d/--build-dir: "
                                   "the build's values come from its zephyr/.config (change "
                                   "them in prj.conf or with `menuconfig -d`); accepted with "
                                   "-d: -v")
        return generate_in_build(GenerateInBuildRequest(build_dir=args.build_dir,
                                                        verbose=args.verbose), ui)
    from ..jobs.commands import GenerateCommand, generate_command

    return generate_command(request_from(GenerateCommand, args, ignore=("build_dir",)), ui)


# --- partition ----------------------------------------------------------------

def add_partition_arguments(parser: argparse.ArgumentParser) -> None:
    """The reference partition script's options, plus --strict and --overwrite."""
    parser.add_argument("-i", "--input", required=True, metavar="FILE", help="input JSON file")
    parser.add_argument("-o", "--output", required=True, metavar="PREFIX",
                        help="output prefix: writes PREFIX.hex and PREFIX.bin")
    parser.add_argument("--offset", type=any_int,
                        help="partition address in flash (required for nrf-cbor; stm32-tlv: "
                             "default the --board's region)")
    parser.add_argument("--size", type=any_int,
                        help="partition size in bytes (required for nrf-cbor)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more details")
    parser.add_argument("-r", "--raw", action="store_true",
                        help="quiet: print only warnings and errors")
    parser.add_argument("--strict", action="store_true",
                        help="refuse data the device would reject or misread")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_format_arguments(parser)


def run_partition(args: argparse.Namespace, ui: UI) -> int:
    from ..jobs.commands import PartitionRequest, partition_command

    return partition_command(request_from(PartitionRequest, args), ui)


# --- show --------------------------------------------------------------------

def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", metavar="FILE", nargs="?",
                        help="factory data: .hex, .bin or .json")
    add_build_dir_argument(source, "show the factory_data.hex of this west build (sysbuild: "
                                   "the default image's)")
    parser.add_argument("--offset", type=any_int,
                        help="address of the partition in a .hex holding more than one segment")
    parser.add_argument("--size", type=any_int, help="partition size, checked against the data")
    parser.add_argument("--json", action="store_true",
                        help="print the full JSON form instead of the summary")
    parser.add_argument("--pretty", action="store_true", help="the JSON form, indented")
    parser.add_argument("--show-secrets", dest="show_secrets",
                        action="store_true",
                        help="also print the DAC private key, the passcode and the enable key "
                             "(masked otherwise)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the device would reject or misread the data")
    parser.add_argument("--records", action="store_true",
                        help="stm32-tlv: list every record as the device scans it (offset, "
                             "tag, name, length), duplicates included, instead of the JSON")
    add_format_arguments(parser)


def run_show(args: argparse.Namespace, ui: UI) -> int:
    from ..jobs.show import ShowRequest, show_command

    if args.build_dir is not None:
        from ..zephyr.commands import factory_data_hex_of

        args.file = factory_data_hex_of(args.build_dir)
    return show_command(request_from(ShowRequest, args, ignore=("build_dir",)), ui)


# --- verify ------------------------------------------------------------------

def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="factory data: .hex, .bin or .json, or a batch directory (checks "
                             "every device against manifest.csv and the series' PAI)")
    parser.add_argument("--offset", type=any_int, help="partition address in a multi-segment .hex")
    parser.add_argument("--jobs", type=any_int, metavar="N",
                        help="batch directory: worker processes (default: one per CPU)")
    parser.add_argument("--dac_cert", metavar="FILE", help="expected DAC certificate")
    parser.add_argument("--pai_cert", metavar="FILE", help="expected PAI certificate")
    parser.add_argument("--paa_cert", metavar="FILE", help="PAA that must have signed the PAI")
    parser.add_argument("--passcode", type=any_int,
                        help="passcode, to check the verifier (when the image holds none)")
    parser.add_argument("--codes", metavar="FILE",
                        help="onboarding codes file (default: FILE's .txt when it exists)")
    parser.add_argument("--qr", metavar="MT:...", help="a QR payload to check against the image")
    parser.add_argument("--manual", metavar="DIGITS", help="a manual pairing code to check")
    parser.add_argument("--allow_nonconformant_certs",
                        dest="allow_nonconformant_certs", action="store_true",
                        help="report attestation profile violations without failing")
    add_format_arguments(parser)


def run_verify(args: argparse.Namespace, ui: UI) -> int:
    from ..station.batch.verify import is_batch_dir, verify_batch

    if is_batch_dir(args.file):
        return verify_batch(args.file, pai_cert=args.pai_cert, paa_cert=args.paa_cert,
                            jobs=args.jobs, ui=ui,
                            allow_nonconformant_certs=args.allow_nonconformant_certs)
    from ..jobs.commands import VerifyRequest, verify_command

    return verify_command(request_from(VerifyRequest, args, ignore=("jobs",)), ui)


# --- codes -------------------------------------------------------------------

def add_codes_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vendor_id", type=any_int, required=True, help="vendor ID")
    parser.add_argument("--product_id", type=any_int, required=True, help="product ID")
    parser.add_argument("--discriminator", type=any_int, required=True, help="0..4095")
    parser.add_argument("--passcode", type=any_int, required=True, help="1..99999998")
    parser.add_argument("--discovery", metavar="LIST", default="ble",
                        help="comma-separated rendezvous: softap, ble, onnetwork, wifipaf, nfc, "
                             "thread, or a number (default: ble)")
    parser.add_argument("--flow", default="standard",
                        choices=("standard", "user-intent", "custom", "0", "1", "2"),
                        help="commissioning flow (default: standard)")
    parser.add_argument("--png", metavar="FILE", help="also write the QR code image")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --png")


def run_codes(args: argparse.Namespace, ui: UI) -> int:
    from ..jobs.commands import CodesRequest, codes_command

    return codes_command(request_from(CodesRequest, args), ui)


# --- check -------------------------------------------------------------------

def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    add_build_dir_argument(source, "a west build directory: uses its partitions.yml, "
                                   "zephyr/.config (SoC, write protection), zephyr/zephyr.elf "
                                   "and zephyr/factory_data.bin (sysbuild: the default image's)")
    source.add_argument("--pm-static", metavar="FILE", help="a pm_static.yml to check")
    source.add_argument("--partitions", metavar="FILE",
                        help="a partitions.yml (Partition Manager output) to check")
    source.add_argument("--devicetree", metavar="FILE",
                        help="a devicetree to check: a build's zephyr/zephyr.dts or "
                             "zephyr/edt.pickle (node label factory_data_partition, else alias "
                             "factory-data, with every other partition of its flash)")
    parser.add_argument("--zephyr-base", metavar="DIR",
                        help="the Zephyr tree whose python-devicetree reads --devicetree / the "
                             "build's edt.pickle (default: the build's ZEPHYR_BASE, else the "
                             "environment, else the installed devicetree package)")
    parser.add_argument("--soc", metavar="SOC",
                        help="the SoC, e.g. nrf52840, nrf5340 (application core), "
                             "nrf5340_cpunet, nrf9161, nrf54l15 (default with -d: CONFIG_SOC)")
    parser.add_argument("--data", metavar="FILE",
                        help="the factory data image (.bin, or .hex to also check its address)")
    parser.add_argument("--elf", metavar="FILE",
                        help="the firmware zephyr.elf: no loadable section may lie in factory_data")
    parser.add_argument("--write-protect", action=argparse.BooleanOptionalAction, default=None,
                        help="check the fprotect block around factory_data against "
                             "settings_storage / storage_partition (default with -d: "
                             "CONFIG_CHIP_FACTORY_DATA_WRITE_PROTECT; otherwise on where the SoC "
                             "has write protection, as the firmware's default)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only problems, not the layout report")


def run_check(args: argparse.Namespace, ui: UI) -> int:
    from ..zephyr.layout_check import CheckRequest, run_check as check_command

    return check_command(request_from(CheckRequest, args), ui)


# --- build-step ----------------------------------------------------------------

def add_build_step_arguments(parser: argparse.ArgumentParser) -> None:
    """Run by cmake/matter_factory_data.cmake; errors name the Kconfig symbol or file.
    The options come from the build step's own table (also read by ``generate -d``)."""
    from ..zephyr.step_options import OPTIONS

    for option in OPTIONS:
        if option.kind == "flag":
            parser.add_argument(option.flag, dest=option.dest, action="store_true",
                                help=option.help)
        else:
            parser.add_argument(option.flag, dest=option.dest, metavar=option.metavar,
                                required=option.required, help=option.help,
                                type=any_int if option.kind == "int" else None)


def run_build_step(args: argparse.Namespace, ui: UI) -> int:
    from ..zephyr.build_step import build_step
    from ..zephyr.step_request import BuildStepRequest

    return build_step(request_from(BuildStepRequest, args), ui)


# --- flash -------------------------------------------------------------------

def add_flash_arguments(parser: argparse.ArgumentParser) -> None:
    """Program only the factory data hex, erasing only the pages it covers."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-d", "--build-dir", metavar="DIR",
                        help="west build directory (default: build/, or the current directory "
                             "when it is one); sysbuild: the default image's "
                             "zephyr/factory_data.hex and zephyr/.config")
    source.add_argument("--hex", metavar="FILE", help="the factory data .hex to program")
    parser.add_argument("--tool", choices=("nrfjprog", "nrfutil"),
                        help="programmer (default: nrfutil; nrfjprog when nrfutil is not on "
                             "PATH)")
    parser.add_argument("--snr", "--dev-id", dest="snr", metavar="SNR",
                        help="serial number of the debugger (J-Link) to use")
    parser.add_argument("--family", type=str.upper, choices=("NRF52", "NRF53", "NRF54L", "NRF91"),
                        help="SoC family (default with a build directory: from zephyr/.config; "
                             "needed by nrfjprog with --hex)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run nothing (no tool needs to be installed)")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not reset the device after programming")
    parser.add_argument("--core", type=str.lower, choices=("app", "net"),
                        help="nRF5340 core to program: app (application core, the default) or "
                             "net (network core: nrfjprog --coprocessor CP_NETWORK, nrfutil "
                             "--core Network, 2 KiB pages); with a build directory: net when its "
                             "zephyr/.config has CONFIG_SOC_NRF5340_CPUNET=y")


def run_flash(args: argparse.Namespace, ui: UI) -> int:
    from ..station.flash import FlashRequest, flash_command

    return flash_command(request_from(FlashRequest, args), ui)


# --- merge -------------------------------------------------------------------

def add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    """Firmware hex + factory data hex -> one hex; in a build directory all three default."""
    add_build_dir_argument(parser, "take the defaults from this west build: zephyr/zephyr.hex, "
                                   "factory_data.hex, output zephyr/merged.hex (sysbuild: the "
                                   "default image's); used whenever one of the files is not "
                                   "given")
    parser.add_argument("--firmware", metavar="HEX", help="the firmware hex (zephyr.hex)")
    parser.add_argument("--factory-data", metavar="HEX", help="the factory data hex")
    parser.add_argument("-o", "--output", metavar="HEX",
                        help="the merged hex to write (default in a build: the build's "
                             "merged.hex, which is replaced)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output (not needed for the build's own "
                             "merged.hex)")


def run_merge(args: argparse.Namespace, ui: UI) -> int:
    from ..zephyr.merge import MergeRequest, merge_command

    return merge_command(request_from(MergeRequest, args), ui)


# --- menuconfig ----------------------------------------------------------------

def add_menuconfig_arguments(parser: argparse.ArgumentParser) -> None:
    """kconfiglib's menuconfig over the factory data Kconfig, on a build or a .conf fragment."""
    target = parser.add_mutually_exclusive_group()
    add_build_dir_argument(target, "edit this west build's zephyr/.config (sysbuild: the "
                                   "default image's); the default when a build directory is "
                                   "found")
    target.add_argument("--conf", metavar="FILE",
                        help="edit a .conf fragment holding only factory data symbols (default "
                             "outside a build directory: factory_data.conf); use it with "
                             "west build -- -DEXTRA_CONF_FILE=FILE")
    parser.add_argument("--set", metavar="SYMBOL=VALUE", action="append", default=[],
                        help="set a symbol without the interactive UI (repeatable; CONFIG_ "
                             "prefix optional; strings with or without quotes)")
    parser.add_argument("--kconfig", metavar="FILE",
                        help="the factory data Kconfig (default: the one of this package)")


def run_menuconfig(args: argparse.Namespace, ui: UI) -> int:
    from ..zephyr.menuconfig import MenuconfigRequest, menuconfig_command

    return menuconfig_command(request_from(MenuconfigRequest, args), ui)


# --- batch -------------------------------------------------------------------

def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """generate's field options (common to every device) plus the series options."""
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="the batch directory: a new or empty one, or the directory of the "
                             "same series to resume or extend it")
    parser.add_argument("--count", type=any_int, metavar="N",
                        help="number of devices of the series (a rerun with a larger N "
                             "continues it)")
    parser.add_argument("--csv", metavar="FILE",
                        help="per-device values, one row per device; columns among sn, "
                             "passcode, discriminator, spake2_salt (base64), rd_uid (hex)")
    parser.add_argument("--fields", metavar="FILE",
                        help="common values as a JSON object keyed by option name "
                             "(options given on the command line win)")
    add_build_dir_argument(parser, "take the common values from this west build: its "
                                   "CONFIG_CHIP_DEVICE_* symbols and factory_data partition "
                                   "(--fields and options win)")
    parser.add_argument("--pai_key", metavar="FILE|URI",
                        help="the key of --pai_cert: the PAI signs every DAC (a file, or a "
                             "pkcs11: URI: the key stays in its token)")
    parser.add_argument("--sn_template", metavar="TEMPLATE",
                        help="serial numbers from the device index n, e.g. 'SN-{n:06d}' "
                             "(default: 16 random hex digits)")
    parser.add_argument("--discriminators", choices=("random", "sequential"), default="random",
                        help="random without repetition (default), or sequential from "
                             "--discriminator (default 0)")
    parser.add_argument("--allow_shared_discriminators", action="store_true",
                        help="allow more than 4096 devices: discriminators are then shared and "
                             "the manifest says with whom")
    parser.add_argument("--jobs", type=any_int, metavar="N",
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--qr", choices=("png", "svg", "none"), default="png",
                        help="QR code image per device (default: png)")
    parser.add_argument("--seed", metavar="TEXT",
                        help="make every random choice reproducible (tests and fixtures only: "
                             "whoever knows the seed knows every passcode and key)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more details")
    parser.add_argument("-s", "--schema", metavar="FILE",
                        help="also validate a device's JSON against this JSON schema")
    parser.add_argument("--include_passcode", action="store_true",
                        help="store the passcode in the factory data and the manifest "
                             "(development only)")
    add_field_arguments(parser)
    add_format_arguments(parser, cd=True)


def run_batch(args: argparse.Namespace, ui: UI) -> int:
    from ..station.batch.run import BatchRequest, run_batch as batch_command

    return batch_command(request_from(BatchRequest, args), ui)


# --- stm32-program -----------------------------------------------------------

def add_stm32_program_arguments(parser: argparse.ArgumentParser) -> None:
    """STM32CubeProgrammer over ST-LINK: list probes, or write the image on each."""
    parser.add_argument("--image", metavar="BIN",
                        help="the factory data .bin (generate --format stm32-tlv); written at "
                             "the board's address")
    parser.add_argument("--board", type=str.lower, choices=BOARD_CHOICES,
                        help="wb5mm-dk (external flash 0x901C0000, through the external "
                             "loader) or wba65 (internal flash 0x081EC000)")
    parser.add_argument("--sn", metavar="SN", action="append",
                        help="ST-LINK serial number (repeatable; default: every probe that "
                             "STM32_Programmer_CLI -l lists)")
    parser.add_argument("--list", action="store_true",
                        help="only list the connected probes (serial number, board, port)")
    parser.add_argument("--cli", metavar="PATH",
                        help="STM32_Programmer_CLI or its bin directory (default: PATH, then "
                             "the usual STM32CubeProgrammer install locations)")
    parser.add_argument("--external-loader", metavar="STLDR",
                        help="external loader for external flash (default: the board's "
                             ".stldr in the CubeProgrammer ExternalLoader directory)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run nothing")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not reset the device after programming")


def run_stm32_program(args: argparse.Namespace, ui: UI) -> int:
    from ..station.cubeprogrammer import Stm32ProgramRequest, stm32_program_command

    return stm32_program_command(request_from(Stm32ProgramRequest, args), ui)


# --- provision ----------------------------------------------------------------

def add_provision_arguments(parser: argparse.ArgumentParser) -> None:
    """The provisioning station: one worker per serial port, outcomes to a manifest."""
    parser.add_argument("--port", metavar="PORT", action="append",
                        help="a board's serial port (repeatable: all are served at once)")
    parser.add_argument("--protocol", choices=("csr", "st-demo"), default="csr",
                        help="csr (default): the device sends a CSR, the station issues its "
                             "DAC from the PAI (see README); st-demo: wait for ST's "
                             "STM_Provisioning firmware's finish:NNN")
    parser.add_argument("--manifest", metavar="FILE", required=True,
                        help="CSV file every board's outcome is appended to (created if "
                             "missing)")
    parser.add_argument("--pai_cert", metavar="FILE", help="csr: the PAI certificate")
    parser.add_argument("--pai_key", metavar="FILE|URI",
                        help="csr: the PAI private key (a file, or a pkcs11: URI: the key "
                             "stays in its token)")
    parser.add_argument("--vendor_id", type=any_int, help="csr: the product's vendor ID")
    parser.add_argument("--product_id", type=any_int, help="csr: the product ID")
    parser.add_argument("--dac_common_name", metavar="CN", default="Matter DAC",
                        help="csr: common name of the issued DACs (default: Matter DAC)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="per step (csr: answer, CSR, final status: 10/30/30 s; st-demo: "
                             "finish frame, 15 s)")
    parser.add_argument("--baud", type=any_int, default=115200,
                        help="baud rate (default 115200, as ST's firmware)")


def run_provision(args: argparse.Namespace, ui: UI) -> int:
    from ..station.provision.command import ProvisionRequest, provision_command

    return provision_command(request_from(ProvisionRequest, args), ui)


# --- the command table, shared with the west command --------------------------

COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "generate": ("generate nRF Connect factory data (JSON, and HEX/BIN, codes, certificates)",
                 add_generate_arguments, run_generate),
    "partition": ("convert a factory data JSON file into the .hex/.bin partition image",
                  add_partition_arguments, run_partition),
    "show": ("summarise a .hex/.bin/.json (or print its JSON form) and lint it as the device "
             "parser would",
             add_show_arguments, run_show),
    "verify": ("check an image against its certificates, verifier and onboarding codes",
               add_verify_arguments, run_verify),
    "codes": ("print the QR payload and manual pairing code", add_codes_arguments, run_codes),
    "batch": ("factory data for N devices, each with its own identity (DAC, passcode, "
              "discriminator, ...), in parallel, resumable, with a manifest",
              add_batch_arguments, run_batch),
    "check": ("check the factory_data partition of a pm_static.yml, partitions.yml or build "
              "directory", add_check_arguments, run_check),
    "build-step": ("the factory data step of a Zephyr build (run by the module's CMake)",
                   add_build_step_arguments, run_build_step),
    "flash": ("program only the factory data hex into a connected nRF device "
              "(nrfjprog or nrfutil)", add_flash_arguments, run_flash),
    "stm32-program": ("write an STM32 factory data image with STM32CubeProgrammer over "
                      "ST-LINK, on one or several probes; --list lists them",
                      add_stm32_program_arguments, run_stm32_program),
    "provision": ("provisioning station: serve several STM32 boards at once over their "
                  "UARTs (our CSR protocol, or ST's finish:NNN demo), outcomes to a manifest",
                  add_provision_arguments, run_provision),
    "merge": ("merge the firmware hex and the factory data hex into one hex",
              add_merge_arguments, run_merge),
    "menuconfig": ("edit the factory data Kconfig symbols of a build's .config or of a .conf "
                   "fragment (kconfiglib menuconfig, or --set)", add_menuconfig_arguments,
                   run_menuconfig),
}


def add_commands(subparsers, only: Optional[str] = None, names_only: bool = False) -> None:
    """Register the commands on an argparse sub-parser action (just ``only`` when given;
    without their options when ``names_only``: enough for the top-level help and errors)."""
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        if only is None or name == only:
            sub = subparsers.add_parser(name, help=help_text, description=help_text)
            if not names_only:
                add_arguments(sub)
            sub.set_defaults(run=run, command=name)


def build_parser(argv: Optional[Sequence[str]] = None) -> Parser:
    """The console script's parser. When ``argv`` names a command, only that command's
    sub-parser is built (building all of them costs ~15 ms of every run); when it names none
    (``--help``, ``--version``, a mistyped command), only the command names are needed."""
    parser = Parser(prog=PROG, description="Matter factory data for nRF Connect SDK / Zephyr.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(metavar="COMMAND", parser_class=Parser)
    subparsers.required = True
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    add_commands(subparsers, only=chosen, names_only=argv is not None and chosen is None)
    return parser


def run(args: argparse.Namespace, ui: UI) -> int:
    """Run a parsed command; turn every expected error into one line and an exit code."""
    from .boundary import guarded

    return guarded(lambda: args.run(args, ui), ui)



def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    ui = UI()
    try:
        return run(args, ui)
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
