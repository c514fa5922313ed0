"""What a single ``generate`` loads (issue #17: start-up against the reference generator).

Each module named here cost measurable time on every run and is not needed to make a
device's factory data; the benchmark is bench/bench_generate.py --reference. The run is a
fresh interpreter, as a user's, so nothing imported by the test session counts.
"""

import json
import subprocess
import sys

from conftest import golden_args

NOT_ON_THE_GENERATE_PATH = [
    # argparse's help formatter asks shutil for the terminal width (with bz2, lzma)
    "shutil",
    # ec.ECDSA() imports the whole OpenSSL backend module only to ask about deterministic
    # signing; verifying a signature never needs it
    "cryptography.hazmat.backends.openssl.backend",
    # the production rules on test material, reported by no rule under development
    "matter_factory_data.core.attest",
    "dataclasses",
    # pathlib imports urllib.parse and ipaddress (~5 % of a run): the output set spells
    # paths as pathlib does without it (files/outputs.path_text)
    "pathlib",
    # other commands' modules
    "matter_factory_data.cli.commands.batch",
    "matter_factory_data.cli.commands.provision",
]

PROBE = """
import json, sys
from matter_factory_data.cli.app import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)
"""


def loaded_by(argv: list) -> tuple[int, set]:
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, argv)],
                          capture_output=True, text=True, check=False)
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return code, set(modules)


def test_generate_loads_nothing_it_does_not_need(golden, tmp_path):
    args = golden_args(golden, tmp_path / "fd")
    args[args.index("2022-02-02")] = "2022-03-01"  # the golden DAC is valid then: no warning
    code, modules = loaded_by(["generate", *args, "--generate_onboarding"])
    assert code == 0
    assert (tmp_path / "fd.png").is_file()
    assert modules & set(NOT_ON_THE_GENERATE_PATH) == set()
    # the probe can tell: what generate does need is there
    assert "matter_factory_data.jobs.pipeline" in modules
    assert "cryptography.hazmat.primitives.asymmetric.ec" in modules


def test_the_production_profile_still_runs_the_test_material_rules(golden, tmp_path):
    """The short cut is only for profiles that report none of those rules."""
    args = golden_args(golden, tmp_path / "fd")
    args[args.index("2022-02-02")] = "2022-03-01"
    code, modules = loaded_by(["generate", *args, "--profile", "production"])
    assert code != 0  # test vendor ID 0xFFF1, the development PAA's chain
    assert "matter_factory_data.core.attest" in modules
    assert not (tmp_path / "fd.json").exists()


GC_PROBE = """
import gc, sys
from matter_factory_data.cli import boundary, main
seen = []
guarded = boundary.guarded
def probe(*args, **kwargs):
    seen.append(gc.isenabled())  # while the command runs
    return guarded(*args, **kwargs)
boundary.guarded = probe
code = main(sys.argv[1:])
print(code, seen[-1], gc.isenabled(), file=sys.stderr)
"""


def collector_states(argv: list) -> tuple[int, bool, bool]:
    """(exit code, GC on while the command ran, GC on after main() returned)."""
    done = subprocess.run([sys.executable, "-c", GC_PROBE, *map(str, argv)],
                          capture_output=True, text=True, check=False)
    code, during, after = done.stderr.strip().splitlines()[-1].split()
    return int(code), during == "True", after == "True"


def test_the_cycle_collector_is_off_only_for_one_shot_commands(golden, tmp_path):
    """The console script pauses Python's cyclic GC for start-up; generate keeps it off to
    the end, every other command (batch, provision, verify DIR: long runs) turns it back on;
    a caller running main() in its own process gets its collector back when main returns."""
    args = golden_args(golden, tmp_path / "fd")
    assert collector_states(["generate", *args]) == (0, False, True)
    codes = ["codes", "--vendor_id", "0xFFF1", "--product_id", "0x8006",
             "--discriminator", "0xF00", "--passcode", "20202021"]
    assert collector_states(codes) == (0, True, True)


def test_path_text_spells_paths_as_pathlib_does():
    """files/outputs.path_text and parent_text stand in for str(Path(p)) and
    str(Path(p).parent) so that generate need not import pathlib: same text for every
    spelling of separators, '.', '..', roots and trailing slashes (random and listed)."""
    import os
    import random
    from pathlib import Path

    from matter_factory_data.files.outputs import parent_text, path_text

    cases = ["", ".", "..", "/", "//", "///", "////a", "a", "a/", "a//b", "./a", "a/./b/.",
             "a/../b", "/a/b/", "//a/b", "///a//b/", "../x.json", "out/fd", "fd.json/",
             "./", "/./a", "a/b/..", "é/ü.hex"]
    rng = random.Random(17)
    atoms = ["a", "bc", ".", "..", "", "x.json", " s", "-"]
    cases += ["/".join(rng.choice(atoms) for _ in range(rng.randint(1, 6))) for _ in range(2000)]
    for case in cases:
        assert path_text(case) == str(Path(case)), case
        assert parent_text(path_text(case)) == str(Path(case).parent), case
        assert path_text(Path(case)) == str(Path(case)), case
    assert os.name == "posix"  # elsewhere path_text is pathlib itself
