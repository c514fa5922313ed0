"""``menuconfig``: edit the factory data Kconfig symbols with kconfiglib's menuconfig (or --set).

Two targets:

* a west build directory (``-d``, or the one ``west build`` would find): the build's
  ``zephyr/.config`` (sysbuild: the default image's) is loaded into this package's Kconfig,
  and after editing only the factory data symbols whose line changed are written back; every
  other line of ``.config`` stays byte for byte, as kconfiglib would otherwise drop the
  thousands of symbols it does not know. The next ``west build`` applies the change, as
  after ``west build -t menuconfig`` (except for values given with ``-DCONFIG_...``, which
  stay in CMakeCache.txt and override ``.config``: those get a warning);
* a ``.conf`` fragment (``--conf FILE``, default ``factory_data.conf`` outside a build
  directory) holding only factory data symbols, and only those that differ from the Kconfig
  defaults (kconfiglib's minimal configuration), for ``west build -- -DEXTRA_CONF_FILE=FILE``.

The interactive part is a callable ``edit(kconf) -> bool`` (True: keep the edited values),
so tests drive the command without a terminal; :func:`terminal_edit` runs the curses UI.
The top-level ``menuconfig`` module imported there is kconfiglib's, not this one.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import io
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

from ..errors import OPT, InputError, option_name
from ..typed import Request
from . import build_dir

DEFAULT_CONF = "factory_data.conf"
_HERE = Path(__file__).resolve().parents[1]  # the package directory
#: Where this package's Kconfig is: the repository checkout (also an editable install), then
#: package data of a wheel (``matter_factory_data/data/Kconfig``).
KCONFIG_CANDIDATES = (_HERE.parents[1] / "kconfig" / "Kconfig", _HERE / "data" / "Kconfig")

FRAGMENT_HEADER = """\
# Matter factory data symbols that differ from the Kconfig defaults, written by
# `matter-factory-data menuconfig`. Use it with:
#   west build -b <board> <app> -- -DEXTRA_CONF_FILE=<this file>
"""

Editor = Callable[[object], bool]


class Target(NamedTuple):
    build: Optional[Path]  # the build directory (None: a .conf fragment)
    app: Optional[Path]  # its default image's build directory
    file: Path  # the .config or the fragment


class Loaded(NamedTuple):
    kconf: Any  # kconfiglib.Kconfig (untyped)
    ours: list[str]  # the factory data symbols, in Kconfig order


# --- finding things --------------------------------------------------------------------

def kconfig_path(given: Optional[str] = None) -> Path:
    if given:
        if not Path(given).is_file():
            raise InputError(f"{OPT.kconfig} {given}: no such file")
        return Path(given)
    for candidate in KCONFIG_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise InputError("the factory data Kconfig is not installed (tried "
                     f"{', '.join(map(str, KCONFIG_CANDIDATES))}); give {OPT.kconfig} "
                     "<module>/kconfig/Kconfig")


class MenuconfigRequest(Request):
    """``menuconfig``: a build's .config or a .conf fragment; ``set`` skips the UI."""

    build_dir: Optional[str] = None
    conf: Optional[str] = None
    set: list = []
    kconfig: Optional[str] = None


def locate(args: MenuconfigRequest) -> Target:
    """-d: that build; --conf: that fragment; neither: a build if one is found, else
    factory_data.conf."""
    if args.conf:
        return Target(None, None, Path(args.conf))
    if args.build_dir is not None:
        build = build_dir.find_build_dir(args.build_dir or None,
                                         hint=f"give -d BUILD_DIR or {OPT.conf} FILE")
    else:
        try:
            build = build_dir.find_build_dir(None)
        except InputError:
            return Target(None, None, Path(DEFAULT_CONF))
    app = build_dir.app_build_dir(build)
    return Target(build, app, build_dir.build_dotconfig(app))


# --- loading the Kconfig ----------------------------------------------------------------

