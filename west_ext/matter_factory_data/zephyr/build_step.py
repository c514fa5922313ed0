"""``build-step``: the factory data step of a Zephyr build (cmake/matter_factory_data.cmake).

Reads the build's ``.config``, maps the Kconfig symbols to a :class:`GenerateRequest`,
resolves the factory_data partition (partitions.yml, then pm_static.yml, then the
devicetree; sources that exist must agree), runs the layout check and writes
``factory_data.{json,hex,bin}`` (+ codes) and, when asked, ``merged.hex`` -- all in one
atomic commit. The identity is kept in the output directory: a generated rd_uid and the
development PAI/DAC are reused on the next run, so rebuilding never changes the device.

Every error names the Kconfig symbol or the file it comes from, on one line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Optional

from ..errors import OPT, FactoryDataError, InputError, PartitionError, option_name
from .build_dir import read_kconfig
from .partition_sources import Source, resolve_partition
from .step_request import BuildStepRequest

STATE_FILE = "factory_data_state.json"  # VID/PID of the kept certificates, the kept rd_uid
PREFIX = "factory_data"

# Kconfig symbol -> (generate option, Kconfig default, kind); kinds: str, int, hex, bool
_P = "CONFIG_CHIP_DEVICE_"
_F = "CONFIG_CHIP_FACTORY_DATA_"
SYMBOLS: dict[str, tuple[Optional[str], str, str]] = {
    _P + "SERIAL_NUMBER": ("sn", "11223344556677889900", "str"),
    _P + "VENDOR_ID": ("vendor_id", "65521", "int"),
    _P + "PRODUCT_ID": ("product_id", "32768", "int"),
    _P + "VENDOR_NAME": ("vendor_name", "Nordic Semiconductor ASA", "str"),
    _P + "PRODUCT_NAME": ("product_name", "not-specified", "str"),
    _P + "MANUFACTURING_DATE": ("date", "2022-01-01", "str"),
    _P + "HARDWARE_VERSION": ("hw_ver", "0", "int"),
    _P + "HARDWARE_VERSION_STRING": ("hw_ver_str", "prerelease", "str"),
    _P + "SOFTWARE_VERSION_STRING": ("sw_ver_str", "", "str"),  # empty: the key is left out
    _P + "SPAKE2_IT": ("spake2_it", "1000", "int"),
    _P + "SPAKE2_SALT": ("spake2_salt", "U1BBS0UyUCBLZXkgU2FsdA==", "str"),
    _P + "DISCRIMINATOR": ("discriminator", "0xF00", "hex"),
    _P + "SPAKE2_PASSCODE": ("passcode", "20202021", "int"),
    _P + "SPAKE2_TEST_VERIFIER": (
        "spake2_verifier",
        "uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+"
        "NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw==", "str"),
    _P + "ROTATING_DEVICE_UID": ("rd_uid", "91a9c12a7c80700a31ddcfa7fce63e44", "str"),
    _P + "ENABLE_KEY": ("enable_key", "00112233445566778899AABBCCDDEEFF", "str"),
    _P + "PRODUCT_FINISH": ("product_finish", "other", "str"),
    _P + "PRODUCT_COLOR": ("product_color", "", "str"),
    _F + "USER_CERTS_DAC_CERT": ("dac_cert", "", "str"),
    _F + "USER_CERTS_DAC_KEY": ("dac_key", "", "str"),
    _F + "USER_CERTS_PAI_CERT": ("pai_cert", "", "str"),
    _F + "ROTATING_DEVICE_UID_MAX_LEN": (None, "16", "int"),
    _F + "BUILD": (None, "n", "bool"),
    _F + "MERGE_WITH_FIRMWARE": (None, "y", "bool"),
    _F + "GENERATE_ONBOARDING_CODES": ("generate_onboarding", "y", "bool"),
    _F + "GENERATE_CD": ("gen_cd", "n", "bool"),
    _F + "GENERATE_SPAKE2_VERIFIER": (None, "y", "bool"),
    _F + "WRITE_PROTECT": (None, "y", "bool"),
    _F + "PROFILE_PRODUCTION": (None, "n", "bool"),
    _F + "USE_DEFAULT_CERTS": (None, "y", "bool"),
    _F + "CERT_SOURCE_GENERATED": (None, "n", "bool"),
    _F + "CERT_SOURCE_USER": (None, "n", "bool"),
    "CONFIG_CHIP_ROTATING_DEVICE_ID": (None, "n", "bool"),
    _P + "GENERATE_ROTATING_DEVICE_UID": (None, "y", "bool"),
}

# The Kconfig ranges (kconfig/Kconfig), checked before anything else.
RANGES = {
    _P + "VENDOR_ID": (0, 0xFFFF), _P + "PRODUCT_ID": (0, 0xFFFF),
    _P + "HARDWARE_VERSION": (0, 0xFFFF), _P + "DISCRIMINATOR": (0, 0xFFF),
    _P + "SPAKE2_PASSCODE": (1, 99999998), _P + "SPAKE2_IT": (1000, 100000),
    _F + "ROTATING_DEVICE_UID_MAX_LEN": (16, 32),
}

#: Symbols whose values are secrets: messages name the symbol, never its value.
SECRET_SYMBOLS = frozenset({_P + "SPAKE2_PASSCODE"})

OPTION_TO_SYMBOL = {opt: sym for sym, (opt, _, _) in SYMBOLS.items() if opt}


# --- .config ---------------------------------------------------------------------

class Kconfig:
    """Typed access to the symbols, defaults applied; errors name the symbol and its value."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def raw(self, symbol: str) -> str:
        default = SYMBOLS[symbol][1] if symbol in SYMBOLS else ""
        return self.values.get(symbol, default)

    def is_set(self, symbol: str) -> bool:
        return self.raw(symbol) == "y"

    def string(self, symbol: str) -> str:
        return self.raw(symbol)

    def integer(self, symbol: str) -> int:
        from ..core.validate import MAX_NUMBER_CHARS, int_problem, shown

        text = self.raw(symbol)
        is_hex = SYMBOLS.get(symbol, ("", "", ""))[2] == "hex"
        if is_hex and len(text) <= MAX_NUMBER_CHARS and \
                re.fullmatch(r"(?:0[xX])?[0-9A-Fa-f]+", text):
            value = int(text, 16)
        elif not is_hex and int_problem(text) is None:
            value = int(text, 0)
        else:
            label = symbol if symbol in SECRET_SYMBOLS else f"{symbol}={shown(text)}"
            raise InputError(f"{label}: not {'a hex number' if is_hex else 'an integer'}; fix it "
                             "in prj.conf")
        low, high = RANGES.get(symbol, (None, None))
        if low is not None and high is not None and not low <= value <= high:
            accepted = (f"0x{low:x}..0x{high:x}" if SYMBOLS[symbol][2] == "hex"
                        else f"{low}..{high}")
            raise InputError(f"{self.describe(symbol)}: out of range (accepted: {accepted}); "
                             "fix it in prj.conf")
        return value

    def describe(self, symbol: str) -> str:
        """``SYMBOL=value`` as in .config; a secret symbol (the passcode) by its name only."""
        if symbol in SECRET_SYMBOLS:
            return symbol
        raw = self.raw(symbol)
        return f"{symbol}={raw}" if SYMBOLS.get(symbol, ("", "", "str"))[2] != "str" \
            else f'{symbol}="{raw}"'


