"""Shared fixtures: test isolation and the reference material in ../shared/golden."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO_ROOT.parent / "shared" / "golden"


@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    """Each test runs in its own empty cwd with a predictable environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    for var in ("ZEPHYR_BASE", "WEST_CONFIG_LOCAL", "WEST_CONFIG_GLOBAL", "MFD_VERBOSE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def golden() -> Path:
    """Directory of the golden vectors (next to the repository, in shared/golden)."""
    if not GOLDEN_DIR.is_dir():
        pytest.fail(f"golden vectors not found at {GOLDEN_DIR}: shared/ must sit next to the repo")
    return GOLDEN_DIR