def load_kconfig(kconfig: Path, title: str, config_values: Optional[dict] = None) -> Loaded:
    """This package's Kconfig. Symbols it only references (``SOC_SERIES_NRF54LX``) are
    defined as invisible stubs set as in ``config_values`` (a build's .config), so what
    the UI shows depends on the build as in ``west build -t menuconfig``."""
    import kconfiglib

    kconfig = kconfig.resolve()  # kconfiglib takes a relative path relative to $srctree
    try:
        plain = kconfiglib.Kconfig(str(kconfig), warn_to_stderr=False)
    except (kconfiglib.KconfigError, OSError, UnicodeError) as exc:
        raise InputError(f"{OPT.kconfig} {kconfig}: not a Kconfig file kconfiglib can read "
                         f"({_first_line(exc)})") from None
    ours = [sym.name for sym in plain.unique_defined_syms]
    values = config_values or {}
    stubs = sorted(name for name, sym in plain.syms.items()
                   if not sym.nodes and values.get(f"CONFIG_{name}") == "y")
    with tempfile.TemporaryDirectory(prefix="mfd-kconfig-") as tmp:
        wrapper = Path(tmp) / "Kconfig"
        text = f'mainmenu "{_kconfig_quote(title)}"\n\n'
        text += "".join(f"config {name}\n\tbool\n\tdefault y\n\n" for name in stubs)
        text += f'source "{_kconfig_quote(str(kconfig))}"\n'
        wrapper.write_text(text, encoding="utf-8")
        kconf = _recording_kconfig()(str(wrapper), warn_to_stderr=False)
    return Loaded(kconf, ours)


@functools.cache
def _recording_kconfig():
    """kconfiglib.Kconfig that also lists in ``saved_to`` where it wrote its configuration
    (menuconfig saves through ``write_config``; the base class has no instance dict)."""
    import kconfiglib

    class RecordingKconfig(kconfiglib.Kconfig):
        def __init__(self, *args, **kwargs) -> None:
            self.saved_to: list[str] = []
            super().__init__(*args, **kwargs)

        def write_config(self, filename=None, *args, **kwargs):
            message = super().write_config(filename, *args, **kwargs)
            self.saved_to.append(filename or kconfiglib.standard_config_filename())
            return message

    return RecordingKconfig


def _kconfig_quote(text: str) -> str:
    """A Kconfig string literal's body: backslash and quote escaped, and characters a Kconfig
    line cannot hold (a newline in a file name) shown as ``?``."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def load_values(loaded: Loaded, path: Path, ui, only_ours: bool) -> None:
    """``load_config`` with kconfiglib's warnings forwarded (with ``only_ours``, just those
    naming a factory data symbol: a build's .config holds thousands of other symbols)."""
    kconf = loaded.kconf
    kconf.warnings.clear()
    kconf.load_config(str(path))
    names = re.compile(r"\b(" + "|".join(map(re.escape, loaded.ours)) + r")\b")
    for warning in kconf.warnings:
        if not only_ours or names.search(warning):
            where, _, text = warning.partition("warning: ")
            ui.warn(f"{where.rstrip(': ') or path}: {text.strip()}")
    kconf.warnings.clear()


def snapshot(loaded: Loaded) -> dict[str, str]:
    """The ``.config`` line (``config_string``) of every factory data symbol."""
    return {name: loaded.kconf.syms[name].config_string for name in loaded.ours}


# --- --set --------------------------------------------------------------------------------

def settable(loaded: Loaded) -> list[str]:
    return [name for name in loaded.ours
            if any(node.prompt for node in loaded.kconf.syms[name].nodes)]


#: Symbols whose value is not printed (the passcode is printed only when asked).
SECRET_SYMBOLS = frozenset({"CHIP_DEVICE_SPAKE2_PASSCODE"})


def shown_assignment(text: str) -> str:
    """``--set`` text for a message: the value of a secret symbol is masked."""
    name, sep, value = text.partition("=")
    bare = name.strip()[len("CONFIG_"):] if name.strip().startswith("CONFIG_") else name.strip()
    return f"{name}=(not shown)" if sep and bare in SECRET_SYMBOLS else text


