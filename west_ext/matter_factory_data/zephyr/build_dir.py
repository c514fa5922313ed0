"""West build directories: find one, follow sysbuild to the default image, read its outputs.

Follows ``west build`` conventions: the ``-d`` value, else ``build/`` under the current
directory, else the current directory itself when it is a Zephyr build (its
``CMakeCache.txt`` names ``ZEPHYR_BASE``). Under sysbuild, ``domains.yaml`` names the
default domain, whose build directory holds ``zephyr/.config`` and the factory data.
Every error is one line naming the paths that were tried.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

from ..errors import OPT, InputError

PathLike = Union[str, Path]

#: Where the nRF Connect factory data build step writes its hex, relative to the app build:
#: ``zephyr/`` with Partition Manager, ``matter_factory_data/zephyr/`` without it.
FACTORY_DATA_HEX = (Path("zephyr", "factory_data.hex"),
                    Path("matter_factory_data", "zephyr", "factory_data.hex"))

#: Written by the CMake module at configure time, relative to the app build:
#: ``{"argv": [<the build-step arguments>]}`` (read by ``generate -d`` and ``merge``).
STEP_FILE = Path("zephyr", "factory_data_step.json")

#: Families as nrfjprog spells them (``-f``), plus NRF54L which only nrfutil programs.
FAMILIES = ("NRF52", "NRF53", "NRF54L", "NRF91")

_SERIES_SYMBOLS = {
    "CONFIG_SOC_SERIES_NRF52X": "NRF52",
    "CONFIG_SOC_SERIES_NRF53X": "NRF53",
    "CONFIG_SOC_SERIES_NRF91X": "NRF91",
    "CONFIG_SOC_SERIES_NRF54LX": "NRF54L",
}
_SOC_PREFIXES = (("nrf52", "NRF52"), ("nrf53", "NRF53"), ("nrf91", "NRF91"),
                 ("nrf54l", "NRF54L"))


def is_zephyr_build(path: PathLike) -> bool:
    """True when ``path/CMakeCache.txt`` mentions ZEPHYR_BASE (app or sysbuild top dir)."""
    cache = Path(path) / "CMakeCache.txt"
    try:
        text = cache.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^(ZEPHYR_BASE|ZEPHYR_TOOLCHAIN_VARIANT)[:=]", text, re.M) is not None


def find_build_dir(given: Optional[PathLike], cwd: Optional[PathLike] = None,
                   hint: str = f"give -d BUILD_DIR or {OPT.hex} FILE") -> Path:
    """The build directory ``west build`` would use: ``given``, ``build/``, or cwd."""
    if given is not None:
        path = Path(given)
        if not path.is_dir():
            raise InputError(f"build directory {path} does not exist")
        return path
    here = Path(cwd) if cwd is not None else Path(".")
    default = here / "build"
    for candidate in (default, here):
        if is_zephyr_build(candidate):
            return candidate
    raise InputError(f"no Zephyr build directory found (tried {default} and {here}: no "
                     f"CMakeCache.txt naming ZEPHYR_BASE); {hint}")


def app_build_dir(build_dir: PathLike) -> Path:
    """The default image's build dir under sysbuild (``domains.yaml``), else ``build_dir``."""
    import yaml

    build_dir = Path(build_dir)
    domains_file = build_dir / "domains.yaml"
    if not domains_file.is_file():
        return build_dir
    try:
        domains = yaml.safe_load(domains_file.read_text(encoding="utf-8")) or {}
        default = str(domains["default"])
        recorded = {str(d["name"]): d.get("build_dir") for d in domains.get("domains") or []}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError,
            AttributeError) as exc:
        raise InputError(f"{domains_file}: not a sysbuild domains file ({exc}); rebuild "
                         f"or give {OPT.hex} FILE") from None
    # The recorded path is absolute and goes stale when the build dir is moved or copied.
    tried = [Path(p) for p in (recorded.get(default),) if p] + [build_dir / default]
    for candidate in tried:
        if candidate.is_dir():
            return candidate
    raise InputError(f"{domains_file}: the build directory of default domain '{default}' "
                     f"is missing (tried {', '.join(map(str, tried))})")


def factory_data_hex(app_dir: PathLike, hint: str = f"give {OPT.hex} FILE") -> Path:
    """``<app build>/zephyr/factory_data.hex`` (or the non-PM location)."""
    tried = [Path(app_dir) / rel for rel in FACTORY_DATA_HEX]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise InputError(f"no factory data hex in the build (tried {', '.join(map(str, tried))}); "
                     "build with factory data generation enabled "
                     "(SB_CONFIG_MATTER_FACTORY_DATA_GENERATE / "
                     f"CONFIG_CHIP_FACTORY_DATA_BUILD) or {hint}")


