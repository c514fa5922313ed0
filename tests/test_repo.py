"""The repository keeps its own promises: CI runs exactly the README's test command, and the
linters it runs are configured in pyproject.toml."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10
    tomllib = None

REPO = Path(__file__).resolve().parents[1]


def ci_command() -> str:
    lines = [line for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
             if line.startswith("python3 -m venv")]
    assert len(lines) == 1, lines
    return lines[0]


def test_ci_runs_the_readme_test_command_with_ruff_and_mypy():
    command = ci_command()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"    {command}\n" in readme  # an indented code line of the README
    steps = [step.strip() for step in command.split("&&")]
    assert steps[-3:] == ["ruff check .", "mypy", "python -m pytest"]
    assert "pip install -e '.[test]'" in steps


def test_linters_are_configured_and_installed_by_the_test_extra():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    if tomllib is None:
        assert "[tool.ruff.lint]" in text and "[tool.mypy]" in text
        return
    config = tomllib.loads(text)
    selected = set(config["tool"]["ruff"]["lint"]["select"])
    assert {"E", "F", "W", "B", "UP", "SIM", "I"} <= selected
    assert config["tool"]["mypy"]["files"] == ["west_ext/matter_factory_data"]
    extra = " ".join(config["project"]["optional-dependencies"]["test"])
    assert re.search(r"\bruff\b", extra) and re.search(r"\bmypy\b", extra)