def parse_assignment(text: str, loaded: Loaded):
    """``SYMBOL=VALUE`` (``CONFIG_`` optional) -> the symbol and the value as given."""
    from ..core.validate import control_problem

    problem = control_problem(text)
    if problem:
        problem = problem.replace("printable text", "one line of printable text")
        raise InputError(f"{OPT.set} {shown_assignment(text)!r}: {problem}")
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InputError(f"{OPT.set} {text}: expected SYMBOL=VALUE (e.g. "
                         "CHIP_DEVICE_DISCRIMINATOR=0xF01)")
    if name.startswith("CONFIG_"):
        name = name[len("CONFIG_"):]
    names = settable(loaded)
    if name not in names:
        if name in loaded.ours:
            sym = loaded.kconf.syms[name]
            raise InputError(f"{OPT.set} {text}: {name} has no prompt and cannot be set (it is "
                             f"{sym.str_value or 'computed'})")
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]}?" if close else f"accepted: {', '.join(names)}"
        raise InputError(f"{OPT.set} {text}: {name} is not a factory data symbol ({hint})")
    return loaded.kconf.syms[name], value


def normalize(sym, value: str, text: str) -> str:
    """The value in kconfiglib's spelling; refuses one of the wrong type."""
    import kconfiglib

    kind = sym.orig_type
    if kind == kconfiglib.BOOL:
        if value.strip().lower() not in ("y", "n"):
            raise InputError(f"{OPT.set} {text}: {sym.name} is a bool (accepted: y or n)")
        return value.strip().lower()
    if kind in (kconfiglib.INT, kconfiglib.HEX):
        try:
            number = int(value, 0) if kind == kconfiglib.INT else int(value, 16)
        except ValueError:
            what = "an integer (decimal or 0x..)" if kind == kconfiglib.INT \
                else "a hex number (0x.. or bare hex digits)"
            raise InputError(f"{OPT.set} {shown_assignment(text)}: {sym.name} is {_type_name(sym)} "
                             "(accepted: "
                             f"{what}{_range_text(sym, ' in ')})") from None
        return str(number) if kind == kconfiglib.INT else f"0x{number:x}"
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _type_name(sym) -> str:
    import kconfiglib

    return {kconfiglib.INT: "an int", kconfiglib.HEX: "a hex"}.get(sym.orig_type, "a string")


def _active_range(sym):
    import kconfiglib

    for low, high, cond in sym.ranges:
        if kconfiglib.expr_value(cond):
            return low.str_value, high.str_value
    return None


def _range_text(sym, prefix: str) -> str:
    found = _active_range(sym)
    return f"{prefix}{found[0]}..{found[1]}" if found else ""


def _same(sym, wanted: str) -> bool:
    import kconfiglib

    if sym.orig_type == kconfiglib.INT:
        return sym.str_value == wanted
    if sym.orig_type == kconfiglib.HEX:
        return bool(sym.str_value) and int(sym.str_value, 16) == int(wanted, 16)
    return sym.str_value == wanted


def why_not_applied(sym, value: str, text: str) -> str:
    import kconfiglib

    if sym.choice is not None and value == "n":
        others = [s.name for s in sym.choice.syms if s is not sym]
        return (f"{OPT.set} {text}: {sym.name} is part of the choice {sym.choice.name}: select "
                f"another of it instead ({' or '.join(f'{o}=y' for o in others)})")
    item = sym.choice if sym.choice is not None else sym
    if not item.visibility:
        return (f"{OPT.set} {text}: not applied: {sym.name} depends on "
                f"{kconfiglib.expr_str(item.direct_dep)}, which is not met (set that too)")
    if sym.orig_type in (kconfiglib.INT, kconfiglib.HEX) and _active_range(sym):
        return (f"{OPT.set} {shown_assignment(text)}: {sym.name} is out of range "
                f"(accepted: {_range_text(sym, '')})")
    return (f"{OPT.set} {shown_assignment(text)}: not applied: {sym.name} stays "
            f"{'(not shown)' if sym.name in SECRET_SYMBOLS else sym.str_value} (select or imply)")


