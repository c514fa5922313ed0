"""Shared fixtures: test isolation, the golden vectors in tests/data/golden, and a west
workspace that lists this repository as a project."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO_ROOT / "tests" / "data" / "golden"  # see its README.md


@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    """Each test runs in its own empty cwd with a predictable environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    for var in ("ZEPHYR_BASE", "WEST_CONFIG_LOCAL", "WEST_CONFIG_GLOBAL", "MFD_VERBOSE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def golden() -> Path:
    """Directory of the golden vectors and the development credentials they use."""
    return GOLDEN_DIR


class CliResult:
    """Exit code and captured output of one in-process CLI run."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def cli(capsys):
    """Run ``matter-factory-data ARGS`` in-process, as a user would type it."""
    from matter_factory_data.cli.app import main

    def run(*argv) -> CliResult:
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def golden_args(golden: Path, out_prefix) -> list:
    """The exact arguments that produced shared/golden (see shared/golden/README.md)."""
    return [
        # no extra flag: the golden DAC's notBefore (2022-02-05) is after its manufacturing
        # date (2022-02-02), a warning under the default development profile
        "--sn", "11223344556677889900", "--vendor_id", "65521", "--product_id", "32774",
        "--vendor_name", "Nordic Semiconductor ASA", "--product_name", "not-specified",
        "--date", "2022-02-02", "--hw_ver", "1", "--hw_ver_str", "prerelease",
        "--dac_cert", golden / "Matter-Development-DAC-FFF1-8006-Cert.der",
        "--dac_key", golden / "Matter-Development-DAC-FFF1-8006-Key.der",
        "--pai_cert", golden / "Matter-Development-PAI-FFF1-noPID-Cert.der",
        "--spake2_it", "1000", "--spake2_salt", "U1BBS0UyUCBLZXkgU2FsdA==",
        "--discriminator", "0xF00", "--passcode", "20202021",
        "--out", out_prefix, "--offset", "0xf7000", "--size", "0x1000",
    ]


def snapshot(directory: Path) -> dict:
    """Every entry below ``directory`` -- files with their bytes, symbolic links with their
    target, directories, FIFOs -- and its mode (lstat), to prove nothing changed."""
    if not os.path.lexists(directory):
        return {}
    found = {}
    for path in sorted(Path(directory).rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content = ("link", os.readlink(path))
        elif path.is_file():
            content = path.read_bytes()
        else:
            content = None  # a directory, a FIFO
        found[str(path.relative_to(directory))] = (content, info.st_mode)
    return found


WEST_MANIFEST = """\
manifest:
  projects:
    - name: matter-factory-data
      path: modules/matter-factory-data
      url: https://example.invalid/matter-factory-data
      west-commands: west_ext/west-commands.yml
  self:
    path: app
"""


@pytest.fixture
def west_workspace(tmp_path, monkeypatch):
    """A west workspace whose manifest lists this repository as a project (the cwd)."""
    top = tmp_path / "ws"
    (top / ".west").mkdir(parents=True)
    (top / ".west" / "config").write_text("[manifest]\npath = app\nfile = west.yml\n")
    (top / "app").mkdir()
    (top / "app" / "west.yml").write_text(WEST_MANIFEST)
    (top / "modules").mkdir()
    os.symlink(REPO_ROOT, top / "modules" / "matter-factory-data")
    monkeypatch.chdir(top)
    monkeypatch.setenv("WEST_CONFIG_GLOBAL", str(tmp_path / "no-global-config"))
    return top


@pytest.fixture
def west(capsys):
    """Run ``west ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from west.app.main import main as west_main

    def run(*argv):
        try:
            west_main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def scratch():
    """A new directory for big outputs (batches): below $MFD_TEST_SCRATCH when set, since
    creating files in /tmp is slow on some machines."""
    import shutil
    import tempfile

    base = os.environ.get("MFD_TEST_SCRATCH") or None
    if base:
        os.makedirs(base, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="mfd-batch-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server for the session (tests/pgserver.py); skipped only when
    PostgreSQL is not installed outside CI (in CI, CI=true, its absence fails)."""
    import pgserver

    bindir = pgserver.binaries()
    if bindir is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed; .ci/deps.sh installs it")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    server = pgserver.PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_ledger(postgres, request):
    """The URL of a fresh database of the session's PostgreSQL server."""
    import re

    name = "t_" + re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:50]
    return postgres.create_database(name)
