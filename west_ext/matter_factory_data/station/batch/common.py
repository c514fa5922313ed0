"""The common values of a series: options, over --fields JSON, over a west build (-d), over
--defaults; generate's per-device options are refused."""

from __future__ import annotations

import json

from ...errors import OPT, InputError, Subject, option_name

#: generate options that are per device in a batch, and where such values come from.
PER_DEVICE_OPTIONS = {
    "sn": f"{OPT.sn_template} or a {OPT.csv} column 'sn'",
    "passcode": f"a {OPT.csv} column 'passcode' (by default each device gets a random one)",
    "spake2_verifier": "nothing: each device's verifier is derived from its passcode",
    "spake2_salt": f"a {OPT.csv} column 'spake2_salt' (by default each device gets a random one)",
    "rd_uid": f"a {OPT.csv} column 'rd_uid' (by default each device gets a random one)",
    "dac_cert": f"nothing: each device gets its own DAC, signed by {OPT.pai_cert}/{OPT.pai_key}",
    "dac_key": "nothing: each device gets its own DAC key",
}


#: Common values (the option names of generate) and their typed parsing.
COMMON_OPTIONS = ("vendor_id", "product_id", "vendor_name", "product_name", "date", "hw_ver",
                  "hw_ver_str", "sw_ver_str", "spake2_it", "product_url", "product_label",
                  "part_number",
                  "enable_key", "user", "product_finish", "product_color", "offset", "size")


REQUIRED_COMMON = ("vendor_id", "product_id", "vendor_name", "product_name", "date", "hw_ver",
                   "hw_ver_str", "spake2_it")


def common_values(args) -> tuple[dict, tuple[int, int]]:
    """The typed common values: options, over --fields JSON, over a build, over --defaults.
    A bad value is named where it came from: the option, the JSON key of --fields, or the
    build's Kconfig symbol."""
    from ...errors import FactoryDataError

    given = {name: getattr(args, name, None) for name in COMMON_OPTIONS}
    origin = {name: option_name for name in given if given[name] is not None}
    layers = []
    if getattr(args, "fields", None) is not None:
        layers.append((_fields_file(args.fields), _json_key_namer(args.fields)))
    if getattr(args, "build_dir", None) is not None:
        layers.append(build_dir_values(args.build_dir))
    for values, namer in layers:
        for name, value in values.items():
            if given.get(name) is None and value is not None:
                given[name], origin[name] = value, namer
    if args.defaults:
        from ...jobs.commands import DEVELOPMENT_DEFAULTS

        for name in COMMON_OPTIONS:
            if given.get(name) is None and name in DEVELOPMENT_DEFAULTS:
                given[name] = DEVELOPMENT_DEFAULTS[name]
    try:
        return _typed_common(given)
    except FactoryDataError as exc:
        raise exc.in_vocabulary(lambda name: origin.get(name, option_name)(name)) from None


def _json_key_namer(path: str):
    return lambda name: f"{OPT.fields} {path}: key {name!r}"


def _typed_common(given: dict) -> tuple[dict, tuple[int, int]]:
    from ...core import validate
    from ...core.model import COLOR_ALIASES, PRODUCT_COLORS, PRODUCT_FINISHES
    from ...jobs.pipeline import enum_value, sized_hex, user_data

    missing = [n for n in REQUIRED_COMMON + ("offset", "size") if given.get(n) is None]
    if missing:
        raise InputError.naming(
            "missing required option(s): " + ", ".join(f"{{{i}}}" for i in range(len(missing)))
            + f" (or {OPT.defaults} for development values)", *missing)
    common = {name: given[name] for name in REQUIRED_COMMON}
    common["date"] = validate.normalize_date(str(given["date"]), Subject("date"))
    for name in ("product_url", "product_label", "part_number", "sw_ver_str"):
        if given[name] not in (None, ""):
            common[name] = given[name]
    for name, value in common.items():
        validate.require(name, value, Subject(name))
    common["enable_key"] = sized_hex(given["enable_key"], "enable_key", Subject("enable_key"))
    common["user"] = user_data(given["user"]) if isinstance(given["user"], (str, type(None))) \
        else user_data(json.dumps(given["user"]))
    common["product_finish"] = enum_value(given["product_finish"], PRODUCT_FINISHES, {},
                                          Subject("product_finish"))
    common["primary_color"] = enum_value(given["product_color"], PRODUCT_COLORS, COLOR_ALIASES,
                                         Subject("product_color"))
    return common, validate.require_partition(given["offset"], given["size"])