def apply_assignments(loaded: Loaded, assignments: list[str]) -> None:
    """Set every value, then check each took effect (so the order of --set does not matter)."""
    requested = []
    for text in assignments:
        sym, value = parse_assignment(text, loaded)
        value = normalize(sym, value, text)
        if not sym.set_value(value):
            raise InputError(f"{OPT.set} {shown_assignment(text)}: {sym.name} refuses "
                             f"{'the value' if sym.name in SECRET_SYMBOLS else repr(value)} "
                             f"({loaded.kconf.warnings[-1] if loaded.kconf.warnings else ''})")
        requested.append((text, sym, value))
    for text, sym, value in requested:
        if not _same(sym, value):
            raise InputError(why_not_applied(sym, value, text))


# --- the interactive UI --------------------------------------------------------------

def require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("menuconfig needs a terminal (stdin and stdout are not both one); "
                         f"set values without the UI with {OPT.set} SYMBOL=VALUE")
    try:
        import curses  # noqa: F401
    except ImportError:
        raise InputError("the menuconfig UI needs Python's curses module (on Windows: pip "
                         f"install windows-curses); or use {OPT.set} SYMBOL=VALUE") from None


def terminal_edit(kconf) -> bool:
    """kconfiglib's curses menuconfig on ``kconf``. Its save writes a scratch file; after it
    exits, ``kconf`` holds what was last saved (True), or nothing was saved (False)."""
    import menuconfig as kconfiglib_menuconfig  # kconfiglib's top-level module

    with tempfile.TemporaryDirectory(prefix="mfd-menuconfig-") as tmp:
        start = os.path.join(tmp, "factory_data.config")
        kconf.write_config(start)
        kconf.saved_to.clear()
        previous = os.environ.get("KCONFIG_CONFIG")
        os.environ["KCONFIG_CONFIG"] = start  # what menuconfig loads and saves to
        try:
            # Its own messages name the scratch file: ours say where the values went.
            with contextlib.redirect_stdout(io.StringIO()):
                kconfiglib_menuconfig.menuconfig(kconf)
        finally:
            if previous is None:
                os.environ.pop("KCONFIG_CONFIG", None)
            else:
                os.environ["KCONFIG_CONFIG"] = previous
        if kconf.saved_to:
            kconf.load_config(kconf.saved_to[-1])
    return bool(kconf.saved_to)


# --- writing -------------------------------------------------------------------------

def rewrite_dotconfig(text: str, lines: dict[str, str]) -> str:
    """``text`` with the line of each symbol in ``lines`` replaced by its new line ("" removes
    it); symbols without a line are appended. Every other line is kept as it was."""
    pattern = re.compile(r"^(?:CONFIG_([A-Za-z0-9_]+)=|# CONFIG_([A-Za-z0-9_]+) is not set\s*$)")
    out, done = [], set()
    for line in text.splitlines(keepends=True):
        match = pattern.match(line)
        name = match and (match.group(1) or match.group(2))
        if name in lines:
            if name not in done:
                out.append(lines[name])
                done.add(name)
            continue
        out.append(line)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out += [lines[name] for name in lines if name not in done]
    return "".join(out)


def _shown(line: str) -> str:
    if not line:
        return "(no value)"
    if line.startswith("#"):
        return "n"
    return line.split("=", 1)[1].rstrip("\n")


def describe_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [f"CONFIG_{name}: changed (value not shown)" if name in SECRET_SYMBOLS else
            f"CONFIG_{name}: {_shown(before[name])} -> {_shown(after[name])}"
            for name in before if before[name] != after[name]]


