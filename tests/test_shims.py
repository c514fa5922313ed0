"""connectedhomeip's script names (tools/nrfconnect/) run as a user replacing the reference
scripts runs them: through the plain shims, with the reference's argv unchanged. The shims
add no profile option, so a chain the reference accepts -- connectedhomeip's nrfconnect
tests use a PAI with pathLen 1 -- is accepted with a warning naming the rule."""

import subprocess
import sys
from pathlib import Path

from test_attestation_profile import generate_args, write_chain

SHIMS = Path(__file__).resolve().parents[1] / "tools" / "nrfconnect"


def shim(name, *argv):
    return subprocess.run([sys.executable, str(SHIMS / name), *map(str, argv)],
                          capture_output=True, text=True, timeout=120)


def test_a_pai_with_path_length_1_goes_through_the_plain_shims(tmp_path):
    pki = write_chain(tmp_path / "pki", pai_path_length=1)
    out = tmp_path / "out"
    out.mkdir()
    argv = [a for a in generate_args(pki, out)[1:]]
    made = shim("generate_nrfconnect_chip_factory_data.py", *argv)
    assert made.returncode == 0, made.stderr
    assert "warning: --pai_cert" in made.stderr and "rule 'pai-ca-pathlen-0'" in made.stderr
    # the development profile's own words: the shim did not spell --allow_nonconformant_certs
    assert "accepted by the development profile (--profile=production refuses it)" \
        in made.stderr
    assert "--allow_nonconformant_certs" not in made.stderr
    assert (out / "fd.bin").is_file() and (out / "fd.json").is_file()

    parted = shim("nrfconnect_generate_partition.py", "-i", out / "fd.json", "-o",
                  tmp_path / "p", "--offset", "0xf7000", "--size", "0x1000")
    assert parted.returncode == 0, parted.stderr
    assert "rule 'pai-ca-pathlen-0'" in parted.stderr
    assert (tmp_path / "p.bin").read_bytes() == (out / "fd.bin").read_bytes()


def test_the_shims_pass_the_profile_through(tmp_path):
    pki = write_chain(tmp_path / "pki", pai_path_length=1)
    out = tmp_path / "out"
    out.mkdir()
    refused = shim("generate_nrfconnect_chip_factory_data.py",
                   *generate_args(pki, out)[1:], "--profile", "production")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --pai_cert ") and "contradict" not in refused.stderr
    assert "refused by --profile=production" in refused.stderr
    assert not any(out.iterdir())


def test_the_partition_shim_adds_no_option_either(tmp_path):
    """The reference's argv reaches partition unchanged: no hidden --overwrite, so an
    existing output is kept exactly as the command itself keeps it."""
    pki = write_chain(tmp_path / "pki", pai_path_length=0)
    out = tmp_path / "out"
    out.mkdir()
    assert shim("generate_nrfconnect_chip_factory_data.py",
                *generate_args(pki, out)[1:]).returncode == 0
    (tmp_path / "p.bin").write_bytes(b"kept")
    argv = ["-i", out / "fd.json", "-o", tmp_path / "p", "--offset", "0xf7000",
            "--size", "0x1000"]
    kept = shim("nrfconnect_generate_partition.py", *argv)
    assert kept.returncode != 0 and "--overwrite" in kept.stderr
    assert (tmp_path / "p.bin").read_bytes() == b"kept"
    replaced = shim("nrfconnect_generate_partition.py", *argv, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert (tmp_path / "p.bin").read_bytes() == (out / "fd.bin").read_bytes()