def build_dir_values(given: str):
    """The common values of a west build -- its Kconfig symbols and its factory_data
    partition, from the build-step arguments its CMake recorded -- and how to name them."""
    from ...zephyr import build_dir
    from ...zephyr.build_step import OPTION_TO_SYMBOL, Kconfig, kconfig_vocabulary
    from ...zephyr.partition_sources import resolve_partition
    from ...zephyr.step_request import recorded

    app = build_dir.app_build_dir(build_dir.find_build_dir(given or None,
                                                           hint="give -d BUILD_DIR"))
    step = recorded(app)
    config = Kconfig(build_dir.read_kconfig(step.dotconfig, str(OPT.dotconfig)))
    values: dict = {}
    for option in ("vendor_id", "product_id", "hw_ver", "spake2_it"):
        values[option] = config.integer(OPTION_TO_SYMBOL[option])
    for option in ("vendor_name", "product_name", "date", "hw_ver_str", "sw_ver_str", "enable_key",
                   "product_finish", "product_color"):
        values[option] = config.string(OPTION_TO_SYMBOL[option]) or None
    source, _ = resolve_partition(step)
    values["offset"], values["size"] = source.address, source.size
    return values, kconfig_vocabulary(config, source)


_INT_FIELDS = ("vendor_id", "product_id", "hw_ver", "spake2_it", "offset", "size")


def _fields_file(path: str) -> dict:
    """``--fields FILE``: a JSON object of common values keyed by option name."""
    from ...core import validate
    from ...files.inputs import parse_json, read_file

    obj = parse_json(read_file(path, OPT.fields), f"{OPT.fields} {path}")
    if not isinstance(obj, dict):
        raise InputError(f"{OPT.fields} {path}: must be a JSON object keyed by option name")
    for key, value in obj.items():
        if key in PER_DEVICE_OPTIONS:
            raise InputError(f"{OPT.fields} {path}: key {key!r} is per device; use "
                             f"{PER_DEVICE_OPTIONS[key]}")
        if key not in COMMON_OPTIONS:
            raise InputError(f"{OPT.fields} {path}: unknown key {key!r} (accepted: "
                             f"{', '.join(COMMON_OPTIONS)})")
        if key in _INT_FIELDS and isinstance(value, str):
            obj[key] = validate.parse_int(value, f"{OPT.fields} {path}: key {key!r}")
        elif key in _INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(f"{OPT.fields} {path}: key {key!r}: {validate.shown(value)} is not an "
                             "integer (accepted: a JSON integer or a text such as \"0xFFF1\")")
        elif key not in _INT_FIELDS and key != "user" and value is not None \
                and not isinstance(value, str):
            raise InputError(f"{OPT.fields} {path}: key {key!r}: {validate.shown(value)} is not "
                             "text (accepted: a JSON string)")
    return obj


def jsonable(values: dict) -> dict:
    return {k: (v.hex() if isinstance(v, (bytes, bytearray)) else v) for k, v in values.items()}


#: Most worker processes of a batch or of `verify DIR` (each holds a copy of the series' keys
#: and templates).
MAX_JOBS = 256


def check_jobs(jobs: int | None) -> None:
    """``--jobs``: 1..MAX_JOBS worker processes (None: one per CPU)."""
    from ...errors import InputError, Subject

    if jobs is not None and not 1 <= jobs <= MAX_JOBS:
        raise InputError.at(Subject("jobs"), f"{jobs} is not accepted (accepted: "
                                             f"1..{MAX_JOBS} worker processes)")