def check_like_the_build(loaded: Loaded, config_values: Optional[dict] = None) -> None:
    """Refuse values the next ``west build`` would refuse (build_step.check_values)."""
    from .build_step import check_values

    values = dict(config_values or {})
    for name in loaded.ours:  # what .config will hold: symbols with unmet dependencies vanish
        sym = loaded.kconf.syms[name]
        values.pop(f"CONFIG_{name}", None)
        if sym.config_string:
            values[f"CONFIG_{name}"] = sym.str_value
    try:
        check_values(values)
    except InputError as exc:
        raise InputError(f"not saved: {exc.render(_masked_vocabulary(exc))}") from None


def _masked_vocabulary(exc):
    """The build's vocabulary (symbol=value), but the passcode's symbol without its value."""
    base = exc.vocabulary

    def name(subject: str) -> str:
        if subject == "passcode":
            return "CONFIG_CHIP_DEVICE_SPAKE2_PASSCODE"
        return base(subject) if base else option_name(subject)

    return name


def holds_passcode(loaded: Loaded) -> bool:
    """Whether the passcode differs from its (public, development) default."""
    sym = loaded.kconf.syms.get("CHIP_DEVICE_SPAKE2_PASSCODE")
    return sym is not None and sym.user_value is not None


def edit_build(target: Target, loaded_for, apply, ui) -> int:
    from ..files.outputs import OutputSet

    raw = target.file.read_bytes()
    text = raw.decode("utf-8", "surrogateescape")
    loaded = loaded_for(build_dir.parse_dotconfig(text, str(target.file)))
    load_values(loaded, target.file, ui, only_ours=True)
    before = snapshot(loaded)
    if not apply(loaded):
        ui.info(f"nothing saved; {target.file} left as it was")
        return 0
    after = snapshot(loaded)
    changed = {name: after[name] for name in before if before[name] != after[name]}
    if not changed:
        ui.info(f"no factory data symbol changed; {target.file} left as it was")
        return 0
    check_like_the_build(loaded, build_dir.parse_dotconfig(text, str(target.file)))
    outputs = OutputSet(overwrite=True)
    outputs.add(target.file, rewrite_dotconfig(text, changed).encode("utf-8", "surrogateescape"),
                what="build configuration", secret=_is_private(target.file) or
                "CHIP_DEVICE_SPAKE2_PASSCODE" in changed)
    outputs.commit()
    for line in describe_changes(before, after):
        ui.info(f"{target.file}: {line}")
    _warn_sticky(target, changed, ui)
    ui.info(f"the next `west build -d {target.build}` applies it")
    return 0


def _warn_sticky(target: Target, changed: dict, ui) -> None:
    assert target.app is not None and target.build is not None  # a build, not a fragment
    sticky = build_dir.cache_kconfig_names(target.app)
    if target.build != target.app:
        sticky |= build_dir.cache_kconfig_names(target.build, image=target.app.name)
    for name in changed:
        if f"CONFIG_{name}" in sticky:
            ui.warn(f"CONFIG_{name} was given on the CMake command line (-DCONFIG_{name}, kept "
                    "in CMakeCache.txt) and that value overrides .config: change it with "
                    f"`west build -d {target.build} -- -DCONFIG_{name}=...` instead")