# --- Kconfig -> GenerateRequest ---------------------------------------------------------

def expand_path(text: str) -> str:
    """``${VAR}`` and ``@VAR@`` from the environment (CMake passes already-expanded paths)."""
    text = re.sub(r"@([A-Za-z_][A-Za-z0-9_]*)@", lambda m: os.environ.get(m.group(1), ""), text)
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ.get(m.group(1), ""),
                  text)


def load_state(out_dir: Path) -> dict:
    try:
        state = json.loads((out_dir / STATE_FILE).read_text("utf-8"))
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def check_values(values: dict) -> None:
    """Validate factory data symbols (``{"CONFIG_...": value}``, defaults for those missing)
    exactly as the build step will: the same request, the same generator, nothing written.
    The certificate files and the partition are not checked (they are the build's)."""
    import tempfile

    from ..jobs.pipeline import generate

    config = Kconfig(values)
    with tempfile.TemporaryDirectory(prefix="mfd-check-") as tmp:
        try:
            req, _ = build_request(config, Path(tmp), None, {}, certificates=False)
            generate(req)
        except FactoryDataError as exc:
            raise exc.in_vocabulary(kconfig_vocabulary(config)) from None


def build_request(config: Kconfig, out_dir: Path, args, state: dict,
                  token_bytes=os.urandom, certificates: bool = True):
    """The GenerateRequest for ``config``, and the state to keep for the next run
    (``certificates=False``: a development chain instead of the configured one)."""
    import base64
    import binascii

    from ..jobs.pipeline import GenerateRequest

    values: dict = {}
    for symbol, (option, _, kind) in SYMBOLS.items():
        if option is None or option in ("spake2_verifier", "rd_uid", "dac_cert", "dac_key",
                                        "pai_cert", "enable_key", "product_color"):
            continue
        if kind in ("int", "hex"):
            values[option] = config.integer(symbol)
        elif kind == "bool":
            values[option] = config.is_set(symbol)
        else:
            values[option] = config.string(symbol)
    salt_symbol = _P + "SPAKE2_SALT"
    try:
        values["spake2_salt"] = base64.b64decode(config.string(salt_symbol), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{config.describe(salt_symbol)}: not valid base64") from None
    if not config.is_set(_F + "GENERATE_SPAKE2_VERIFIER"):
        symbol = _P + "SPAKE2_TEST_VERIFIER"
        try:
            values["spake2_verifier"] = base64.b64decode(config.string(symbol), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"{config.describe(symbol)}: not valid base64 (used because "
                             f"{_F}GENERATE_SPAKE2_VERIFIER is not set)") from None
    for option in ("enable_key", "product_color"):
        text = config.string(OPTION_TO_SYMBOL[option])
        values[option] = text if text else None
    new_state: dict[str, Any] = {}
    values.update(_rd_uid(config, state, new_state, token_bytes))
    values.update(_certificates(config, out_dir, args, state, new_state, values)
                  if certificates else {"gen_certs": True})
    for symbol in RANGES:  # every ranged symbol, also those not passed to the generator
        config.integer(symbol)
    values.update(output=str(out_dir / PREFIX), overwrite=True,
                  profile=profile_of(config, args))
    return GenerateRequest(**values), new_state


def profile_of(config: Kconfig, args) -> str:
    """The profile CMake passed (``--profile``, from CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION
    and recorded with the step), else the symbol in .config."""
    given = getattr(args, "profile", None)
    if given:
        return given
    return "production" if config.is_set(_F + "PROFILE_PRODUCTION") else "development"


def _rd_uid(config: Kconfig, state: dict, new_state: dict, token_bytes) -> dict:
    if not config.is_set("CONFIG_CHIP_ROTATING_DEVICE_ID"):
        return {}
    max_len = config.integer(_F + "ROTATING_DEVICE_UID_MAX_LEN")
    if config.is_set(_P + "GENERATE_ROTATING_DEVICE_UID"):
        kept = state.get("rd_uid")
        if not (isinstance(kept, str) and re.fullmatch(r"(?:[0-9a-f]{2}){16,32}", kept)):
            kept = token_bytes(16).hex()
        new_state["rd_uid"] = kept
        return {"rd_uid": kept}
    symbol = _P + "ROTATING_DEVICE_UID"
    text = config.string(symbol)
    if re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", text) and len(text) // 2 > max_len:
        raise InputError(f"{config.describe(symbol)}: {len(text) // 2} bytes, more than "
                         f"{_F}ROTATING_DEVICE_UID_MAX_LEN={max_len} the firmware can read")
    return {"rd_uid": text}


def _certificates(config: Kconfig, out_dir: Path, args, state: dict, new_state: dict,
                  values: dict) -> dict:
    if config.is_set(_F + "CERT_SOURCE_USER"):
        paths = {}
        for option in ("dac_cert", "dac_key", "pai_cert"):
            symbol = OPTION_TO_SYMBOL[option]
            given = getattr(args, option.replace("-", "_"), None)
            path = given or expand_path(config.string(symbol))
            if not path:
                raise InputError(f"{symbol} is empty: give the file path (needed by "
                                 f"{_F}CERT_SOURCE_USER)")
            if not os.path.isfile(path):
                raise InputError(f'{symbol}="{config.string(symbol)}": no such file {path}')
            paths[option] = path
        return paths
    ids = [values["vendor_id"], values["product_id"]]
    files = {o: out_dir / f"{n}.der" for o, n in (("dac_cert", "DAC_cert"),
                                                  ("dac_key", "DAC_key"),
                                                  ("pai_cert", "PAI_cert"))}
    new_state["certs_for"] = ids
    if state.get("certs_for") == ids and all(p.is_file() for p in files.values()):
        return {o: str(p) for o, p in files.items()}
    return {"gen_certs": True}


def kconfig_vocabulary(config: Kconfig, source: Optional[Source] = None):
    """How the build step names an input: its Kconfig symbol with the value from .config
    (``CONFIG_CHIP_DEVICE_DISCRIMINATOR=0x1000``); the partition's address and size by the
    layout source they came from; anything else as the generator option."""
    def name(subject: str) -> str:
        symbol = OPTION_TO_SYMBOL.get(subject)
        if symbol:
            return config.describe(symbol)
        if subject == "profile=production":  # core.profile.PRODUCTION_SUBJECT
            return _F + "PROFILE_PRODUCTION=y"
        if source is not None and subject in ("offset", "size"):
            return source.label
        return option_name(subject)

    return name


# --- the partition ---------------------------------------------------------------------

def check_partition(source: Source, config: Kconfig, image_size: Optional[int] = None) -> None:
    """Layout check of the chosen source; the first error stops the step. A devicetree source
    is checked with its sibling partitions and the flash node's extent."""
    from .layout import ERROR, FACTORY_DATA, Partition, check_layout, soc_info
    from .layout_check import load_layout, soc_from_kconfig

    soc = soc_from_kconfig(config.values)
    if not soc:
        raise InputError("CONFIG_SOC is not set in .config: cannot tell the flash page size")
    if source.layout:
        partitions = load_layout(source.layout)
    elif source.partitions:
        partitions = source.partitions
    else:
        partitions = [Partition(FACTORY_DATA, source.address, source.size)]
    info = soc_info(soc)
    if source.flash and source.flash[1]:
        info = info._replace(flash_base=source.flash[0], flash_size=source.flash[1])
    findings = check_layout(partitions, soc=info, image_size=image_size,
                            write_protect=config.is_set(_F + "WRITE_PROTECT"))
    errors = [f for f in findings if f.severity == ERROR]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PartitionError(f"{source.label}: {errors[0].line}{more}")


# --- merged.hex --------------------------------------------------------------------------

def merged_hex(firmware: str, factory_hex: str, address: int, size: int) -> bytes:
    """The firmware hex plus the factory data; refuses firmware data inside the partition."""
    from ..files.inputs import read_file
    from .merge import merge_images

    try:
        text = read_file(firmware, OPT['firmware-hex']).decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError(f"{OPT['firmware-hex']} {firmware}: not a valid Intel HEX file ({exc})") \
            from None
    return merge_images(text, factory_hex, address, size,
                        firmware_label=f"{OPT['firmware-hex']} {firmware}")


# --- the command -------------------------------------------------------------------------

def build_step(args: BuildStepRequest, ui) -> int:
    from ..jobs.pipeline import check_request, generate

    config = Kconfig(read_kconfig(args.dotconfig, option=str(OPT.dotconfig)))
    out_dir = Path(args.out_dir)
    if bool(args.firmware_hex) != bool(args.merged_hex):
        raise InputError(f"{OPT['firmware-hex']} and {OPT['merged-hex']} go together")
    state = load_state(out_dir)
    req, new_state = build_request(config, out_dir, args, state)
    source, _ = resolve_partition(args)
    check_partition(source, config)
    req.offset, req.size = source.address, source.size
    vocabulary = kconfig_vocabulary(config, source)
    try:
        if args.check_only:  # configure time: validate, make nothing (bench/bench_cmake.py)
            check_request(req)
            return 0
        result = generate(req)
    except FactoryDataError as exc:
        raise exc.in_vocabulary(vocabulary) from None
    for warning in result.warnings:
        ui.warn(warning.render(vocabulary))
    outputs = result.outputs
    if req.gen_certs:  # the DAC/PAI just made are kept; note for which VID/PID
        new_state["certs_for"] = [req.vendor_id, req.product_id]
    outputs.add(out_dir / STATE_FILE, (json.dumps(new_state, sort_keys=True) + "\n").encode(),
                what="factory data state")
    if args.merged_hex:
        assert args.firmware_hex is not None  # checked: the two go together
        factory_hex = next(f.data for f in outputs.files if f.path.suffix == ".hex")
        outputs.add(args.merged_hex, merged_hex(args.firmware_hex, factory_hex.decode("ascii"),
                                                source.address, source.size),
                    what="merged firmware and factory data")
    outputs.commit()
    image = len(result.image or b"")
    ui.info(f"factory data: {image} of {source.size} bytes at 0x{source.address:x} "
            f"({source.label}) -> {out_dir / PREFIX}.hex"
            + (f", {args.merged_hex}" if args.merged_hex else ""))
    return 0
