"""The build step's options, as CMake writes them: the one table the CLI's ``build-step``
parser and the recorded-step reader (:mod:`.step_request`) are both made from. No imports:
the CLI's ``--help`` builds this parser on every run."""


class StepOption:
    """One option: ``flag`` as CMake writes it, the request field ``dest``, its ``kind``
    ("path", "int", "text" or "flag"). A plain class: a NamedTuple costs ~2 ms of every start-up
    (the CLI's --help builds this parser too)."""

    __slots__ = ("flag", "dest", "kind", "metavar", "help", "required")

    def __init__(self, flag: str, dest: str, kind: str, metavar: str, help: str,
                 required: bool = False) -> None:
        self.flag, self.dest, self.kind = flag, dest, kind
        self.metavar, self.help, self.required = metavar, help, required


OPTIONS = (
    StepOption("--dotconfig", "dotconfig", "path", "FILE", "the build's zephyr/.config", True),
    StepOption("--out-dir", "out_dir", "path", "DIR",
               "where factory_data.* go (and the kept identity)", True),
    StepOption("--partitions", "partitions", "path", "FILE",
               "Partition Manager's partitions.yml (first source)"),
    StepOption("--pm-static", "pm_static", "path", "FILE",
               "the application's pm_static.yml (second source)"),
    StepOption("--dt-address", "dt_address", "int", "N",
               "address of the devicetree node factory_data_partition"),
    StepOption("--dt-size", "dt_size", "int", "N", "its size"),
    StepOption("--edt-pickle", "edt_pickle", "path", "FILE",
               "the build's zephyr/edt.pickle (devicetree partitions)"),
    StepOption("--zephyr-base", "zephyr_base", "path", "DIR",
               "ZEPHYR_BASE, whose python-devicetree reads the pickle"),
    StepOption("--firmware-hex", "firmware_hex", "path", "FILE", "the firmware zephyr.hex"),
    StepOption("--merged-hex", "merged_hex", "path", "FILE",
               "write the firmware plus the factory data here"),
    StepOption("--dac-cert", "dac_cert", "path", "FILE",
               "expanded CONFIG_CHIP_FACTORY_DATA_USER_CERTS_DAC_CERT"),
    StepOption("--dac-key", "dac_key", "path", "FILE",
               "expanded CONFIG_CHIP_FACTORY_DATA_USER_CERTS_DAC_KEY"),
    StepOption("--pai-cert", "pai_cert", "path", "FILE",
               "expanded CONFIG_CHIP_FACTORY_DATA_USER_CERTS_PAI_CERT"),
    StepOption("--profile", "profile", "text", "NAME",
               "development or production (CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION=y)"),
    StepOption("--check-only", "check_only", "flag", "",
               "check the values and the layout, write nothing (configure time)"),
)
BY_FLAG = {o.flag: o for o in OPTIONS}


def parse_argv(argv, to_int) -> tuple:
    """``(values, None)``, or ``(values so far, the first problem)`` in argparse's words:
    ``--opt VALUE`` / ``--opt=VALUE`` pairs and flags of the table above. ``to_int(text)``
    returns ``(value, problem)``. Shared by the lean CLI entry and the recorded-step reader."""
    values: dict = {}
    unknown: list = []
    items = iter(argv)
    for item in items:
        item = str(item)
        flag, has_value, inline = item.partition("=")
        option = BY_FLAG.get(flag) if item.startswith("--") else None
        if option is None:
            unknown.append(item)
            continue
        if option.dest in values:
            return values, f"argument {flag}: given twice"
        if option.kind == "flag":
            if has_value:
                return values, f"argument {flag}: ignored explicit argument {inline!r}"
            values[option.dest] = True
            continue
        text = inline if has_value else next(items, None)
        if text is None or (not has_value and text.startswith("--")):
            return values, f"argument {flag}: expected one argument"
        if option.kind == "int":
            value, problem = to_int(text)
            if problem:
                return values, f"argument {flag}: {problem}"
            values[option.dest] = value
        else:
            values[option.dest] = text
    if unknown:
        return values, f"unrecognized arguments: {' '.join(unknown)}"
    missing = [o.flag for o in OPTIONS if o.required and o.dest not in values]
    if missing:
        return values, f"the following arguments are required: {', '.join(missing)}"
    return values, None