def build_dotconfig(app_dir: PathLike) -> Path:
    """``<app build>/zephyr/.config``; refused when the build was never configured."""
    path = Path(app_dir) / "zephyr" / ".config"
    if not path.is_file():
        raise InputError(f"{path}: no such file; the build was never configured (run "
                         "west build first)")
    return path


def step_arguments(app_dir: PathLike) -> list[str]:
    """The build-step arguments CMake recorded in ``<app build>/zephyr/factory_data_step.json``."""

    path = Path(app_dir) / STEP_FILE
    if not path.is_file():
        raise InputError(f"{path}: not found: the build was not configured with "
                         "CONFIG_CHIP_FACTORY_DATA_BUILD=y (or by an older matter-factory-data "
                         "module); set it in prj.conf, or run `menuconfig -d` or "
                         "`west build -- -DCONFIG_CHIP_FACTORY_DATA_BUILD=y`, then build again")
    from ..files.inputs import parse_json

    try:
        recorded = parse_json(path.read_bytes(), str(path))
    except OSError as exc:
        raise InputError(f"{path}: not a factory data step file ({exc}); reconfigure the "
                         "build (west build --cmake-only)") from None
    except InputError as exc:  # not JSON, a key twice, text that cannot be UTF-8, ...
        detail = str(exc).removeprefix(f"{path}: ")
        raise InputError(f"{path}: not a factory data step file ({detail}); reconfigure the "
                         "build (west build --cmake-only)") from None
    argv = recorded.get("argv") if isinstance(recorded, dict) else None
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise InputError(f"{path}: not a factory data step file (no 'argv' list of strings); "
                         "reconfigure the build (west build --cmake-only)")
    return argv


def cache_kconfig_names(build_dir: PathLike, image: str = "") -> set[str]:
    """Names of the sticky ``CONFIG_*`` entries (from ``-DCONFIG_X=...``) in a CMakeCache.txt;
    with ``image``, also a sysbuild cache's ``<image>_CONFIG_X``, reported as ``CONFIG_X``."""
    try:
        text = (Path(build_dir) / "CMakeCache.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    prefix = f"(?:{re.escape(image)}_)?" if image else ""
    return set(re.findall(rf"^{prefix}(CONFIG_[A-Za-z0-9_]+)(?::[A-Z]+)?=", text, re.M))


_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def parse_dotconfig(text: str, source: str = ".config") -> dict[str, str]:
    """``CONFIG_X=y``, ``CONFIG_X="str"`` (\\" and \\\\ escapes), ``# CONFIG_X is not set`` -> n."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        unset = _UNSET.match(line)
        if unset:
            values[unset.group(1)] = "n"
            continue
        match = _SET.match(line)
        if not match:
            continue
        name, value = match.groups()
        if value.startswith('"'):
            value = _unquote(value, f"{source}:{number}: {name}")
        values[name] = value
    return values


def _unquote(value: str, where: str) -> str:
    out, i = [], 1
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if char == '"':
            if value[i + 1:].strip():
                raise InputError(f"{where}: text after the closing quote")
            return "".join(out)
        out.append(char)
        i += 1
    raise InputError(f"{where}: unterminated string (missing closing quote)")


def read_kconfig(path: PathLike, option: str = ".config") -> dict[str, str]:
    """The symbols of a ``.config`` file (see :func:`parse_dotconfig`)."""
    try:
        # bytes that are not UTF-8 stay visible (surrogate escapes): a text symbol holding one
        # is refused by the same check as `menuconfig --set` (validate.control_problem)
        text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read the file ({exc.strerror or exc})") \
            from None
    return parse_dotconfig(text, str(path))


def soc_family(config: dict[str, str]) -> Optional[str]:
    """NRF52 / NRF53 / NRF91 / NRF54L from the SoC series symbol or CONFIG_SOC, else None."""
    for symbol, family in _SERIES_SYMBOLS.items():
        if config.get(symbol) == "y":
            return family
    soc = config.get("CONFIG_SOC", "").lower()
    for prefix, family in _SOC_PREFIXES:
        if soc.startswith(prefix):
            return family
    return None


def build_family(app_dir: PathLike) -> str:
    """The SoC family of an app build, from ``<app build>/zephyr/.config``."""
    dotconfig = Path(app_dir) / "zephyr" / ".config"
    family = soc_family(read_kconfig(dotconfig))
    if family is None:
        raise InputError(f"{dotconfig}: no nRF SoC series found (CONFIG_SOC_SERIES_NRF*X or "
                         f"CONFIG_SOC); give {OPT.family} ({', '.join(FAMILIES)})")
    return family
