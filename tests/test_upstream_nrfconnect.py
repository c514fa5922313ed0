"""connectedhomeip's own nrfconnect tests, run against our compatibility shims (opt-in).

Set MFD_CHIP_NRFCONNECT_TESTS to the ``scripts/tools/nrfconnect`` directory of a
connectedhomeip checkout (it holds ``tests/`` and ``nrfconnect_factory_data.schema``). The
test builds a temporary tree with that schema and those tests next to our shims
(tools/nrfconnect/ of this repository) and runs them, as their CI does, with ``python3``
on PATH being this interpreter. Nothing of connectedhomeip is part of this repository.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = os.environ.get("MFD_CHIP_NRFCONNECT_TESTS")


@pytest.mark.skipif(not UPSTREAM, reason="set MFD_CHIP_NRFCONNECT_TESTS to a connectedhomeip "
                                         "scripts/tools/nrfconnect directory")
def test_upstream_nrfconnect_tests_pass_through_the_shims(tmp_path):
    upstream = Path(UPSTREAM)
    tools = tmp_path / "scripts" / "tools" / "nrfconnect"
    shutil.copytree(REPO / "tools" / "nrfconnect", tools)
    shutil.copy(upstream / "nrfconnect_factory_data.schema", tools)
    shutil.copytree(upstream / "tests", tools / "tests")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"  # this interpreter (a symlink would lose a virtualenv)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tools / "tests")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
