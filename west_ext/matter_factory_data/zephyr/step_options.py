"""The build step's options, as CMake writes them: the one table the CLI's ``build-step``
parser and the recorded-step reader (:mod:`.step_request`) are both made from. No imports:
the CLI's ``--help`` builds this parser on every run."""


class StepOption:
    """One option: ``flag`` as CMake writes it, the request field ``dest``, its ``kind``
    ("path", "int" or "flag"). A plain class: a NamedTuple costs ~2 ms of every start-up
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
    StepOption("--check-only", "check_only", "flag", "",
               "check the values and the layout, write nothing (configure time)"),
)
BY_FLAG = {o.flag: o for o in OPTIONS}
