"""Option definitions and value parsers shared by several commands, and the one reader of an
argparse ``Namespace`` (:func:`request_from`)."""

from __future__ import annotations

import argparse
import base64
from collections.abc import Sequence
from typing import Callable

from .parser import Parser, abbreviable_from

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


def add_format_arguments(parser, cd: bool = False, detect: bool = False) -> None:
    """``--format`` and ``--board`` (and ``--cd`` for the commands that make images);
    ``detect``: no default format, the command tells it from the content."""
    group = parser.add_argument_group("Image format")
    group.add_argument("--format", choices=FORMAT_CHOICES, default=None if detect else "nrf-cbor",
                       help="on-flash format: nrf-cbor (nRF Connect SDK) or stm32-tlv (ST "
                            "X-CUBE-MATTER, genFactoryData's image); default: "
                            + ("told from the content (a CBOR map or an ST TLV record; --board "
                               "implies stm32-tlv), said on stderr" if detect else "nrf-cbor"))
    group.add_argument("--board", type=str.lower, choices=BOARD_CHOICES,
                       help="stm32-tlv: the board whose reader rules and flash region apply "
                            "(wb5mm-dk: external flash 0x901C0000, 64 KiB; wba65: internal "
                            "flash 0x081EC000, 61440 bytes)")
    if cd:
        group.add_argument("--certification_declaration", metavar="FILE",
                           help="stm32-tlv: the Certification Declaration (DER) stored in tag 1 "
                                "(or --gen_cd to make one)")


def add_key_storage_argument(parser) -> None:
    """``--dac-key-in-secure-storage`` (stm32-tlv; show, verify, generate, partition,
    stm32-program)."""
    abbreviable_from(parser.add_argument(  # --dac_key_ stays --dac_key_password
        "--dac-key-in-secure-storage", dest="dac_key_in_secure_storage", action="store_true",
        help="stm32-tlv: the firmware signs with a DAC key kept in the secure key storage "
             "(STM32WB: CKS), so the image needs no private key record (tag 5); without it a "
             "WB5MM-DK image must hold tag 5, which every shipped WB application reads "
             "(generate: the key is left out of the image)"), len("dac_key_i"))


# --- the factory data fields (generate and batch) ------------------------------

FINISH_CHOICES = ("other", "matte", "satin", "polished", "rugged", "fabric")
COLOR_CHOICES = ("black", "navy", "green", "teal", "maroon", "purple", "olive", "gray", "blue",
                 "lime", "aqua", "red", "fuchsia", "yellow", "white", "nickel", "chrome", "brass",
                 "copper", "silver", "gold", "cooper")


PROFILE_CHOICES = ("development", "production")


def add_profile_arguments(group) -> None:
    """``--profile`` (core/profile.py) and its development spelling
    ``--allow_nonconformant_certs`` (generate, partition, batch, verify, provision)."""
    group.add_argument("--profile", choices=PROFILE_CHOICES, default="development",
                       help="development (default): a rule neither the device nor the "
                            "reference generator enforces (the Matter attestation profile, "
                            "the DAC valid on the manufacturing date) is a warning naming the "
                            "rule; production: an error (values the device rejects are errors "
                            "in both)")
    group.add_argument("--allow_nonconformant_certs",
                       dest="allow_nonconformant_certs", action="store_true",
                       help="the development profile's behaviour, spelled out: accept "
                            "certificates that break the Matter attestation profile with a "
                            "warning naming the rule (refused with --profile production)")


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
    add_profile_arguments(ours)
    abbreviable_from(ours.add_argument(
        "--discovery", metavar="LIST",
        help="discovery capabilities in the QR code: comma-separated softap, ble, onnetwork, "
             "wifipaf, nfc, thread, or a number 0..63 (default: ble, as the reference)"),
        len("disco"))
    ours.add_argument("--defaults", action="store_true",
                      help="fill every option not given from the development defaults "
                           "(the Kconfig defaults; makes a development certificate chain; the "
                           "partition: --offset 0xf7000 --size 0x1000, the sample's and nRF "
                           "Connect SDK 3.4's nRF52840 layout)")


def add_ledger_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """``--ledger URL`` and ``--station NAME`` (batch, provision)."""
    own = ("the lot's own sqlite:///DIR/ledger.db" if command == "batch" else
           "sqlite:///MANIFEST.ledger.db next to --manifest")
    parser.add_argument("--ledger", metavar="URL",
                        help="the identity ledger every identity is claimed from: "
                             "sqlite:///ABS/PATH.db or postgresql://USER@/DB?host=/SOCKET/DIR"
                             f"&port=N (default: {own})")
    parser.add_argument("--station", metavar="NAME",
                        help="this station's name in the ledger (default: the host name)")


def add_json_argument(parser) -> None:
    """``--json``: NDJSON events for line software on stdout (docs/events.md); read by the
    front end (cli.app.run), never by a command body."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON event per line on stdout (schema factory-line/1, "
                             "docs/events.md); the human text goes to stderr")