def edit_fragment(target: Target, loaded_for, apply, ui) -> int:
    from ..files.outputs import OutputSet

    loaded = loaded_for(None)
    existing = None
    if target.file.exists() or target.file.is_symlink():
        existing = read_fragment(target.file)
        foreign = [n for n in existing if n[len("CONFIG_"):] not in loaded.ours]
        if foreign:
            raise InputError(f"{OPT.conf} {target.file}: holds {foreign[0]}, not a factory data "
                             "symbol; this command rewrites the file with factory data symbols "
                             "only: give a separate file")
        load_values(loaded, target.file, ui, only_ours=False)
    before = minimal_config(loaded.kconf)
    if not apply(loaded):
        state = "left as it was" if existing is not None else "not written"
        ui.info(f"nothing saved; {target.file} {state}")
        return 0
    check_like_the_build(loaded)
    text = minimal_config(loaded.kconf)
    data = text.encode("utf-8")
    secret = holds_passcode(loaded)
    if existing is not None and target.file.read_bytes() == data and \
            (not secret or _is_private(target.file)):
        ui.info(f"{target.file} unchanged")
        return 0
    outputs = OutputSet(overwrite=True)
    # 0600 when it holds a passcode (one other than the public development default)
    outputs.add(target.file, data, what="factory data .conf fragment", secret=secret)
    outputs.commit()
    old, new = fragment_entries(before), fragment_entries(text)
    for name in [*new, *(n for n in old if n not in new)]:
        if old.get(name) != new.get(name):
            ui.info(f"{target.file}: CONFIG_{name}: changed (value not shown)"
                    if name in SECRET_SYMBOLS else
                    f"{target.file}: CONFIG_{name}: {old.get(name, 'default')} -> "
                    f"{new.get(name, 'default')}")
    differ = "1 symbol differs" if len(new) == 1 else f"{len(new)} symbols differ"
    ui.info(f"wrote {target.file} ({differ} from the defaults); use it with: "
            "west build -b <board> <app> -- "
            f"-DEXTRA_CONF_FILE={target.file.resolve()}")
    return 0


def _is_private(path: Path) -> bool:
    try:
        return path.stat().st_mode & 0o077 == 0
    except OSError:
        return False


def read_fragment(path: Path) -> dict:
    """The symbols of an existing .conf fragment; a file that is not one (another kind of
    file, a line that is neither an assignment, a comment nor blank) is refused, so it is
    never overwritten."""
    from ..files.inputs import read_file

    raw = read_file(path, str(OPT.conf), limit=1024 * 1024)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{OPT.conf} {path}: not a Kconfig fragment (not UTF-8 text); give a "
                         ".conf file of CONFIG_... lines or a new file name") from None
    assignment = re.compile(r"CONFIG_[A-Za-z0-9_]+=.*|# CONFIG_[A-Za-z0-9_]+ is not set")
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r").strip()
        if line and not line.startswith("#") and not assignment.fullmatch(line):
            raise InputError(f"{OPT.conf} {path}:{number}: not a Kconfig fragment (expected "
                             "CONFIG_NAME=value, a # comment or a blank line); give a .conf "
                             "file or a new file name")
    return build_dir.parse_dotconfig(text, str(path))


def fragment_entries(text: str) -> dict[str, str]:
    """``{name: value as written}`` of the assignments in a .conf text (``n`` for not set)."""
    entries = {}
    for line in text.splitlines():
        match = re.match(r"CONFIG_([A-Za-z0-9_]+)=(.*)$|# CONFIG_([A-Za-z0-9_]+) is not set$",
                         line)
        if match:
            entries[match.group(1) or match.group(3)] = match.group(2) or "n"
    return entries


def minimal_config(kconf) -> str:
    """kconfiglib's minimal configuration (values that differ from the defaults)."""
    with tempfile.TemporaryDirectory(prefix="mfd-conf-") as tmp:
        path = os.path.join(tmp, "min.conf")
        kconf.write_min_config(path, header=FRAGMENT_HEADER)
        return Path(path).read_text(encoding="utf-8")


# --- the command ---------------------------------------------------------------------

def menuconfig_command(args: MenuconfigRequest, ui, edit: Optional[Editor] = None) -> int:
    """Edit with ``edit`` (default: the curses UI, which needs a terminal) or, with --set,
    without any UI."""
    target = locate(args)
    if not args.set and edit is None:
        require_terminal()
        edit = terminal_edit
    kconfig = kconfig_path(args.kconfig)

    def loaded_for(values):
        return load_kconfig(kconfig, f"Matter factory data: {target.file}", values)

    def apply(loaded: Loaded) -> bool:
        if args.set:
            apply_assignments(loaded, args.set)
            return True
        assert edit is not None  # the terminal UI unless --set
        return edit(loaded.kconf)

    if target.build is not None:
        return edit_build(target, loaded_for, apply, ui)
    return edit_fragment(target, loaded_for, apply, ui)
