"""A real SoftHSM2 token for tests, made in a temporary directory (SOFTHSM2_CONF).

Without softhsm2 installed the tests that need it are skipped, unless CI is set: then they
fail (``.ci/deps.sh`` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so",
                     "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                     "/usr/local/lib/softhsm/libsofthsm2.so")
PIN, SO_PIN = "1234", "5678"


def module_path() -> str | None:
    return next((p for p in MODULE_CANDIDATES if os.path.isfile(p)), None)


def require_softhsm() -> str:
    module = module_path()
    missing = []
    if module is None or shutil.which("softhsm2-util") is None:
        missing.append("softhsm2 (apt-get install softhsm2)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        missing.append("python-pkcs11")
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set but {', '.join(missing)} is missing: run .ci/deps.sh")
        pytest.skip(f"{', '.join(missing)} not installed")
    return module


class Token:
    """A SoftHSM2 token in ``directory``; ``env`` selects it (set it before the module loads)."""

    def __init__(self, directory: Path, label: str = "pai-test") -> None:
        self.module = require_softhsm()
        self.directory, self.label = directory, label
        (directory / "tokens").mkdir(parents=True, exist_ok=True)
        self.conf = directory / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {directory / 'tokens'}\n"
                             "objectstore.backend = file\nlog.level = ERROR\n")
        self.env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        self.pin_file = directory / "pin"
        self.pin_file.write_text(PIN + "\n")
        self.util("--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SO_PIN)

    def util(self, *args: str) -> str:
        done = subprocess.run(["softhsm2-util", *args], env=self.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def import_key(self, key, label: str, key_id: str = "01") -> None:
        """softhsm2-util imports PKCS#8 only."""
        path = self.directory / f"{label}.p8.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        self.util("--import", str(path), "--token", self.label, "--label", label, "--id",
                  key_id, "--pin", PIN)
        path.unlink()

    def uri(self, obj: str, *, module: bool = True, pin: bool = True) -> str:
        query = []
        if module:
            query.append(f"module-path={self.module}")
        if pin:
            query.append(f"pin-source=file:{self.pin_file}")
        return f"pkcs11:token={self.label};object={obj}" + ("?" + "&".join(query)
                                                            if query else "")
